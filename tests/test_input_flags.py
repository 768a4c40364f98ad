"""Bad input names the parameter that is wrong: ``InputError.parameter`` is checked exactly, not by matching the
message (a message such as "needs d_k > 2, d_v > 2 and 1 - 2b > 0 with b = 2 beta^2 - 2 beta" contains every
name, so ``match="d_k"`` passes whichever parameter the error blames). Each case is one parameter just outside the
range its function documents, the others valid."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from impl.deltaformer.constructions import constant_input, parity_exp_tokens, permutation_tokens, swap_key
from impl.estimators import kernel_moments as km
from impl.estimators.multihead import multihead_recall
from impl.estimators.recall_measured import delta_noise_to_signal, measure_recall
from impl.estimators.recall_prediction import predicted_recall_from_s2, win_probability
from impl.estimators.snr import estimate_snr
from impl.estimators.snr_linear import decoding_accuracy
from impl.estimators.snr_performer import performer_memory_noise
from impl.memories import solu
from impl.memories.ffn import FFNMemory
from impl.memories.kernel import SphereMemory, kernel_memory
from impl.memories.kernels import check_kernel_params
from impl.memories.linear import LinearMemory
from impl.numerics.errors import InputError
from impl.rules.experiments import delta_stream_time_average, stream
from impl.tasks.construction import ReachModel, SwapModel
from impl.tasks.models import Mixer, build_model
from impl.tasks.swap import swap_batch, swap_pairs
from impl.tasks.train import _check_schedule, get_config, train_and_evaluate

SWAP = get_config("swap", quick=True)


def _train(**change):
    """A training run whose schedule has one bad field: refused before the first step."""
    return train_and_evaluate(replace(SWAP, **change), "transformer", 0)

RNG = np.random.default_rng(0)
STREAM = dict(d_k=2, d_v=1, b=0.1, sigma=0.1, burn=0, window=3, trials=2, seed=0)
RUN = dict(d_k=2, d_v=1, T=3, trials=2, sigma=0.1, seed=0)

CASES = [
    # delta_noise_to_signal: R_p needs another pair besides p (n_pairs >= 2), a key dimension, two trials
    ("recall n_pairs = 1", lambda: delta_noise_to_signal(1, 4, 10, 0), "n_pairs"),
    ("recall d_k = 0", lambda: delta_noise_to_signal(4, 0, 10, 0), "d_k"),
    ("recall trials = 1", lambda: delta_noise_to_signal(4, 4, 1, 0), "trials"),
    # constant_input: T >= 1 tokens of dimension d >= 1
    ("constant_input T = 0", lambda: constant_input(0, 3, 1.0), "T"),
    ("constant_input d = 0", lambda: constant_input(4, 0, 1.0), "d"),
    ("constant_input d = 2.5", lambda: constant_input(4, 2.5, 1.0), "d"),
    # SoLU probe-averaged SNR^-1: finite iff d_k > 2, d_v > 2 and 1 - 4 beta^2 + 4 beta > 0 (beta < (1 + sqrt 2)/2)
    ("solu probe_averaged d_k = 2", lambda: solu.theory("probe_averaged", 8, 2, 8, 0.1), "d_k"),
    ("solu probe_averaged d_v = 2", lambda: solu.theory("probe_averaged", 8, 8, 2, 0.1), "d_v"),
    ("solu probe_averaged beta = 1.3", lambda: solu.theory("probe_averaged", 8, 8, 8, 1.3), "beta"),
    # ratio of expectations: undefined (inf / inf) from beta = 1/2
    ("solu ratio beta = 0.5", lambda: solu.theory("ratio_of_expectations", 8, 8, 8, 0.5), "beta"),
    # the SNR interface: a memory of one pair has no noise (kernel memories need N >= 2; the linear memory's
    # N = 1 is exact), two trials for an interval; the sphere memory needs d_k >= 2 for a direction to vary
    ("snr linear n_pairs = 0", lambda: estimate_snr(LinearMemory(), 0, 4, 4, 10, 0), "n_pairs"),
    ("snr kernel n_pairs = 1", lambda: estimate_snr(kernel_memory("exp", tau=8.0), 1, 4, 4, 10, 0), "n_pairs"),
    ("snr trials = 1", lambda: estimate_snr(LinearMemory(), 4, 4, 4, 1, 0), "trials"),
    ("snr sphere d_k = 1", lambda: estimate_snr(SphereMemory(2.0), 4, 1, 4, 10, 0), "d_k"),
    ("decoding trials = 1", lambda: decoding_accuracy(4, 4, 4, 1, 0), "trials"),
    ("performer trials = 1", lambda: performer_memory_noise(np.ones(4), 2, "positive", 8.0, 1, 0), "trials"),
    ("performer m = 0", lambda: performer_memory_noise(np.ones(4), 0, "positive", 8.0, 10, 0), "m"),
    # recall: nearest-value decoding needs another stored value (N >= 2) and d_v >= 2 (a chi-square law with d_v dof)
    ("recall measured n_pairs = 1", lambda: measure_recall("linear", 1, 4, 4, 10, 0), "n_pairs"),
    ("recall measured d_v = 1", lambda: measure_recall("linear", 4, 4, 1, 10, 0), "d_v"),
    ("win probability n_pairs = 1", lambda: win_probability(1.0, 1, 4), "n_pairs"),
    ("win probability d_v = 1", lambda: win_probability(1.0, 4, 1), "d_v"),
    ("predicted recall n_pairs = 1", lambda: predicted_recall_from_s2([1.0], 1, 4), "n_pairs"),
    # the S2 values a prediction averages over: at least one, each finite and >= 0
    ("predicted recall s2 < 0", lambda: predicted_recall_from_s2([1.0, -1.0], 4, 4), "s2"),
    ("predicted recall s2 = nan", lambda: predicted_recall_from_s2([1.0, float("nan")], 4, 4), "s2"),
    ("predicted recall s2 = -inf", lambda: predicted_recall_from_s2([-math.inf], 4, 4), "s2"),
    ("predicted recall no s2", lambda: predicted_recall_from_s2([], 4, 4), "s2"),
    ("multihead recall trials = 0", lambda: multihead_recall(4, 8, 8, (1, 2), 0, 0), "trials"),
    ("kernel params unknown kernel", lambda: check_kernel_params("laplace"), "kernel"),
    ("multihead recall n_pairs = 1", lambda: multihead_recall(1, 8, 8, (1, 2), 10, 0), "n_pairs"),
    # the swap task and its construction: at least two slots; a sequence of L >= 1 tokens; batch >= 1
    ("swap pairs n = 1", lambda: swap_pairs(1), "n"),
    ("swap batch n = 1", lambda: swap_batch(1, 4, 2, RNG), "n"),
    ("swap batch L = 0", lambda: swap_batch(3, 0, 2, RNG), "L"),
    ("swap batch batch = 0", lambda: swap_batch(3, 4, 0, RNG), "batch"),
    ("swap key n = 1", lambda: swap_key(1, 0, 0), "n"),
    ("permutation tokens n = 1", lambda: permutation_tokens(1, []), "n"),
    # the exponential parity construction: |scale| <= 30, so that exp(scale) cannot overflow
    ("parity exp scale = 30.5", lambda: parity_exp_tokens([1, 0], scale=30.5), "scale"),
    ("parity exp scale = -30.5", lambda: parity_exp_tokens([1, 0], scale=-30.5), "scale"),
    # the trained tasks' models: an unknown architecture, through the builder and the mixer alike
    ("build_model unknown", lambda: build_model("mamba", 10, 2, d=8, depth=1, heads=1), "model"),
    ("mixer unknown", lambda: Mixer("mamba", 8, 1), "model"),
    ("mixer heads do not divide d", lambda: Mixer("deltanet", 8, 3), "heads"),
    ("rope odd head width", lambda: Mixer("deltaformer", 6, 2)(torch.zeros(1, 4, 6)), "heads"),
    # the FFN memory's slot sharpness beta: a finite number > 0 (or None for the default)
    ("ffn beta = 0", lambda: FFNMemory("solu", beta=0.0), "beta"),
    ("ffn beta = inf", lambda: FFNMemory("solu", beta=math.inf), "beta"),
    ("ffn beta = True", lambda: FFNMemory("solu", beta=True), "beta"),
    # the construction-initialised controls read token ids of their task's shape: DAG [B, T, 3], swap [B, T]
    ("reach model tokens [B, T]", lambda: ReachModel(4, 6)(torch.zeros(2, 5, dtype=torch.long)), "tokens"),
    ("swap model tokens [B, T, 3]", lambda: SwapModel(3)(torch.zeros(2, 5, 3, dtype=torch.long)), "tokens"),
    ("reach model out_dim = 3", lambda: ReachModel(4, 3), "out_dim"),
    # the kernel moments: an unknown kernel or convention, and the divergent moments, are named
    ("moments unknown kernel", lambda: km.log_m2("laplace", 1.0, 4), "kernel"),
    ("moments unknown convention", lambda: km.log_snr_inv("linear", "median", 8, 4, 4), "convention"),
    ("relvar unknown convention", lambda: km.plain_relvar("exp", "median", 8, 4, 8, tau=8.0), "convention"),
    ("relvar light unknown convention", lambda: km.plain_relvar("relu", "median", 8, 4, 8), "convention"),
    ("moments exp diverges", lambda: km.log_snr_inv("exp", "ratio_of_expectations", 8, 4, 4, tau=2.0), "tau"),
    ("moments poly diverges", lambda: km.log_snr_inv("poly", "probe_averaged", 8, 4, 8, p=2), "p"),
    ("moments linear d_k diverges", lambda: km.log_snr_inv("linear", "probe_averaged", 8, 2, 8), "d_k"),
    ("moments linear d_v diverges", lambda: km.log_snr_inv("linear", "probe_averaged", 8, 8, 2), "d_v"),
    # a training schedule: lr finite and >= 0; fit_stop in (0, 1] or None; steps, check_every, val_samples integers
    # >= 1; warmup an integer >= 0
    ("train lr = -0.1", lambda: _train(lr=-0.1), "lr"),
    ("train lr = nan", lambda: _train(lr=float("nan")), "lr"),
    ("train fit_stop = 0", lambda: _train(fit_stop=0.0), "fit_stop"),
    ("train fit_stop = 1.5", lambda: _train(fit_stop=1.5), "fit_stop"),
    ("train steps = 0", lambda: _train(steps=0), "steps"),
    ("train steps = 2.0", lambda: _train(steps=2.0), "steps"),
    ("train check_every = 0", lambda: _train(check_every=0), "check_every"),
    ("train val_samples = 0", lambda: _train(val_samples=0), "val_samples"),
    ("train warmup = -1", lambda: _train(warmup=-1), "warmup"),
    ("train seed = -1", lambda: train_and_evaluate(SWAP, "transformer", -1), "seed"),
    ("train model unknown", lambda: train_and_evaluate(SWAP, "mamba", 0), "model"),
    # the SNR interface: a sampler the memory does not offer (a user memory is estimated by auto or analytic only),
    # and a two-sided level outside (0, 1/2)
    ("snr sampler not offered", lambda: estimate_snr(_user_memory(), 4, 4, 4, 10, 0, sampler="importance"), "mode"),
    ("snr sampler unknown", lambda: estimate_snr(LinearMemory(), 4, 4, 4, 10, 0, sampler="gibbs"), "mode"),
    ("snr alpha = 0.5", lambda: estimate_snr(LinearMemory(), 4, 4, 4, 10, 0, alpha=0.5), "alpha"),
    ("snr alpha = 1.2", lambda: estimate_snr(LinearMemory(), 4, 4, 4, 10, 0, alpha=1.2), "alpha"),
    ("snr alpha = 0", lambda: estimate_snr(LinearMemory(), 4, 4, 4, 10, 0, alpha=0.0), "alpha"),
    # the delta rule's stream: burn-in may be 0 but not negative
    ("stream burn = -1", lambda: delta_stream_time_average(**dict(STREAM, burn=-1)), "burn"),
    *[(f"stream average {f} = 0", (lambda f=f: delta_stream_time_average(**dict(STREAM, **{f: 0}))), f)
      for f in ("d_k", "d_v", "trials")],
    *[(f"stream {f} = 0", (lambda f=f: stream("deltanet", **dict(RUN, **{f: 0}))), f) for f in ("d_k", "d_v", "T", "trials")],
    ("stream memory unknown", lambda: stream("lms", **RUN), "memory"),
    ("stream window = 0", lambda: delta_stream_time_average(**dict(STREAM, window=0)), "window"),
]


def _user_memory():
    from impl.memories.user import FeatureMapMemory

    return FeatureMapMemory("t:square", lambda x: torch.cat([x, x * x], -1), 4)


@pytest.mark.parametrize("call,flag", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_error_names_the_wrong_parameter(call, flag):
    with pytest.raises(InputError) as e:
        call()
    assert e.value.parameter == flag, str(e.value)
    assert str(e.value).startswith(f"{flag}: ") and "\n" not in str(e.value)


def test_the_valid_neighbours_are_accepted():
    """The other side of each boundary: the smallest valid value runs (so the cases above test the boundary, not a
    function that refuses everything)."""
    R, lo, hi = delta_noise_to_signal(2, 2, 2, 0)
    assert R.shape == (2,) and (lo <= R).all() and (R <= hi).all()
    q, k, v, b = constant_input(1, 1, 1.0)
    assert q.shape == (1, 1, 1, 1) and b.shape == (1, 1, 1)
    for d_k, d_v, beta in [(3, 8, 0.1), (8, 3, 0.1), (8, 8, 1.2)]:
        assert math.isfinite(solu.theory("probe_averaged", 8, d_k, d_v, beta))
    assert solu.theory("ratio_of_expectations", 8, 8, 8, 0.49) == 0.0
    assert estimate_snr(LinearMemory(), 1, 4, 4, 2, 0, conventions=("conditional",))["conditional"].estimated
    assert estimate_snr(kernel_memory("exp", tau=8.0), 2, 4, 4, 2, 0, conventions=("conditional",))["conditional"].estimated
    assert estimate_snr(SphereMemory(2.0), 2, 2, 4, 2, 0)["conditional"].estimated
    assert decoding_accuracy(2, 4, 4, 2, 0)[1] == 4  # every key of 2 trials x 2 pairs probed
    assert measure_recall("linear", 2, 4, 2, 2, 0)["trials"] == 2
    assert 0 < win_probability(1.0, 2, 2) < 1
    assert len(swap_pairs(2)) == 1 and swap_batch(2, 1, 1, RNG) is not None
    assert float(swap_key(2, 0, 1) @ swap_key(2, 0, 1)) == pytest.approx(1.0)
    assert permutation_tokens(2, [])[0].shape[-2] == 4
    for s in (30.0, -30.0, 30):
        assert parity_exp_tokens([1, 0], scale=s)[3].shape == (1, 1, 3)
    assert delta_stream_time_average(**STREAM).shape == (2,)
    assert delta_stream_time_average(**dict(STREAM, d_k=1, d_v=1, trials=1, window=1)).shape == (1,)
    for memory in ("rls", "deltanet", "linear", "linear_normalised"):
        assert stream(memory, **dict(RUN, d_k=1, d_v=1, T=1, trials=1))[0].shape[0] == 1
    for ok in [dict(lr=0.0, fit_stop=1.0, steps=1, check_every=1, val_samples=1, warmup=0), dict(fit_stop=None)]:
        assert _check_schedule(replace(SWAP, **ok)) is None
    assert estimate_snr(LinearMemory(), 2, 4, 4, 2, 0, alpha=0.49)["conditional"].estimated
    assert FFNMemory("solu", beta=1e-3) is not None and FFNMemory("solu", beta=None) is not None
    assert Mixer("deltaformer", 8, 2)(torch.zeros(1, 4, 8)).shape == (1, 4, 8)
    assert ReachModel(4, 6)(torch.zeros(2, 5, 3, dtype=torch.long)).shape[:2] == (2, 5)
    assert SwapModel(3)(torch.zeros(2, 5, dtype=torch.long)).shape[:2] == (2, 5)
    assert "importance" not in _user_memory().samplers and "analytic" in _user_memory().samplers


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), [0.0, np.inf], -np.inf, torch.tensor([1.0, float("nan")]),
                                 torch.tensor([[0.0], [-float("inf")]], dtype=torch.float64)])
def test_require_finite_names_its_parameter_for_arrays_lists_scalars_and_tensors(bad):
    """``require_finite`` (every finiteness check of impl/ goes through it) names the parameter it was given, on its
    tensor branch and its NumPy branch alike, and hands finite input back unchanged."""
    from impl.numerics.errors import require_finite

    with pytest.raises(InputError) as e:
        require_finite("sigma", bad)
    assert e.value.parameter == "sigma" and "finite" in str(e.value)
    ok = np.array([1.0, 2.0])
    assert require_finite("sigma", ok) is ok
