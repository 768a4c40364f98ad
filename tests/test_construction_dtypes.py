"""The constructions' token builders return every tensor in the dtype they are asked for, the half dtypes included:
a tensor built in the default dtype and stacked with the others would be promoted silently (float16 with float32
gives float32), so a builder that forgets ``dtype`` on one tensor changes the dtype of what the layers compute in.
Values are checked too: the same tokens in float64 and in each dtype agree to that dtype's round-off."""

import pytest
import torch

from impl.deltaformer import constructions as c

BUILDERS = {
    "parity_tokens": lambda dt: c.parity_tokens([1, 0, 1], dtype=dt),
    "parity_exp_tokens": lambda dt: c.parity_exp_tokens([1, 0, 1], scale=0.5, dtype=dt),
    "permutation_tokens": lambda dt: c.permutation_tokens(3, [(0, 1), (1, 2)], dtype=dt),
    "swap_key": lambda dt: (c.swap_key(3, 0, 2, dtype=dt),),
    "swap_keys": lambda dt: c.swap_keys(4, 0, 1, 2, dtype=dt),
    "constant_input": lambda dt: c.constant_input(3, 2, 0.5, dtype=dt),
    "reachability_tokens": lambda dt: c.reachability_tokens([(0, 1), (1, 2)], [(0, 2)], 3, dtype=dt),
}
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", BUILDERS)
def test_every_tensor_has_the_requested_dtype(name, dtype):
    got, ref = BUILDERS[name](dtype), BUILDERS[name](torch.float64)
    assert len(got) == len(ref) >= 1
    for a, b in zip(got, ref):
        assert a.dtype == dtype and a.shape == b.shape
        # every value here is 0, +-1, +-1/sqrt(2), 2 e^{-s} or a Gaussian draw: each rounds once to the dtype
        assert torch.allclose(a.double(), b, rtol=torch.finfo(dtype).eps, atol=0)
