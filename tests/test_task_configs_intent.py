"""The trained experiments' configurations against their stated intent (not against themselves): evaluation reaches
beyond the training range with odd and even lengths, and the DeltaFormer-exp scales start where the docstring says.
"""

import math

import pytest
import torch

from impl.tasks import models, train


@pytest.mark.parametrize("key", sorted(train.CONFIGS) + [(k, "large") for k in sorted(train.LARGE)], ids=str)
def test_evaluation_lengths_cover_the_stated_range(key):
    cfg = train.CONFIGS[key] if key[1] != "large" else train.LARGE[key[0]]
    lengths = cfg.eval_lengths
    assert list(lengths) == sorted(set(lengths)), "distinct, increasing"
    assert any(L <= cfg.train_max for L in lengths), "inside the training range"
    beyond = [L for L in lengths if L > cfg.train_max]
    assert beyond, "beyond the training range"
    if cfg.task == "swap":
        # swap: odd and even lengths (a parity of the permutation count), and at least 2 x the training length
        assert any(L % 2 for L in lengths) and any(L % 2 == 0 for L in lengths)
        assert max(lengths) >= 2 * cfg.train_max
        if key == ("swap", False):
            assert max(lengths) == 4 * cfg.train_max  # "up to 4 x train_max" (SWAP_EVAL's comment)
    else:
        # DAG: 2 x the training hops is the most the label budget allows at this size (DAG_EVAL's comment)
        assert max(lengths) >= 2 * cfg.train_max


def test_swap_and_dag_cpu_configs_are_the_pre_registered_ones():
    """The numbers the README's pre-registration states (checked here, not read from the config)."""
    swap, dag = train.CONFIGS[("swap", False)], train.CONFIGS[("dag", False)]
    assert (swap.size, swap.train_max, swap.eval_lengths) == (5, 8, (3, 4, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32))
    assert (dag.size, dag.train_max, dag.eval_lengths, dag.aux) == (15, 2, (1, 2, 3, 4), True)


@pytest.mark.parametrize("d, heads", [(64, 4), (32, 2), (48, 3)])
def test_deltaformer_exp_scales_start_at_sqrt_head_width(d, heads):
    m = models.Mixer("deltaformer_exp", d, heads)
    s1, s2 = m.scales()
    want = math.sqrt(d // heads)
    assert torch.allclose(s1, torch.full((heads,), want, dtype=s1.dtype), rtol=1e-6, atol=0)
    assert torch.allclose(s2, torch.full((heads,), want, dtype=s2.dtype), rtol=1e-6, atol=0)
    assert models.S_MAX == 20.0 and math.exp(models.S_MAX) < torch.finfo(torch.float32).max


@pytest.mark.parametrize("task", train.TASKS)
def test_the_default_config_is_the_full_one_and_quick_and_large_are_asked_for(task):
    """get_config(task) without flags is the full CPU experiment (the one the report's D4/D5 runs start from), not the
    small CI setting and not the GPU setting; the quick one trains for fewer steps on a smaller task."""
    full, quick, large = train.get_config(task), train.get_config(task, quick=True), train.get_config(task, large=True)
    assert full is train.CONFIGS[(task, False)] and quick is train.CONFIGS[(task, True)] and large is train.LARGE[task]
    assert quick.steps < full.steps and quick.size <= full.size and quick.train_max <= full.train_max
    assert large.d > full.d and large.steps > full.steps
    with pytest.raises(train.InputError, match=r"^task: must be one of swap, dag, got 'copy'$"):
        train.get_config("copy")
