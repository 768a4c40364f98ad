"""D4/D5 tasks, models and training: semantic tests (tokens decode to what they encode, targets follow the swaps and
edges, the curriculum's advance rule, exact evaluation counts, every mixer equals its ``impl`` form on the same
weights in float64, determinism, divergence handling). Full training runs are evidence jobs, not tests."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.deltaformer.constructions import permutation_truth, reachability_deltaformer
from impl.numerics.errors import InputError
from impl.tasks import MODELS, TASKS, run_task
from impl.tasks import dag as dag_task
from impl.tasks import models as task_models
from impl.tasks.dag import (
    dag_batch,
    dag_instance,
    decode,
    is_acyclic,
    is_topological,
    one_pass_reachable,
    shortest_hops,
)
from impl.tasks.models import Mixer, build_model, parameter_count, rope
from impl.tasks.swap import decode_token, swap_batch, swap_pairs, vocab_size
from impl.tasks.train import (
    EVAL_CHUNK,
    Curriculum,
    evaluate,
    get_config,
    train_and_evaluate,
    train_point,
)

# ------------------------------------------------------------------------------------------------ swap task


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), L=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_swap_tokens_decode_to_the_swaps_the_targets_follow(n, L, seed):
    b = swap_batch(n, L, 3, np.random.default_rng(seed))
    assert b.tokens.shape == (3, L + 1) and b.targets.shape == (3, L + 1, n)
    assert (b.tokens[:, 0] == 0).all() and int(b.tokens[:, 1:].min()) >= 1
    assert int(b.tokens.max()) < vocab_size(n) == n * (n - 1) // 2 + 2
    for row in range(3):
        swaps = [decode_token(n, int(t)) for t in b.tokens[row, 1:]]
        assert b.targets[row, 0].tolist() == list(range(n))
        for t in range(L):
            applied = [s for s in swaps[: t + 1] if s is not None]
            assert b.targets[row, t + 1].tolist() == permutation_truth(n, applied)


def test_swap_token_ids_are_the_documented_layout():
    assert swap_pairs(3) == [(0, 1), (0, 2), (1, 2)]
    assert decode_token(3, 1) is None and decode_token(3, 2) == (0, 1) and decode_token(3, 4) == (1, 2)
    with pytest.raises(InputError, match="token"):
        decode_token(3, 0)  # the start token is not a swap
    with pytest.raises(InputError, match="token"):
        decode_token(3, 5)
    # every non-start id appears, uniformly: 2000 draws of the 4 ids of n = 3 (each ~ Binomial(2000, 1/4))
    toks = swap_batch(3, 20, 100, np.random.default_rng(0)).tokens[:, 1:].flatten().tolist()
    counts = [toks.count(i) for i in (1, 2, 3, 4)]
    assert all(abs(c - 500) < 5 * math.sqrt(2000 * 0.25 * 0.75) for c in counts)


# ------------------------------------------------------------------------------------------------ DAG task


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 8), extra=st.integers(0, 60), seed=st.integers(0, 2**32 - 1),
       order=st.sampled_from(dag_task.ORDERS))
def test_dag_instances(k, extra, seed, order):
    inst = dag_instance(k, 3 * (k + 1) + 2, extra, np.random.default_rng(seed), order=order)
    assert is_acyclic(inst.edges)
    assert len(inst.edges) == 3 * k + min(extra, (k + 1) * 2 * (k + 1))
    if order == "in_order":
        assert is_topological(inst.edges)
    assert sorted(inst.answers) == [False, False, True, True]
    for (s, t), ans in zip(inst.queries, inst.answers):
        hops = shortest_hops(inst.edges, s, t)
        assert hops == k if ans else hops is None
        if order == "in_order":  # in order, one pass finds every reachable target
            assert one_pass_reachable(inst.edges, s, t) == ans


@settings(max_examples=10, deadline=None)
@given(k=st.integers(1, 6), extra=st.integers(0, 60), seed=st.integers(0, 2**32 - 1),
       order=st.sampled_from(dag_task.ORDERS))
def test_dag_tokens_decode_to_the_edges_and_queries(k, extra, seed, order):
    """extra reaches past the cap of (k + 1) * 2 (k + 1) possible distractors (8 at k = 1, 32 at k = 3)."""
    n = 27
    b = dag_batch(k, n, extra, 4, np.random.default_rng(seed), order=order)
    E = len(b.instances[0].edges)
    assert b.tokens.shape == (4, E + 4, 3) and b.targets.shape == (4, 4)
    for row, inst in enumerate(b.instances):
        toks = b.tokens[row].tolist()
        # the documented layout, written out: edge (x, y) -> (x, n + y, 2n); query (s, t) -> (s, n + t, 2n + 1)
        assert toks[:E] == [[x, n + y, 2 * n] for x, y in inst.edges]
        assert toks[E:] == [[s, n + t, 2 * n + 1] for s, t in inst.queries]
        assert decode(toks, n) == (inst.edges, inst.queries)
        # the targets are the answers breadth-first search gives on the decoded graph, with exactly k hops
        hops = [shortest_hops(inst.edges, s, t) for s, t in inst.queries]
        assert b.targets[row].tolist() == [int(h is not None) for h in hops]
        assert all(h in (None, k) for h in hops) and is_acyclic(inst.edges)
        assert len(inst.edges) == 3 * k + min(extra, (k + 1) * 2 * (k + 1))
        if order == "in_order":
            assert is_topological(inst.edges)
        # the tokens carry the answer: the exact construction, run on what the tokens decode to, finds it in order
        edges, queries = decode(toks, n)
        counts = reachability_deltaformer(edges, queries, n)
        if order == "in_order":
            assert [int(c > 0) for c in counts] == b.targets[row].tolist()
    with pytest.raises(InputError, match="tokens"):
        decode([[0, 0, 2 * n]], n)


def test_dag_shuffled_chains_are_in_order_at_rate_one_over_k_factorial():
    rng = np.random.default_rng(3)
    for k, trials in ((2, 2000), (3, 3000)):
        hits = sum(one_pass_reachable(i.edges, *i.queries[i.answers.index(True)])
                   for i in (dag_instance(k, 27, k, rng) for _ in range(trials)))
        p = 1 / math.factorial(k)
        assert abs(hits - trials * p) < 5 * math.sqrt(trials * p * (1 - p))  # 5 standard deviations


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
    with pytest.raises(InputError, match="order"):
        dag_instance(2, 12, 0, rng, order="sorted")
    with pytest.raises(InputError, match="query"):
        shortest_hops([(0, 1), (2, 3)], 0, 3, require_path=True)
    assert shortest_hops([(0, 1), (2, 3)], 0, 3) is None
    with pytest.raises(InputError, match="model"):
        run_task("swap", "lstm", quick=True, seed=0, device="cpu", progress=False)
    with pytest.raises(InputError, match="task"):
        run_task("sort", "deltanet", quick=True, seed=0, device="cpu", progress=False)
    with pytest.raises(InputError, match="seed"):
        run_task("swap", "deltanet", quick=True, seed=-1, device="cpu", progress=False)
    with pytest.raises(InputError, match="params"):
        train_point({"model": "deltanet", "task": "swap", "sizee": 3}, 0)


# ------------------------------------------------------------------------------------------------ curriculum


def test_curriculum_advances_on_fit_after_a_full_window_at_the_current_length():
    c = Curriculum(train_max=3, advance_at=0.9, window=4, patience=100)
    for step in range(3):
        c.observe(step, 1, 1.0)
    assert c.current == 1  # window not full yet
    c.observe(3, 1, 0.95)
    assert c.current == 2 and c.log == [{"stage": 1, "step": 3, "reason": "fit"}]
    for step in range(4, 20):  # shorter lengths never fill the window of the current stage
        c.observe(step, 1, 1.0)
    assert c.current == 2
    for step, acc in zip(range(20, 24), (0.9, 0.9, 0.9, 0.9)):  # exactly at the threshold: advances
        c.observe(step, 2, acc)
    assert c.current == 3 and c.log[-1] == {"stage": 2, "step": 23, "reason": "fit"} and c.timeouts == []
    for step in range(24, 200):  # never beyond train_max
        c.observe(step, 3, 1.0)
    assert c.current == 3 and c.final_fit_step == 27 and len(c.log) == 2


def test_curriculum_advances_on_timeout_and_logs_it():
    c = Curriculum(train_max=3, advance_at=0.9, window=2, patience=5)
    for step in range(4):
        c.observe(step, 1, 0.5)
    assert c.current == 1
    c.observe(4, 1, 0.89)  # below the threshold: only the timeout advances it
    assert c.current == 2 and c.log == [{"stage": 1, "step": 4, "reason": "timeout"}] and c.timeouts == [1]
    for step in range(5, 10):
        c.observe(step, 2, 0.0)
    assert c.current == 3 and c.timeouts == [1, 2] and c.final_fit_step is None


def test_curriculum_draws_the_current_length_half_the_time():
    c = Curriculum(train_max=8, advance_at=0.9, window=4, patience=10)
    c.current = 5
    rng = np.random.default_rng(0)
    draws = [c.length(rng) for _ in range(4000)]
    assert set(draws) == {1, 2, 3, 4, 5}
    p = 0.5 + 0.5 / 5  # the current length: half the time, plus its share of the uniform half
    assert abs(draws.count(5) - 4000 * p) < 5 * math.sqrt(4000 * p * (1 - p))


# ------------------------------------------------------------------------------------------------ evaluation counts


class Oracle(torch.nn.Module):
    """Logits that put all mass on the true answer, computed from the tokens alone (decoding them)."""

    def __init__(self, cfg, wrong_slot=None):
        super().__init__()
        self.cfg, self.wrong_slot = cfg, wrong_slot

    def forward(self, tokens):
        cfg = self.cfg
        if cfg.task == "swap":
            n = cfg.size
            out = torch.zeros(tokens.shape[0], tokens.shape[1], n * n)
            for b in range(tokens.shape[0]):
                swaps = [decode_token(n, int(t)) for t in tokens[b, 1:]]
                items = permutation_truth(n, [s for s in swaps if s is not None])
                for slot, item in enumerate(items):
                    if slot == self.wrong_slot:
                        item = (item + 1) % n  # a surely wrong answer for this slot
                    out[b, -1, slot * n + item] = 1.0
            return out
        out = torch.zeros(tokens.shape[0], tokens.shape[1], 2)
        for b in range(tokens.shape[0]):
            edges, queries = decode(tokens[b].tolist(), cfg.size)
            for r, (s, t) in enumerate(queries):
                out[b, len(edges) + r, int(shortest_hops(edges, s, t) is not None)] = 1.0
        return out


@pytest.mark.parametrize("task", TASKS)
def test_evaluation_counts_every_sequence_once(task):
    cfg = replace(get_config(task, quick=True), eval_samples=EVAL_CHUNK + 37)
    rows = evaluate(Oracle(cfg), cfg, seed=5, device="cpu")
    assert [r["length"] for r in rows] == list(cfg.eval_lengths)
    assert all(r["total"] == EVAL_CHUNK + 37 and r["correct"] == r["total"] and r["nonfinite"] == 0 for r in rows)
    if task == "swap":  # an oracle wrong about slot 0 gets exactly the queries that asked about another slot
        blind = evaluate(Oracle(cfg, wrong_slot=0), cfg, seed=5, device="cpu")
        rng = np.random.default_rng([5, 1])
        expected = []
        for L in cfg.eval_lengths:
            hits = 0
            for start in range(0, cfg.eval_samples, EVAL_CHUNK):
                nb = min(EVAL_CHUNK, cfg.eval_samples - start)
                swap_batch(cfg.size, L, nb, rng)
                hits += int((rng.integers(0, cfg.size, size=nb) != 0).sum())
            expected.append(hits)
        assert [r["correct"] for r in blind] == expected


def test_nonfinite_logits_count_as_wrong():
    cfg = replace(get_config("swap", quick=True), eval_samples=30)

    class NaNModel(torch.nn.Module):
        def forward(self, tokens):
            return torch.full((tokens.shape[0], tokens.shape[1], cfg.size ** 2), float("nan"))

    rows = evaluate(NaNModel(), cfg, seed=0, device="cpu")
    assert all(r["correct"] == 0 and r["nonfinite"] == 30 == r["total"] for r in rows)


def test_a_forward_pass_that_overflows_counts_as_wrong():
    cfg = replace(get_config("dag", quick=True), eval_samples=EVAL_CHUNK + 3)
    model = build_model("deltaformer", 32, 2, d=8, depth=1, heads=1)

    class Overflowing(torch.nn.Module):
        head = model.head

        def forward(self, tokens):
            raise InputError("q", "must be finite (found NaN or infinity)")

    rows = evaluate(Overflowing(), cfg, seed=0, device="cpu")
    assert all(r["correct"] == 0 and r["nonfinite"] == r["total"] == EVAL_CHUNK + 3 for r in rows)


def test_a_diverged_run_is_flagged_and_kept(monkeypatch):
    cfg = replace(get_config("swap", quick=True), steps=5, eval_samples=10)
    real = task_models.build_model

    def exploding(*a, **kw):
        m = real(*a, **kw)
        with torch.no_grad():
            m.head.bias.fill_(float("inf"))
        return m

    monkeypatch.setattr("impl.tasks.train.build_model", exploding)
    out = train_and_evaluate(cfg, "transformer", 0)
    assert out["diverged_at"] == 0 and out["final_loss"] is None
    assert all(r["correct"] == 0 and r["total"] == 10 for r in out["eval"])


# ------------------------------------------------------------------------------------------------ mixers = impl forms


def _split(mixer, x):
    B, T, d = x.shape
    q, k, v = mixer.qkv(x).view(B, T, 3, mixer.h, mixer.dh).permute(2, 0, 3, 1, 4)
    return q, k, v


def _rope_reference(x, base=10000.0):
    """RoPE as complex multiplication: (x_{2i} + i x_{2i+1}) e^{i p base^{-2i/d}}."""
    T, d = x.shape[-2], x.shape[-1]
    z = torch.complex(x[..., 0::2], x[..., 1::2])
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    rot = torch.polar(torch.ones(T, d // 2, dtype=torch.float64), torch.arange(T, dtype=torch.float64)[:, None] * theta)
    zr = z * rot
    return torch.stack((zr.real, zr.imag), dim=-1).flatten(-2)


def _reference_mixer(mixer, x):
    """What each mixer should compute, from its weights, through the impl forms (float64)."""
    from impl.deltaformer import deltaformer_recurrent
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    F = torch.nn.functional
    q, k, v = _split(mixer, x)
    raw_b = mixer.beta(x).transpose(1, 2) if mixer.beta is not None else None
    if mixer.kind == "transformer":
        T = x.shape[1]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(mixer.dh)
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        o = torch.softmax(s, -1) @ v
    elif mixer.kind == "deltanet":
        o, _ = delta_rule_recurrent(F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, 2 * torch.sigmoid(raw_b),
                                    scale=1.0)
    elif mixer.kind == "deltaformer":
        o = deltaformer_recurrent(_rope_reference(q), _rope_reference(k), v, raw_b, kernel="softmax",
                                  scale=1 / math.sqrt(mixer.dh))
    elif mixer.kind == "deltaformer_lin1":
        o = deltaformer_recurrent(q, F.normalize(k, dim=-1), v, 2 * torch.sigmoid(raw_b), kernel="softmax",
                                  kernel_w="linear", scale=1 / math.sqrt(mixer.dh), scale_w=1.0)
    else:  # deltaformer_exp, written out: u_t = v_t - sum_{j<t} b_t e^{s1 (k_t.k_j - 1)} u_j, o_t = sum e^{s2(q.k - 1)} u_j
        s1, s2 = mixer.scales()
        qn, kn, b = F.normalize(q, dim=-1), F.normalize(k, dim=-1), 2 * torch.sigmoid(raw_b)
        B, H, T, _ = q.shape
        o = torch.zeros_like(v)
        for h in range(H):
            K1 = torch.exp(s1[h] * (kn[:, h] @ kn[:, h].transpose(-1, -2) - 1))
            K2 = torch.exp(s2[h] * (qn[:, h] @ kn[:, h].transpose(-1, -2) - 1))
            us = []
            for t in range(T):
                acc = sum((K1[:, t, j, None] * us[j] for j in range(t)), torch.zeros_like(v[:, h, t]))
                us.append(v[:, h, t] - b[:, h, t, None] * acc)
                o[:, h, t] = sum(K2[:, t, j, None] * us[j] for j in range(t + 1))
    B, H, T, dh = o.shape
    return mixer.out(o.transpose(1, 2).reshape(B, T, H * dh))


@pytest.mark.parametrize("kind", MODELS)
def test_every_mixer_equals_its_impl_form_on_the_same_weights(kind):
    torch.manual_seed(7)
    mixer = Mixer(kind, 8, 2).double()
    if mixer.beta is not None and kind == "deltaformer":
        with torch.no_grad():  # fla's b is unbounded: exercise negative and > 2 values too
            mixer.beta.bias.copy_(torch.tensor([-0.7, 2.5], dtype=torch.float64))
    x = torch.randn(3, 11, 8, dtype=torch.float64)
    with torch.no_grad():
        got, want = mixer(x), _reference_mixer(mixer, x)
    assert got.shape == want.shape == (3, 11, 8)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 12), shift=st.integers(0, 5), seed=st.integers(0, 2**31 - 1))
def test_rope_rotates_by_position(T, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, T, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rope(x), _rope_reference(x))
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))
    # relative: scores depend on t - s only (same vector at every position, two sequences offset by ``shift``)
    y = torch.randn(6, generator=g, dtype=torch.float64).expand(1, 1, T + shift, 6)
    r = rope(y)[0, 0]
    torch.testing.assert_close((r[shift:] * r[shift]).sum(-1), (r[: T] * r[0]).sum(-1))
    with pytest.raises(InputError, match="heads"):
        rope(torch.zeros(1, 1, 2, 3))


def test_models_and_parameter_counts():
    counts = {m: parameter_count(build_model(m, 10, 25, d=32, depth=2, heads=2)) for m in MODELS}
    base = counts["transformer"]
    # the delta models add the b projection (d + 1) * heads per layer; the exponential one two scales per head
    assert counts["deltanet"] == counts["deltaformer"] == counts["deltaformer_lin1"] == base + 2 * (32 + 1) * 2
    assert counts["deltaformer_exp"] == counts["deltanet"] + 2 * 2 * 2
    x = torch.randint(0, 10, (3, 7))
    for m in MODELS:
        assert build_model(m, 10, 25, d=32, depth=2, heads=2)(x).shape == (3, 7, 25)


def test_exp_mixer_stays_stable():
    """b kappa1(k, k) = b <= 2 whatever the learned scale: the transition eigenvalue stays in [-1, 1]."""
    mixer = Mixer("deltaformer_exp", 8, 2).double()
    with torch.no_grad():
        mixer.log_s.fill_(30.0)  # s -> S_MAX
    s1, _ = mixer.scales()
    assert float(s1.detach().max()) <= task_models.S_MAX
    x = torch.randn(2, 40, 8, dtype=torch.float64)
    with torch.no_grad():
        assert torch.isfinite(mixer(x)).all()


# ------------------------------------------------------------------------------------------------ training


@pytest.mark.parametrize("task", TASKS)
def test_training_is_deterministic(task):
    cfg = replace(get_config(task, quick=True), steps=6, eval_samples=20)
    threads = torch.get_num_threads()
    for model in MODELS:
        a = train_and_evaluate(cfg, model, 3)
        b = train_and_evaluate(cfg, model, 3)
        assert a == b
        assert [e["length"] for e in a["eval"]] == list(cfg.eval_lengths)
        assert all(e["total"] == 20 and 0 <= e["correct"] <= 20 for e in a["eval"])
        assert a["curriculum"]["reached"] >= 1 and a["diverged_at"] is None
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()


def test_train_point_is_train_and_evaluate():
    from dataclasses import asdict

    cfg = replace(get_config("dag", quick=True), steps=4, eval_samples=10, order="in_order")
    assert train_point({**asdict(cfg), "model": "deltanet"}, 1) == train_and_evaluate(cfg, "deltanet", 1)


@pytest.mark.parametrize("curriculum", [False, True])
def test_a_runs_curriculum_record_has_the_fields_the_report_reads(curriculum):
    """The DeltaFormer report (assocmem/claims/deltaformer_tasks.py) reads used, reached, log, timeouts and
    final_fit_step of every run's curriculum record: the same fields with or without a curriculum, timeouts a list."""
    cfg = replace(get_config("dag", quick=True), steps=4, eval_samples=10, order="in_order", curriculum=curriculum)
    rec = train_and_evaluate(cfg, "deltanet", 1)["curriculum"]
    assert set(rec) == {"used", "reached", "log", "timeouts", "final_fit_step"} and rec["used"] is curriculum
    assert isinstance(rec["timeouts"], list) and isinstance(rec["log"], list) and rec["reached"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_run_task_quick(task, model):
    out = run_task(task, model, quick=True, seed=0, device="cpu", progress=False)
    assert out["model"] == model and out["parameters"] > 0 and out["curriculum"]["reached"] >= 1


def test_dag_encode_writes_the_documented_token_ids_and_decode_inverts_it():
    """Edges (x, n + y, 2n), then queries (s, n + t, 2n + 1), in presentation order (n = 9 nodes)."""
    from impl.tasks.dag import DagInstance, decode, encode

    inst = DagInstance(edges=[(0, 1), (3, 4), (1, 2)], queries=[(0, 2), (3, 5)], answers=[True, False], k=2)
    tokens = encode(inst, 9)
    assert tokens == [(0, 10, 18), (3, 13, 18), (1, 11, 18), (0, 11, 19), (3, 14, 19)]
    assert decode(tokens, 9) == (inst.edges, inst.queries)
