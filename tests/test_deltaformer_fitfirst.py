"""Fit-first training, learning-rate selection, the DAG auxiliary target, the construction-initialised control and
the shuffled-list bounds (issue: D4 and D5 designs that decide)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.numerics.errors import InputError
from impl.tasks import train as tr
from impl.tasks.construction import ReachModel, SwapModel, construction_state, swap_construction_state
from impl.tasks.dag import (
    dag_batch,
    dag_instance,
    eulerian,
    one_pass_reachable,
    passes_accuracy,
    passes_reachable,
    shortest_hops,
    successor,
)
from impl.tasks.train import Curriculum, choose_lr, get_config, train_and_evaluate

# ------------------------------------------------------------------------------------------------ learning rate


def test_choose_lr_picks_the_lowest_validation_loss_of_a_toy_grid():
    # a toy loss with its minimum at 3e-3 (distance in log10 lr), the grid given out of order
    grid = (1e-2, 1e-3, 3e-3, 3e-2)
    rows = [{"lr": lr, "val_loss": (math.log10(lr) - math.log10(3e-3)) ** 2} for lr in grid]
    assert choose_lr(rows) == 3e-3
    # a diverged run (loss None or inf) never wins, however its neighbours look
    rows = [{"lr": 1e-3, "val_loss": 0.7}, {"lr": 3e-3, "val_loss": None}, {"lr": 1e-2, "val_loss": float("inf")},
            {"lr": 3e-2, "val_loss": 0.5}]
    assert choose_lr(rows) == 3e-2
    assert choose_lr([{"lr": 1e-3, "val_loss": 0.2}, {"lr": 1e-2, "val_loss": 0.2}]) == 1e-3  # ties: the earlier
    with pytest.raises(InputError, match="lr"):
        choose_lr([{"lr": 1e-3, "val_loss": None}])


def test_selection_on_real_runs_prefers_a_learning_rate_that_learns():
    """lr = 0 cannot lower the validation loss; 1e-2 does on parity (n = 2): the selection must pick 1e-2."""
    cfg = replace(get_config("swap", quick=True), size=2, steps=60, fit_stop=None, eval_lengths=(4,),
                  eval_samples=10)
    rows = [{"lr": lr, "val_loss": train_and_evaluate(replace(cfg, lr=lr), "deltanet", 100)["val_loss"]}
            for lr in (0.0, 1e-2)]
    assert rows[1]["val_loss"] < rows[0]["val_loss"]
    assert choose_lr(rows) == 1e-2


@pytest.mark.parametrize("warmup", [0, 4])
def test_learning_rate_schedule_is_linear_warmup_then_constant(monkeypatch, warmup):
    """The rate each optimiser step uses, read from AdamW itself (not from the schedule's lambda): step i (0-based)
    runs at lr * min(1, (i + 1) / warmup) with a warm-up, and at exactly lr at every step without one."""
    seen = []

    class Recording(torch.optim.AdamW):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    cfg = replace(get_config("swap", quick=True), size=2, steps=7, fit_stop=None, eval_lengths=(4,), eval_samples=2,
                  lr=2e-3, warmup=warmup, check_every=7)
    train_and_evaluate(cfg, "transformer", 0)
    expected = [2e-3 * (min(1.0, (i + 1) / warmup) if warmup else 1.0) for i in range(7)]
    assert len(seen) == 7
    assert seen == pytest.approx(expected, rel=1e-12, abs=0)


# ------------------------------------------------------------------------------------------------ fit-first


def test_fit_first_stops_at_the_first_check_that_meets_the_criterion(monkeypatch):
    cfg = replace(get_config("swap", quick=True), steps=100, check_every=10, fit_stop=0.95)
    accs = iter([0.5, 0.94, 0.96, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    calls = []

    def fake_validate(model, c, val):
        a = next(accs)
        calls.append(a)
        return {"loss": 1.0 - a, "acc": {L: a for L in tr.fit_lengths(c)}}

    monkeypatch.setattr(tr, "validate", fake_validate)
    out = train_and_evaluate(cfg, "transformer", 0)
    assert out["steps_to_fit"] == 30 and out["steps_run"] == 30 and calls == [0.5, 0.94, 0.96]
    # the result's schema, as the D4/D5 jobs and the task text read it (assocmem/claims/_deltaformer_jobs.py)
    assert set(out) == {"task", "model", "seed", "parameters", "config", "diverged_at", "curriculum", "final_loss",
                        "eval", "lr", "steps_run", "steps_to_fit", "val_loss", "val_acc", "val_curve"}
    assert (out["lr"], out["task"], out["model"], out["seed"], out["diverged_at"]) == (cfg.lr, cfg.task, "transformer",
                                                                                      0, None)
    assert out["curriculum"]["final_fit_step"] == 30 and out["curriculum"]["used"] is False
    assert [c[0] for c in out["val_curve"]] == [10, 20, 30]
    # the curve records each check's validation loss (1 - accuracy here, to 4 places), the last one is val_loss
    assert [c[1] for c in out["val_curve"]] == [0.5, 0.06, 0.04] and out["val_loss"] == 0.04
    # one length below the criterion is not a fit
    monkeypatch.setattr(tr, "validate", lambda m, c, v: {"loss": 0.1, "acc": {3: 1.0, 4: 0.949}})
    out = train_and_evaluate(replace(cfg, steps=40), "transformer", 0)
    assert out["steps_to_fit"] is None and out["steps_run"] == 40
    # without a criterion every step runs
    monkeypatch.setattr(tr, "validate", lambda m, c, v: {"loss": 0.0, "acc": {3: 1.0, 4: 1.0}})
    out = train_and_evaluate(replace(cfg, steps=40, fit_stop=None), "transformer", 0)
    assert out["steps_to_fit"] is None and out["steps_run"] == 40


def test_curriculum_never_advances_before_the_warm_up_ends():
    c = Curriculum(train_max=3, advance_at=0.9, window=2, patience=5, warmup=50)
    for step in range(49):
        c.observe(step, c.current, 1.0)
    assert c.current == 1 and c.log == []  # fit and timeout both held back
    c.observe(49, 1, 1.0)
    c.observe(50, 1, 1.0)
    assert c.current == 2 and c.log == [{"stage": 1, "step": 50, "reason": "fit"}]


def test_dag_training_lengths_span_the_training_range():
    cfg = replace(get_config("dag", quick=True), train_max=3)
    rng = np.random.default_rng(0)
    draws = [tr._train_length(cfg, None, rng) for _ in range(3000)]
    assert {1, 2, 3} == set(draws) and all(abs(draws.count(k) - 1000) < 5 * math.sqrt(3000 * 2 / 9) for k in (1, 2, 3))
    assert tr._train_length(get_config("swap", quick=True), None, rng) == get_config("swap", quick=True).train_max


# ------------------------------------------------------------------------------------------------ auxiliary target


def test_successor_on_hand_made_instances():
    edges = [(3, 5), (5, 7), (9, 5), (0, 3)]
    assert successor(edges, 3) == 5 and successor(edges, 9) == 5 and successor(edges, 0) == 3
    assert successor(edges, 7) is None
    with pytest.raises(InputError, match="edges"):
        successor([(1, 2), (1, 4)], 1)


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), order=st.sampled_from(("in_order", "shuffled")))
def test_batch_auxiliary_targets_are_the_successor_of_each_source(k, seed, order):
    b = dag_batch(k, 15, k, 6, np.random.default_rng(seed), order=order)
    for inst, aux in zip(b.instances, b.aux.tolist()):
        assert aux == [successor(inst.edges, s) for s, _ in inst.queries]
        for (s, _), x in zip(inst.queries, aux):  # one hop from the source, on its unique path
            assert shortest_hops(inst.edges, s, x) == 1


def test_aux_loss_is_added_and_aux_logits_are_never_scored():
    cfg = get_config("dag", quick=True)
    b = dag_batch(2, cfg.size, 2, 8, np.random.default_rng(0), order="in_order")
    T = b.tokens.shape[1]
    logits = torch.zeros(8, T, 2 + cfg.size)
    logits[:, -4:, :2] = torch.nn.functional.one_hot(b.targets, 2) * 20.0
    loss_right, acc = tr.loss_and_accuracy(cfg, logits, b.targets, b.aux)
    assert acc == 1.0 and abs(float(loss_right) - math.log(cfg.size)) < 1e-3  # uniform auxiliary logits: ln n
    logits[:, -4:, 2:] = torch.nn.functional.one_hot(b.aux, cfg.size) * 30.0
    assert float(tr.loss_and_accuracy(cfg, logits, b.targets, b.aux)[0]) < 1e-6
    assert float(tr.loss_and_accuracy(replace(cfg, aux=False), logits[..., :2], b.targets, b.aux)[0]) < 1e-6


# ------------------------------------------------------------------------------------------------ construction


def test_construction_initialised_model_with_zero_learning_rate_scores_one():
    cfg = replace(get_config("dag"), init="construction", init_noise=0.0, lr=0.0, steps=300, check_every=50,
                  eval_lengths=(1, 2, 3, 4), eval_samples=150, val_samples=64)
    out = train_and_evaluate(cfg, "reach_linear", 0)
    assert all(e["correct"] == e["total"] == 150 for e in out["eval"])
    assert out["steps_to_fit"] == 50  # fits at the first check
    # a random start with lr = 0 does not (the construction, not the arm, carries the answer)
    rnd = train_and_evaluate(replace(cfg, init="random", steps=100), "reach_linear", 0)
    assert rnd["steps_to_fit"] is None and min(e["correct"] for e in rnd["eval"]) < 150


@settings(max_examples=10, deadline=None)
@given(k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_construction_model_answers_like_the_one_pass_closure(k, seed):
    """In order it is exact; shuffled it computes the one-pass rule, instance by instance (brute-force reference)."""
    model = ReachModel(15, 2 + 15)
    construction_state(model)
    for order in ("in_order", "shuffled"):
        b = dag_batch(k, 15, k, 16, np.random.default_rng(seed), order=order)
        with torch.no_grad():
            pred = model(b.tokens)[:, -4:, :2].argmax(-1).tolist()
        for inst, row in zip(b.instances, pred):
            assert row == [int(one_pass_reachable(inst.edges, s, t)) for s, t in inst.queries]


def test_swap_construction_with_zero_learning_rate_scores_one():
    for n in (2, 3, 5):
        cfg = replace(get_config("swap"), size=n, init="construction", init_noise=0.0, lr=0.0, steps=100,
                      check_every=50, eval_samples=100, val_samples=64)
        out = train_and_evaluate(cfg, "swap_linear", 0)
        assert all(e["correct"] == e["total"] == 100 for e in out["eval"])  # every length up to 32
        assert out["steps_to_fit"] == 50


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 5), L=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_swap_construction_tracks_every_slot_after_every_token(n, L, seed):
    """Against the permutation applied swap by swap (impl.tasks.swap's targets, built without the model)."""
    from impl.tasks.swap import swap_batch

    model = SwapModel(n)
    swap_construction_state(model)
    b = swap_batch(n, L, 8, np.random.default_rng(seed))
    with torch.no_grad():
        pred = model(b.tokens).view(8, L + 1, n, n).argmax(-1)
    assert torch.equal(pred[:, 1:], b.targets[:, 1:])


def test_construction_start_is_refused_for_other_arms():
    with pytest.raises(InputError, match="init"):
        train_and_evaluate(replace(get_config("dag", quick=True), init="construction"), "deltanet", 0)
    with pytest.raises(InputError, match="model"):
        train_and_evaluate(get_config("swap", quick=True), "reach_linear", 0)
    with pytest.raises(InputError, match="model"):
        train_and_evaluate(get_config("dag", quick=True), "swap_linear", 0)
    with pytest.raises(InputError, match="init"):
        train_and_evaluate(replace(get_config("dag", quick=True), init="zeros"), "reach_linear", 0)


# ------------------------------------------------------------------------------------------------ shuffled bounds


def _descents(p):
    return sum(a > b for a, b in zip(p, p[1:]))


def test_eulerian_numbers_count_descents():
    for k in range(1, 7):
        perms = list(itertools.permutations(range(k)))
        for d in range(k):
            assert eulerian(k, d) == sum(_descents(p) == d for p in perms)


@pytest.mark.parametrize("k,extra", [(1, 0), (1, 2), (2, 0), (2, 2)])
def test_shuffled_bounds_match_brute_force_over_every_edge_order(k, extra):
    """The accuracy of the 1-, 2- and 3-pass closures over every order of a small instance's edges (balanced
    queries) equals passes_accuracy (closed form)."""
    inst = dag_instance(k, 3 * (k + 1), extra, np.random.default_rng(k + extra), order="in_order")
    orders = list(itertools.permutations(inst.edges))
    for passes in (1, 2, 3):
        right = sum(passes_reachable(list(o), s, t, passes) == ans for o in orders
                    for (s, t), ans in zip(inst.queries, inst.answers))
        assert right / (4 * len(orders)) == pytest.approx(passes_accuracy(k, passes), abs=1e-12)
    assert passes_accuracy(k, 1) == 0.5 + 0.5 / math.factorial(k)


def test_more_passes_reach_more_and_one_pass_is_the_reference_rule():
    rng = np.random.default_rng(5)
    for _ in range(50):
        inst = dag_instance(4, 15, 4, rng)
        for s, t in inst.queries:
            r = [passes_reachable(inst.edges, s, t, p) for p in (1, 2, 3, 4)]
            assert r[0] == one_pass_reachable(inst.edges, s, t) and r == sorted(r)
            assert r[3] == (shortest_hops(inst.edges, s, t) is not None)  # k passes suffice for k hops


def test_bad_input_to_the_new_pieces():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="rng"):
        dag_batch(2, 15, 2, 4, 0)
    with pytest.raises(InputError, match="batch"):
        dag_batch(2, 15, 2, 0, rng)
    with pytest.raises(InputError, match="n_nodes"):
        dag_batch(4, 14, 2, 4, rng)
    with pytest.raises(InputError, match="passes"):
        passes_reachable([(0, 1)], 0, 1, 0)
    with pytest.raises(InputError, match="out_dim"):
        ReachModel(15, 3)


@pytest.mark.parametrize("field,value", [("lr", -1e-3), ("lr", float("nan")), ("fit_stop", 0.0), ("fit_stop", 1.5),
                                         ("check_every", 0), ("warmup", -1), ("steps", 0)])
def test_bad_schedule_is_refused_naming_the_field(field, value):
    with pytest.raises(InputError, match=field):
        train_and_evaluate(replace(get_config("swap", quick=True), **{field: value}), "deltanet", 0)


def test_a_forward_pass_that_overflows_in_training_is_a_divergence(monkeypatch):
    cfg = replace(get_config("dag", quick=True), steps=20, check_every=5)
    calls = {"n": 0}
    real = tr.build_task_model

    def exploding(c, name, seed):
        model = real(c, name, seed)
        forward = model.forward

        def fwd(tokens):
            calls["n"] += 1
            if calls["n"] == 3:
                raise InputError("q", "non-finite")
            return forward(tokens)

        model.forward = fwd
        return model

    monkeypatch.setattr(tr, "build_task_model", exploding)
    out = train_and_evaluate(cfg, "transformer", 0)
    assert out["diverged_at"] == 2 and out["steps_to_fit"] is None and out["val_loss"] is None
    # a diverged model is not evaluated: every evaluation length scores 0 of eval_samples, all of them non-finite,
    # with the same fields as an evaluated run's rows
    assert out["eval"] == [{"length": L, "correct": 0, "total": cfg.eval_samples, "nonfinite": cfg.eval_samples}
                           for L in cfg.eval_lengths]


@pytest.mark.parametrize("task,train_max", [("swap", 4), ("swap", 1), ("dag", 2), ("dag", 3), ("dag", 1)])
def test_the_fit_criterion_reads_train_max_minus_one_and_train_max(task, train_max):
    """The module doc's criterion: the validation accuracy at L = train_max - 1 and L = train_max (only train_max
    when that is 1), read from a real validation pass, not from the helper that lists the lengths."""
    cfg = replace(get_config(task, quick=True), train_max=train_max, val_samples=4)
    val = tr.validation_set(cfg, 0, "cpu")
    out = tr.validate(tr.build_task_model(cfg, "transformer", 0), cfg, val)
    expected = {train_max - 1, train_max} - {0}
    assert set(out["acc"]) == expected and all(0.0 <= a <= 1.0 for a in out["acc"].values())
    assert math.isfinite(out["loss"])


@pytest.mark.parametrize("order", ["in_order", "shuffled"])
def test_a_batch_caps_the_distractors_at_the_distinct_pairs(order):
    """``extra`` distractors c_i -> x are distinct pairs of c's k + 1 nodes and the 2 (k + 1) a and b nodes, so at most
    2 (k + 1)^2 of them: asking for more gives exactly that many edges, all distinct, besides the 3 k chain edges,
    and the in-order batch is still a topological order of its graph (each edge's source has no later in-edge)."""
    k = 1
    cap = 2 * (k + 1) ** 2
    for extra, want in ((3, 3), (cap, cap), (cap + 5, cap)):
        b = dag_batch(k, 9, extra, 5, np.random.default_rng(extra), order=order)
        for inst in b.instances:
            assert len(inst.edges) == 3 * k + want and len(set(inst.edges)) == len(inst.edges), (extra, inst.edges)
            if order == "in_order":
                for i, (x, _) in enumerate(inst.edges):
                    assert all(y != x for _, y in inst.edges[i + 1:]), (extra, inst.edges)


def test_an_in_order_batch_interleaves_the_chains_with_the_distractors():
    """``in_order`` draws a random topological order, not a fixed one: the a and b chains' edges are not always placed
    after every distractor c_j -> x (which a topological order allows but does not require). Over 200 instances
    some a- or b-chain edge comes before some distractor."""
    b = dag_batch(2, 15, 4, 200, np.random.default_rng(11), order="in_order")
    interleaved = 0
    for inst in b.instances:
        starts = {s for s, _ in inst.queries}  # a_0 and b_0
        chain = set()
        for s in starts:  # follow each chain from its start: its edges are the only ones out of its nodes
            x = s
            for _ in range(inst.k):
                nxt = successor(inst.edges, x)
                chain.add((x, nxt))
                x = nxt
        nodes_ab = {x for e in chain for x in e}
        pos = {e: i for i, e in enumerate(inst.edges)}
        distractors = [i for i, (x, y) in enumerate(inst.edges) if x not in nodes_ab and y in nodes_ab]
        assert len(chain) == 2 * inst.k and distractors
        interleaved += min(pos[e] for e in chain) < max(distractors)
    assert interleaved > 0
