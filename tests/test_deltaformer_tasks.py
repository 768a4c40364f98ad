"""D4/D5 task generators, models and the training entry point (small and fast; full training runs are slow)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.deltaformer.constructions import permutation_truth
from impl.numerics.errors import InputError
from impl.tasks import MODELS, TASKS, run_task
from impl.tasks.dag import dag_batch, dag_instance, is_acyclic, shortest_hops
from impl.tasks.models import build_model, parameter_count
from impl.tasks.swap import swap_batch, swap_pairs
from impl.tasks.train import get_config, train_and_evaluate


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), L=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_swap_targets_follow_the_swaps(n, L, seed):
    b = swap_batch(n, L, 3, np.random.default_rng(seed))
    pairs = swap_pairs(n)
    for row in range(3):
        swaps = [pairs[int(t)] for t in b.tokens[row]]
        for t in range(L):
            assert b.targets[row, t].tolist() == permutation_truth(n, swaps[: t + 1])


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 8), extra=st.integers(0, 12), seed=st.integers(0, 2**32 - 1))
def test_dag_instances(k, extra, seed):
    edges, (s, t), reachable = dag_instance(k, 3 * (k + 1) + 2, extra, np.random.default_rng(seed))
    assert is_acyclic(edges)
    hops = shortest_hops(edges, s, t)
    assert hops == k if reachable else hops is None
    assert len(edges) == 3 * k + min(extra, (k + 1) * 2 * (k + 1))


def test_dag_balanced_and_no_degree_leak():
    rng = np.random.default_rng(0)
    pos, indeg = 0, {True: [], False: []}
    for _ in range(2000):
        edges, (s, t), r = dag_instance(3, 12, 3, rng)
        pos += r
        indeg[r].append(sum(1 for x, y in edges if y == t))
    assert 900 < pos < 1100  # Binomial(2000, 1/2): 10 standard deviations
    assert abs(np.mean(indeg[True]) - np.mean(indeg[False])) < 0.1  # the target's in-degree says nothing


def test_dag_tokens():
    b = dag_batch(2, 9, 1, 4, np.random.default_rng(1))
    assert b.tokens.shape == (4, 3 * 2 + 1 + 1, 3) and b.targets.shape == (4, 3 * 2 + 1 + 1)
    assert set(b.targets.flatten().tolist()) <= {0, 1} and b.targets[:, 0].eq(0).all()
    assert (b.targets[:, 1:] >= b.targets[:, :-1]).all()  # reachability only grows as edges arrive
    assert int(b.tokens.max()) < 2 * 9 + 2


def test_bad_task_input():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="n"):
        swap_batch(1, 3, 2, rng)
    with pytest.raises(InputError, match="L"):
        swap_batch(3, 0, 2, rng)
    with pytest.raises(InputError, match="k"):
        dag_instance(0, 10, 0, rng)
    with pytest.raises(InputError, match="n_nodes"):
        dag_instance(3, 11, 0, rng)
    with pytest.raises(InputError, match="query"):
        shortest_hops([(0, 1), (2, 3)], 0, 3, require_path=True)
    assert shortest_hops([(0, 1), (2, 3)], 0, 3) is None
    with pytest.raises(InputError, match="model"):
        run_task("swap", "lstm", quick=True, seed=0, device="cpu", progress=False)
    with pytest.raises(InputError, match="task"):
        run_task("sort", "deltanet", quick=True, seed=0, device="cpu", progress=False)
    with pytest.raises(InputError, match="seed"):
        run_task("swap", "deltanet", quick=True, seed=-1, device="cpu", progress=False)


def test_models_equal_size():
    counts = {m: parameter_count(build_model(m, 10, 25, d=32, depth=2, heads=2)) for m in MODELS}
    # the delta models add the b projection (d + 1) * heads per layer, and nothing else
    assert counts["deltanet"] == counts["deltaformer"] == counts["transformer"] + 2 * (32 + 1) * 2
    x = torch.randint(0, 10, (3, 7))
    for m in MODELS:
        assert build_model(m, 10, 25, d=32, depth=2, heads=2)(x).shape == (3, 7, 25)


@pytest.mark.parametrize("task", TASKS)
def test_training_is_deterministic_and_summarised(task):
    cfg = replace(get_config(task, quick=True), steps=6, eval_samples=20)
    for model in MODELS:
        a = train_and_evaluate(cfg, model, 3)
        b = train_and_evaluate(cfg, model, 3)
        assert a["eval"] == b["eval"] and a["final_loss"] == b["final_loss"]
        assert [e["length"] for e in a["eval"]] == list(cfg.eval_lengths)
        assert all(0 <= e["lo"] <= e["accuracy"] <= e["hi"] <= 1 for e in a["eval"])


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_run_task_quick(task, model):
    out = run_task(task, model, quick=True, seed=0, device="cpu", progress=False)
    assert out["model"] == model and out["parameters"] > 0 and out["curriculum_reached"] >= 1
