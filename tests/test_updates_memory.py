"""Topic tests for U1 table rendering, U3/U4 experiments' inputs, and the figures' quick points."""

import math

import pytest
import torch

from assocmem import registry
from impl.numerics.errors import InputError
from impl.rules.experiments import (
    delta_msd_theory,
    rls_msd_theory,
    stream,
    unit_keys,
    write_and_probe,
)
from theory import updates as th


def test_update_table_lists_every_rule_with_its_verdicts():
    sec = next(s for s in registry.sections() if s.id == "U1.table")
    verdicts = {c.id: ("holds", "all grid points") for c in registry.claims() if c.id.startswith(("U1", "U2"))}
    verdicts["U1.rls"] = ("fails", "no grid point")
    md = sec.render(verdicts)
    for name in ("linear attention", "DeltaNet", "Gated DeltaNet", "Longhorn", "Titans", "RLS", "softmax", "DeltaFormer"):
        assert name in md
    rls_line = next(line for line in md.splitlines() if line.startswith("| RLS"))
    assert "| fails |" in rls_line
    assert md.count("\n|") >= 11  # header, rule, 10 rows


def test_u4_answer_section_quotes_verdicts():
    sec = next(s for s in registry.sections() if s.id == "U4.answer")
    md = sec.render({"U4.rls_rate": ("holds", "")})
    assert "U4.rls_rate: holds" in md and "not run" in md


def test_theory_formulas_agree_with_impl_helpers():
    vals = {th.d_sym: 8, th.dv_sym: 4, th.sigma: 0.3, th.b: 0.5, th.t_sym: 100}
    assert math.isclose(float(th.delta_msd().subs(vals)), delta_msd_theory(0.5, 8, 4, 0.3), rel_tol=1e-12)
    assert math.isclose(float(th.rls_msd().subs(vals)), rls_msd_theory(100, 8, 4, 0.3), rel_tol=1e-12)
    assert delta_msd_theory(2 * 8 / 10, 8, 4, 0.3) == float("inf")  # b at the stability limit 2 d_k/(d_k + 2)


def test_experiment_bad_inputs():
    g = torch.Generator().manual_seed(0)
    K, V = unit_keys((2, 5, 4), g), torch.randn(2, 5, 4, dtype=torch.float64)
    with pytest.raises(InputError, match="memory"):
        write_and_probe("hopfield", K, V)
    with pytest.raises(InputError, match="memory"):
        stream("gla", d_k=2, d_v=2, T=4, trials=2, sigma=0.1, seed=0)
    with pytest.raises(InputError, match="d_k"):
        stream("rls", d_k=0, d_v=2, T=4, trials=2, sigma=0.1, seed=0)
    with pytest.raises(InputError, match="sigma"):
        stream("rls", d_k=2, d_v=2, T=4, trials=2, sigma=float("nan"), seed=0)
    with pytest.raises(InputError, match="beta"):
        write_and_probe("deltanet", K, V, b=2.5)
    run = registry.get("U4.delta_neighbourhood").run
    base = {"d_k": 2, "d_v": 1, "sigma": 0.5, "trials": 4, "window": 4}
    for b in (1.0, 0.0, 0.99999):  # at / outside / too near the mean-square stability limit 2 d_k/(d_k+2) = 1
        with pytest.raises(InputError, match="b"):
            run(dict(base, b=b), 0)


def test_unnormalised_linear_attention_grows():
    e, cps, _ = stream("linear", d_k=4, d_v=2, T=400, trials=8, sigma=0.1, seed=1, checkpoints=[100, 400])
    assert float(e[:, 1].mean()) > 4 * float(e[:, 0].mean())  # ~ t^2 ||W||^2 / d_k^2: x16 expected


def test_the_rls_stream_at_its_default_ridge_is_minimum_norm_least_squares():
    """U4.convergence plots ``stream("rls")`` at its default ridge beside rls_msd_theory, the lam -> 0 limit (the
    minimum-norm solution). Without noise, after t < d_k pairs that solution leaves exactly the unseen part,
    ||W (I - P)||_F^2 with P the projection onto the keys' span, computed here from the keys by SVD. Ridge lam adds
    at most ||W||_F^2 (lam / s_min^2)^2, s_min the keys' smallest singular value, so a default ridge of order one
    (rather than ~0) fails by orders of magnitude."""
    d_k, d_v, t, trials, seed = 8, 3, 5, 4, 13
    err, _, W = stream("rls", d_k=d_k, d_v=d_v, T=t, trials=trials, sigma=0.0, seed=seed, checkpoints=[t])
    g = torch.Generator().manual_seed(seed)
    W_ref = torch.randn((trials, 1, d_v, d_k), generator=g, dtype=torch.float64)
    K = torch.randn((trials, 1, t, d_k), generator=g, dtype=torch.float64) / d_k**0.5
    assert torch.equal(W, W_ref)
    for i in range(trials):
        _, sv, Vh = torch.linalg.svd(K[i, 0], full_matrices=False)
        P = Vh.T @ Vh
        unseen = float(((W[i, 0] @ (torch.eye(d_k, dtype=torch.float64) - P)) ** 2).sum())
        bound = float((W[i, 0] ** 2).sum()) * (1e-6 / float(sv.min()) ** 2) ** 2 + 1e-12 * unseen
        assert unseen > 1.0 and abs(float(err[i, 0]) - unseen) <= bound, (i, float(err[i, 0]), unseen, bound)


@pytest.mark.parametrize("fig_id", ["U3.forgetting", "U3.delta_vs_linear_snr", "U4.convergence", "U4.snr_vs_context"])
def test_figures_quick_points_draw(fig_id):
    f = registry.get_figure(fig_id)
    rows = [r for p in f.quick_points for r in f.compute(p, 7)]
    assert rows and all(all(not (isinstance(v, float) and math.isnan(v)) for v in r.values()) for r in rows)
    fig = f.draw(rows)
    assert fig.axes


@pytest.mark.parametrize("claim_id,time", [("U4.rls_rate", "t"), ("U4.delta_neighbourhood", r"\infty")])
def test_u4_formulas_render_their_left_side_as_latex(claim_id, time):
    # the left side once rendered as "E||S^{2}_{t - W||}" (a plain symbol name split at '_' and '^')
    import sympy as sp

    tex = sp.latex(registry.get(claim_id).formula())
    lhs = tex.split("=")[0]
    assert lhs.strip() == rf"\mathbb{{E}}\,\lVert S_{{{time}}} - W \rVert_F^2" and "||" not in tex
