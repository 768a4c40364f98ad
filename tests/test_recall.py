"""Recall predicted from the SNR (C10.recall): the integral's exact values and limits, its two quadratures, the
measured recall's memories (delta-rule weights, softmax = exp decoding), the evidence record round trip, bad input.
(Derivation, property draws, mutants at power points: tests/test_claims.py.)"""

import math

import numpy as np
import pytest
import torch

from impl.estimators import recall_prediction as rp
from impl.estimators.recall_measured import delta_noise_to_signal, measure_recall
from impl.numerics.errors import InputError


@pytest.mark.parametrize("n", [2, 5, 64, 1000, 4096])
@pytest.mark.parametrize("dv", [3, 4, 8, 16])
def test_exchangeable_scores_give_one_over_n(n, dv):
    """Also at few value dimensions, where the noncentral t's tails are long (a single adaptive pass returned ~0)."""
    assert rp.win_probability(0.0, n, dv, lam=1.0) == pytest.approx(1 / n, rel=1e-6)
    assert rp.win_probability_grid([0.0], n, dv, own_weight=False)[0] == pytest.approx(1 / n, abs=1e-5)


@pytest.mark.parametrize("n, dv", [(2, 4), (64, 3), (16, 16), (256, 8), (4096, 8), (4096, 16)])
def test_product_rule_agrees_with_adaptive_quadrature(n, dv):
    deltas = [0.3, 1.0, 2.5, 6.0]
    quad = [rp.win_probability(d, n, dv) for d in deltas]
    grid = rp.win_probability_grid(deltas, n, dv)
    assert np.allclose(grid, quad, atol=1e-5)
    if dv >= rp.GRID_MIN_DV:  # (below it the curve is built by quadrature: correct, but slow to tabulate)
        assert np.allclose(rp.recall_curve(n, dv)(deltas), quad, atol=5e-4)


def test_grid_over_many_deltas_equals_each_delta_alone():
    """The grid is evaluated in chunks of deltas (to bound memory): 150 deltas, more than two chunks, give exactly
    what each delta gives alone, so no entry is skipped or shifted at a chunk's edge."""
    d = np.geomspace(0.05, 30, 150)
    whole = rp.win_probability_grid(d, 64, 16)
    alone = np.array([rp.win_probability_grid([x], 64, 16)[0] for x in d])
    assert whole.shape == (150,) and np.array_equal(whole, alone)


def test_limits_and_monotonicity():
    d = np.geomspace(0.05, 30, 40)
    p = rp.win_probability_grid(d, 64, 16)
    assert np.all(np.diff(p) > -1e-12) and p[-1] > 0.999999
    assert rp.win_probability_grid([2.0], 16, 16)[0] > rp.win_probability_grid([2.0], 256, 16)[0]
    assert rp.own_weight_scale(0.0, 16, 16) == 1.0
    assert rp.own_weight_scale(np.inf, 16, 16) == pytest.approx(math.sqrt(1 + 15 / 15))
    assert rp.own_weight_scale(1.0, 16, 16) == pytest.approx(math.sqrt(1 + 15 * 0.5 / 15))


def test_kernel_prediction_typical_is_the_curve_at_the_typical_delta():
    n, dk, dv = 64, 16, 16
    typ = rp.predicted_recall_kernel("linear", n, dk, dv, average="typical")
    assert typ == pytest.approx(rp.win_probability(math.sqrt(dk * dv / (n - 1)), n, dv), abs=5e-4)
    tau = 2.0
    a = 2 * (1 / tau**2 - 1 / tau)
    typ = rp.predicted_recall_kernel("exp", 1024, dk, dv, tau=tau, average="typical")
    assert typ == pytest.approx(rp.win_probability(math.sqrt(dv * math.exp(-a * dk) / 1023), 1024, dv), abs=5e-4)
    # averaging over the probe matters for the exponential kernel (the C7 trap): far below the typical value
    assert rp.predicted_recall_kernel("exp", 1024, dk, dv, tau=tau) < typ - 0.2


def test_softmax_decodes_exactly_as_the_exp_kernel():
    """Same seed, same data: the softmax normaliser is one positive number per query, so the hits are identical."""
    a = measure_recall("exp", 64, 16, 16, 400, 5, tau=4.0)
    b = measure_recall("softmax", 64, 16, 16, 400, 5, tau=4.0)
    assert a["hits"] == b["hits"] and np.allclose(a["s2"], b["s2"], rtol=1e-9)


def test_linear_crosstalk_matches_its_definition():
    m = measure_recall("linear", 8, 4, 3, 5, 2)
    g = torch.Generator().manual_seed(2)
    K = torch.randn((5, 8, 4), generator=g, dtype=torch.float64)
    V = torch.randn((5, 8, 3), generator=g, dtype=torch.float64)
    pos = torch.randint(0, 8, (5,), generator=g)
    for t in range(5):
        w = K[t] @ K[t, pos[t]]
        s2 = float(((w / w[pos[t]]) ** 2).sum() - 1)
        assert m["s2"][t] == pytest.approx(s2, rel=1e-10)
        assert m["nu"][t] == pytest.approx(float((V[t, pos[t]] ** 2).sum()))


def test_delta_weights_reproduce_the_rule_run_on_the_values():
    """S = V^T A: running the delta rule on [V | I_N] gives, in its last N columns, weights w = A q with V^T w the
    rule's own read-out (linearity in the values), and the latest pair is stored exactly (b = 1, unit keys)."""
    from impl.estimators.recall_measured import _delta_state
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    g = torch.Generator().manual_seed(4)
    K = torch.randn((3, 10, 6), generator=g, dtype=torch.float64)
    K = K / K.norm(dim=-1, keepdim=True)
    V = torch.randn((3, 10, 5), generator=g, dtype=torch.float64)
    S = _delta_state(K, torch.cat([V, torch.eye(10, dtype=torch.float64).expand(3, -1, -1)], -1))
    k = K.unsqueeze(1)
    _, S_ref = delta_rule_recurrent(k, k, V.unsqueeze(1), torch.ones(3, 1, 10, dtype=torch.float64), output_final_state=True)
    q = K[:, 3]
    w = (S[:, 5:] @ q[..., None])[..., 0]
    assert torch.allclose((V.transpose(-1, -2) @ w[..., None])[..., 0], (S_ref[:, 0] @ q[..., None])[..., 0], atol=1e-12)
    assert torch.allclose(S[:, :5], S_ref[:, 0], atol=1e-12)
    R, lo, hi = delta_noise_to_signal(10, 6, 200, 1)
    assert R[-1] == pytest.approx(0.0, abs=1e-20) and np.all(R[:-1] > 0) and np.all(lo <= R) and np.all(R <= hi)
    assert R[0] > R[-2]  # older pairs are overwritten more


@pytest.mark.parametrize("kw, name", [(dict(memory="gru"), "memory"), (dict(memory="exp"), "tau"),
                                      (dict(memory="softmax", tau=-1.0), "tau"), (dict(n_pairs=1), "n_pairs"),
                                      (dict(memory="delta", n_pairs=9000), "n_pairs"),
                                      (dict(n_pairs=5_000_000), "n_pairs"), (dict(d_v=1), "d_v")])
def test_bad_input(kw, name):
    args = dict(memory="linear", n_pairs=8, d_k=8, d_v=8, trials=3, seed=1)
    args.update(kw)
    with pytest.raises(InputError, match=name):
        measure_recall(args.pop("memory"), **{k: v for k, v in args.items() if k != "seed"}, seed=1)
    with pytest.raises(InputError, match="delta"):
        rp.win_probability(float("nan"), 8, 8)
    with pytest.raises(InputError, match="kernel"):
        rp.predicted_recall_kernel("relu", 8, 8, 8)


def test_interval_widths_of_the_evidence_grid_resolve_the_tolerance():
    """Every report grid point's sample size gives a Clopper-Pearson half-width (level 1 - 1e-3) below 0.027 at the
    worst p = 1/2, so a departure of tolerance + 0.03 is detected."""
    from assocmem import registry
    from assocmem.claims import recall as rc
    from impl.estimators.stats import binomial_interval

    for c in registry.claims():
        if c.id.startswith("C10.recall.") and c.evidence:
            for p in c.grid:
                b = binomial_interval(p["trials"] // 2, p["trials"], rc.LEVEL_ALPHA)
                assert (b.hi - b.lo) / 2 < 0.027, (c.id, p)


def test_claims_read_the_evidence_record(tmp_path, monkeypatch):
    from assocmem import evidence, registry

    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path / "ev"))
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    c = registry.get("C10.recall.delta")
    pt = c.report_grid(True)[0]
    seed = registry.point_seed(c.id, pt, 20250525)
    computed = c.run(pt, seed)
    assert "evidence record" not in computed.note
    evidence.run_job(evidence.get_job("recall/sweep"), evidence.JobOptions(backend="serial", progress=False, quick=True))
    read = c.run(pt, seed)
    assert "evidence record recall/sweep: fresh" in read.note
    assert (read.estimate, read.theory, read.passed) == (computed.estimate, computed.theory, computed.passed)
    mutant = c.mutant(pt, seed)  # a mutant is never read from the record
    assert "evidence record" not in mutant.note and mutant.theory != read.theory


def test_recall_figure_quick_points():
    import matplotlib.pyplot as plt

    from assocmem import registry

    fig = registry.get_figure("recall_vs_n")
    rows = [r for p in fig.quick_points for r in fig.compute(p, 1)]
    assert rows and all(0 <= r["lo"] <= r["estimate"] <= r["hi"] <= 1 and 0 <= r["theory"] <= 1 for r in rows)
    plt.close(fig.draw(rows))


@pytest.mark.parametrize("memory", ["linear", "exp", "softmax", "delta"])
def test_measured_recall_returns_the_documented_per_trial_record(memory):
    """The module docstring's record: {"hits", "trials", "position" [T], "s2" [T], "nu" [T]}, with the probed position
    of each trial in [0, N) (drawn uniformly: more than one position over 200 trials), S2 >= 0 and nu = ||v_i||^2 > 0,
    and hits a count out of T."""
    n, trials = 6, 200
    out = measure_recall(memory, n, 8, 4, trials, 3, tau=4.0 if memory in ("exp", "softmax") else None)
    assert set(out) == {"hits", "trials", "position", "s2", "nu"}
    assert out["trials"] == trials and 0 <= out["hits"] <= trials
    for key in ("position", "s2", "nu"):
        assert np.shape(out[key]) == (trials,), key
    pos = np.asarray(out["position"])
    assert ((0 <= pos) & (pos < n)).all() and len(set(pos.tolist())) > 1
    assert (np.asarray(out["s2"]) >= 0).all() and (np.asarray(out["nu"]) > 0).all()
