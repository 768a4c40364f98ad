"""Claims C1-C4 (and the cosine proxy of C3): the linear associative memory and its retrieval SNR.

This module is also the worked example of how to add claims: theory from ``theory.snr_linear``, numerics from
``impl.memories.linear`` (the memory and its ``LinearMemory``) through the one SNR driver ``impl.estimators.snr``, one ``register(Claim(...))`` per claim.
"""

from __future__ import annotations

import math
from functools import partial

import sympy as sp
import torch
from hypothesis import strategies as st

from assocmem import checks
from assocmem.registry import Claim, register, steps
from impl.estimators.sampling import gaussian, rational_orthonormal_keys
from impl.estimators.snr import estimate_snr
from impl.memories import linear as linear_memory
from impl.numerics.device import generator, resolve_device, resolve_dtype, unit_roundoff
from theory import snr_linear as th

MEMORY = ("impl.memories.linear", "impl.memories.memory", "impl.estimators.sampling", "impl.estimators.catoni",
          "impl.estimators.kernel_moments", "impl.estimators.snr_kernel", "impl.estimators.snr_performer",
          "impl.memories.kernels")  # what the identity claims run through (snr_kernel: the ratio's Catoni interval)
MODULES = MEMORY + ("theory.moments", "theory.snr_linear", "impl.memories.memory", "impl.estimators.snr",
                    "impl.estimators.stats")
LINEAR = linear_memory.LinearMemory()



def _gamma(n: int, u: float) -> float:
    """Higham's gamma_n = n u / (1 - n u): the relative error bound of an n-term floating-point sum/product."""
    return n * u / (1 - n * u)


def _sizes(max_n=64, max_d=32):
    return st.fixed_dictionaries({
        "n_pairs": st.integers(1, max_n), "d_k": st.integers(1, max_d), "d_v": st.integers(1, max_d),
    })


# ---------------------------------------------------------------------------------------------- C1 ---------
def run_c1(params, seed, *, device="cpu", dtype="float64"):
    """Eq. 1: the batch write V^T K equals the recurrent write S_t = S_{t-1} + v_t k_t^T, and o = S q equals
    sum_j v_j (k_j^T q). Elementwise bound: each entry of either form is an N-term sum of products, so the two
    differ by at most 2 gamma_{N+1} (|V|^T |K|) (Higham, Thm 3.5; factor 2: both forms carry round-off)."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    gen = generator(seed)
    K = gaussian((2, n, dk), gen, device=device, dtype=dtype)
    V = gaussian((2, n, dv), gen, device=device, dtype=dtype)
    q = gaussian((2, 3, dk), gen, device=device, dtype=dtype)
    u = unit_roundoff(resolve_dtype(dtype))
    S, S_rec = linear_memory.write(K, V), linear_memory.write_recurrent(K, V)
    bound_S = 2 * _gamma(n + 1, u) * (V.abs().swapaxes(-1, -2) @ K.abs())
    O = linear_memory.read(S, q)
    O_sum = torch.einsum("bnv,bnk,bmk->bmv", V, K, q)  # sum_j v_j (k_j^T q), a different order of summation
    bound_O = 2 * _gamma(n + dk + 1, u) * torch.einsum("bnv,bnk,bmk->bmv", V.abs(), K.abs(), q.abs())
    excess = max(float(((S - S_rec).abs() / bound_S.clamp_min(1e-300)).max()),
                 float(((O - O_sum).abs() / bound_O.clamp_min(1e-300)).max()))
    return checks.identity("C1.linear_memory", params, seed, excess, 1.0,
                           note="error as a multiple of the rigorous round-off bound (<= 1 passes)")


register(Claim(
    id="C1.linear_memory", title="Linear associative memory", tag="paper", ref="Eq. 1",
    statement="S = sum_j v_j k_j^T built at once (V^T K) equals S_t = S_{t-1} + v_t k_t^T built one pair at a time "
              "(linear attention), and reading o = S q equals sum_j v_j (k_j^T q), within rigorous round-off bounds.",
    kind="identity", formula=lambda: sp.Eq(sp.Symbol("S"), sp.Sum(sp.Symbol("v_j", commutative=False) * sp.Symbol("k_j^T", commutative=False),
                                                    (sp.Symbol("j"), 1, th.N))),
    run=run_c1, strategy=_sizes, grid=[{"n_pairs": n, "d_k": 16, "d_v": 16} for n in (1, 16, 256)],
    modules=MEMORY,
))


# ---------------------------------------------------------------------------------------------- C2 ---------
def run_c2_split(params, seed, *, device="cpu", dtype="float64"):
    """Eq. 4 numerically: S k_i (write then read) equals c_i v_i + r_i with r_i the explicit sum over j != i
    (Gram route). Both are (N + d_k)-term sums of v_j k_jl k_il: |diff| <= 2 gamma_{N+d_k+1} (|K||K|^T|V|)_i."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    gen = generator(seed)
    K = gaussian((2, n, dk), gen, device=device, dtype=dtype)
    V = gaussian((2, n, dv), gen, device=device, dtype=dtype)
    u = unit_roundoff(resolve_dtype(dtype))
    O = linear_memory.read(linear_memory.write(K, V), K)
    c, r = linear_memory.signal_noise(K, V)
    split = c.unsqueeze(-1) * V + r
    bound = 2 * _gamma(n + dk + 1, u) * ((K.abs() @ K.abs().swapaxes(-1, -2)) @ V.abs())
    excess = float(((O - split).abs() / bound.clamp_min(1e-300)).max())
    return checks.identity("C2.signal_noise", params, seed, excess, 1.0,
                           note="error as a multiple of the rigorous round-off bound (<= 1 passes)")


register(Claim(
    id="C2.signal_noise", title="Signal and noise", tag="paper", ref="Eq. 4",
    statement="S k_i = c v_i + r with c = k_i^T k_i and r = sum_{j != i} v_j (k_j^T k_i): symbolically for generic "
              "entries, and numerically within rigorous round-off bounds.",
    kind="identity", derivation=lambda: steps(th.derivation_signal_noise()),
    formula=lambda: sp.Eq(sp.Symbol("S k_i"), sp.Symbol("c") * sp.Symbol("v_i") + sp.Symbol("r")),
    run=run_c2_split, strategy=_sizes, grid=[{"n_pairs": n, "d_k": 16, "d_v": 16} for n in (2, 64, 512)],
    modules=MEMORY,
))


def run_c2_orthonormal(params, seed, *, device="cpu", dtype="float64"):
    """Orthonormal keys, N <= d_k: r = 0 EXACTLY in rational arithmetic (Cayley-transform keys, rational
    values), and in float64 every retrieved o_i = S k_i equals v_i within 2 gamma_{N+d_k+2} (|K||K|^T|V|)_i
    (the +2 covers rounding the rational keys to float64)."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    exact_K, K = rational_orthonormal_keys(n, dk, seed)
    gen = generator(seed)
    Vf = gaussian((n, dv), gen)
    V_exact = sp.Matrix(n, dv, lambda a, b: sp.Rational(int(Vf[a, b] * 1000), 1000))
    S_exact = V_exact.T * exact_K
    residual_exact = S_exact * exact_K.T - V_exact.T  # columns: S k_i - v_i (c_i = 1)
    exact_ok = residual_exact.is_zero_matrix
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    Kd = K.to(dev, dt)
    Vd = torch.tensor([[float(x) for x in V_exact.row(i)] for i in range(n)], dtype=torch.float64).to(dev, dt)
    O = linear_memory.read(linear_memory.write(Kd, Vd), Kd)
    u = unit_roundoff(dt)
    bound = 2 * _gamma(n + dk + 2, u) * ((Kd.abs() @ Kd.abs().T) @ Vd.abs()) + u * Vd.abs()
    excess = float(((O - Vd).abs() / bound.clamp_min(1e-300)).max())
    if not exact_ok:
        return checks.identity("C2.orthonormal_exact", params, seed, float("inf"), 1.0,
                               note="r != 0 in EXACT rational arithmetic")
    return checks.identity("C2.orthonormal_exact", params, seed, excess, 1.0,
                           note="r = 0 exactly in rational arithmetic; float64 error as a multiple of the round-off bound")


@st.composite
def _orthonormal_sizes(draw):
    dk = draw(st.integers(1, 10))
    return {"n_pairs": draw(st.integers(1, dk)), "d_k": dk, "d_v": draw(st.integers(1, 8))}


register(Claim(
    id="C2.orthonormal_exact", title="Exact retrieval with orthonormal keys", tag="paper", ref="Eq. 4 (corollary)",
    statement="With orthonormal keys and N <= d_k the crosstalk r vanishes and every pair is retrieved exactly "
              "(o_i = v_i): exactly in rational arithmetic, and within round-off in floating point.",
    kind="identity", run=run_c2_orthonormal, strategy=_orthonormal_sizes,
    grid=[{"n_pairs": n, "d_k": 8, "d_v": 4} for n in (1, 4, 8)], modules=MEMORY,
))


def welch_bound(n: int, d: int) -> float:
    """Welch (1974): any N unit vectors in R^d have max_{i != j} |<k_i, k_j>| >= sqrt((N - d) / (d (N - 1)))."""
    return math.sqrt(max(n - d, 0) / (d * (n - 1))) if n > 1 else 0.0


def run_c2_overfull(params, seed, *, device="cpu", dtype="float64"):
    """N > d_k: no N keys are mutually orthogonal, so crosstalk cannot vanish. Checked as the Welch bound on the
    keys' coherence (for Gaussian keys and for the worst case of Haar-orthonormal keys plus extra ones), and as
    r != 0 for Gaussian values. The bound is tight: a regular simplex (N = d_k + 1) attains it."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    gen = generator(seed)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    K = gaussian((n, dk), gen, device=dev, dtype=dt)
    if params.get("keys") == "orthonormal_plus":
        from impl.estimators.sampling import orthonormal_keys

        K = torch.cat([orthonormal_keys(1, dk, dk, gen, device=dev, dtype=dt)[0], K[: n - dk]])
    V = gaussian((n, dv), gen, device=dev, dtype=dt)
    Kn = K / K.norm(dim=-1, keepdim=True)
    G = (Kn @ Kn.T).abs().fill_diagonal_(0)
    coherence, bound = float(G.max()), welch_bound(n, dk)
    _, r = linear_memory.signal_noise(K, V)
    u = unit_roundoff(dt)
    slack = 4 * _gamma(dk + 2, u)  # round-off in the normalised inner products
    crosstalk = float(r.norm(dim=-1).max())
    # Passes iff the coherence respects the Welch bound (error = shortfall below it, tolerance = round-off slack)
    # and the crosstalk is far above round-off (otherwise the shortfall is reported as infinite).
    shortfall = max(bound - coherence, 0.0) if crosstalk > 1e3 * u * float(V.abs().max()) else float("inf")
    return checks.identity("C2.overfull_inexact", params, seed, shortfall, slack,
                           note=f"coherence {coherence:.4g} vs Welch bound {bound:.4g}; max ||r_i|| = {crosstalk:.3g}",
                           coherence=coherence, welch=bound, max_crosstalk=crosstalk)


@st.composite
def _overfull_sizes(draw):
    dk = draw(st.integers(1, 16))
    return {"n_pairs": draw(st.integers(dk + 1, 4 * dk + 8)), "d_k": dk, "d_v": draw(st.integers(1, 8)),
            "keys": draw(st.sampled_from(["gaussian", "orthonormal_plus"]))}


register(Claim(
    id="C2.overfull_inexact", title="No exact retrieval beyond d_k pairs", tag="paper", ref="Eq. 4 (corollary); Welch 1974",
    statement="With N > d_k keys the crosstalk cannot vanish: the keys' coherence max_{i!=j} |cos(k_i, k_j)| is at "
              "least the Welch bound sqrt((N - d_k)/(d_k (N - 1))) > 0, and r != 0 for values in general position.",
    kind="identity", run=run_c2_overfull, strategy=_overfull_sizes,
    grid=[{"n_pairs": n, "d_k": 8, "d_v": 8, "keys": k} for n in (9, 32) for k in ("gaussian", "orthonormal_plus")],
    modules=MEMORY,
))


# ---------------------------------------------------------------------------------------------- C3/C4 -------
def _snr_params(min_d=5, max_n=256, max_d=48):
    return st.fixed_dictionaries({
        "n_pairs": st.integers(4, max_n), "d_k": st.integers(min_d, max_d), "d_v": st.integers(min_d, max_d),
    })


def run_convention(convention, params, seed, *, device="cpu", dtype="float64", wrong=None):
    """Monte Carlo SNR^{-1} in one convention against the exact value (or, for the mutant, a wrong formula)."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    trials = params.get("trials", 1500)
    res = estimate_snr(LINEAR, n, dk, dv, trials, seed, device=device, dtype=dtype, conventions=(convention,))[convention]
    theory = None if wrong is None else wrong(n, dk, dv, res.details.get("kappa"), res.details.get("nu"))
    extra = {k: res.details[k] for k in ("interval", "intervals") if k in res.details}  # Catoni's, per level
    return checks.snr(f"C4.{convention}", params, seed, res, theory, convention=convention, **extra)


MUTANTS = {
    "conditional": ("N in place of N - 1: N d_v / (kappa nu)", lambda n, dk, dv, ka, nu: n * dv / (ka * nu)),
    "probe_averaged": ("(d - 1) in place of (d - 2): (N-1) d_v / ((d_k-1)(d_v-1))",
                       lambda n, dk, dv, ka, nu: (n - 1) * dv / ((dk - 1) * (dv - 1))),
    "ratio_of_expectations": ("d_k + 1 in place of d_k + 2: (N-1)/(d_k+1)", lambda n, dk, dv, ka, nu: (n - 1) / (dk + 1)),
    "typical": ("the paper's asymptote N/d_k taken as exact", lambda n, dk, dv, ka, nu: n / dk),
}
POWER = {
    "conditional": [{"n_pairs": 4, "d_k": 8, "d_v": 8, "trials": 4000}, {"n_pairs": 8, "d_k": 16, "d_v": 32, "trials": 8000}],
    "probe_averaged": [{"n_pairs": 64, "d_k": 12, "d_v": 12, "trials": 4000}, {"n_pairs": 32, "d_k": 16, "d_v": 16, "trials": 4000}],
    "ratio_of_expectations": [{"n_pairs": 64, "d_k": 6, "d_v": 16, "trials": 2000}, {"n_pairs": 128, "d_k": 8, "d_v": 8, "trials": 2000}],
    "typical": [{"n_pairs": 4, "d_k": 16, "d_v": 16, "trials": 4000}, {"n_pairs": 8, "d_k": 8, "d_v": 32, "trials": 6000}],
}
REPORT_GRID = [{"n_pairs": n, "d_k": d, "d_v": d, "trials": 400} for d in (8, 16, 64) for n in (d // 4 or 2, d, 4 * d, 16 * d)]
STATEMENTS = {
    "conditional": "Conditional on the probe (k_i, v_i), SNR^{-1} = (N-1) d_v / (||k_i||^2 ||v_i||^2) exactly.",
    "probe_averaged": "Averaged over probes, SNR^{-1} = (N-1) d_v / ((d_k-2)(d_v-2)) exactly (d_k, d_v > 2). Checked by "
                      "Monte Carlo for d_k, d_v >= 5, where one probe's ratio (~ 1/(||k_i||^2 ||v_i||^2)) has a finite "
                      "variance: Catoni's interval at that exact variance, which bounds the variance of a trial's "
                      "mean over its N probes (for d <= 4 the variance itself is infinite and no interval is valid).",
    "ratio_of_expectations": "As a ratio of expectations, SNR^{-1} = (N-1)/(d_k+2) exactly (Catoni's intervals for "
                             "numerator and denominator at their exact variances, and the ratio of their ends).",
    "typical": "At a typical probe (||k_i||^2 = d_k, ||v_i||^2 = d_v), SNR^{-1} = (N-1)/d_k exactly.",
}
for _conv in th.CONVENTIONS:
    register(Claim(
        id=f"C4.{_conv}", title=f"Linear-memory SNR, {_conv.replace('_', ' ')} convention", tag="suite",
        ref="Eq. 7 (exact finite-size form: this suite)", statement=STATEMENTS[_conv], kind="statistical",
        convention=_conv, formula=partial(th.snr_inv, _conv), derivation=lambda: steps(th.derivation_conventions()),
        run=partial(run_convention, _conv), mutant=partial(run_convention, _conv, wrong=MUTANTS[_conv][1]),
        mutant_says=MUTANTS[_conv][0], strategy=_snr_params, grid=REPORT_GRID,
        quick_grid=[{"n_pairs": 64, "d_k": 16, "d_v": 16, "trials": 400}], power_grid=POWER[_conv], modules=MODULES,
    ))

register(Claim(
    id="C3.ordering", title="The conventions differ at finite d, and in a fixed order", tag="suite", ref="§2.1 (SNR definition)",
    statement="For the linear memory with d_k, d_v > 2: probe-averaged > typical > ratio of expectations, with "
              "differences 2(N-1)(d_k+d_v-2)/((d_k-2)(d_v-2)d_k) and 2(N-1)/(d_k(d_k+2)) (Jensen); all three -> N/d_k.",
    kind="symbolic", derivation=lambda: steps(th.derivation_ordering()), modules=MODULES,
))


ASYMPTOTE_CONVENTIONS = ("probe_averaged", "ratio_of_expectations", "typical")


def run_asymptote(params, seed=None, *, device="cpu", dtype="float64"):
    """Eq. 7 as an approximation: |exact(convention) / (N/d_k) - 1| <= 10 %. Exact arithmetic, no sampling."""
    conv, n, dk, dv = params["convention"], params["n_pairs"], params["d_k"], params["d_v"]
    exact = LINEAR.exact(conv, n, dk, dv, kappa=dk, nu=dv)
    return checks.approximation("C4.asymptote", params, seed, exact, n / dk, 0.10,
                                note="")


def regime_asymptote(results):
    by = {}
    for r in results:
        by.setdefault(r.params["convention"], []).append(r)
    parts = []
    for conv, rs in by.items():
        ok_d = sorted({r.params["d_k"] for r in rs if r.passed})
        bad_d = sorted({r.params["d_k"] for r in rs if not r.passed})
        parts.append(f"{conv}: within 10% at d_k in {ok_d or 'none'}; off at d_k in {bad_d or 'none'}")
    return "; ".join(parts) + " (N = 4 d_k, d_v = d_k)"


register(Claim(
    id="C4.asymptote", title="The paper's SNR^{-1} ~ N/d_k", tag="paper", ref="Eq. 7",
    statement="Every convention's exact SNR^{-1} is within 10% of N/d_k (the paper's Eq. 7) — an approximation: it "
              "holds for large d_k (and d_v), and the report shows where it breaks.",
    kind="approximation", formula=th.paper_asymptote, derivation=lambda: steps(th.derivation_conventions()[6:]),
    run=run_asymptote,
    strategy=lambda: st.fixed_dictionaries({"convention": st.sampled_from(ASYMPTOTE_CONVENTIONS), "n_pairs": st.integers(10_000, 10**6),
                                            "d_k": st.integers(400, 4096), "d_v": st.integers(400, 4096)}),
    grid=[{"convention": c, "n_pairs": 4 * d, "d_k": d, "d_v": d}
          for c in ASYMPTOTE_CONVENTIONS for d in (4, 8, 16, 32, 64, 256)],
    quick_grid=[{"convention": c, "n_pairs": 4 * d, "d_k": d, "d_v": d} for c in ASYMPTOTE_CONVENTIONS for d in (8, 256)],
    regime=regime_asymptote, modules=MODULES,
))


def run_cos_proxy(params, seed, *, device="cpu", dtype="float64"):
    """cos(o, v_i) ~ 1/sqrt(1 + SNR^{-1}) (typical convention): measured mean cosine against the proxy, 3 % relative."""
    n, dk, dv = params["n_pairs"], params["d_k"], params["d_v"]
    res = estimate_snr(LINEAR, n, dk, dv, params.get("trials", 400), seed, device=device, dtype=dtype,
                       conventions=("ratio_of_expectations",))
    est = res.extra["cos"]
    proxy = 1 / math.sqrt(1 + LINEAR.exact("typical", n, dk, dv))
    return checks.approximation("C3.cos_proxy", params, seed, est.value, proxy, 0.03, lo=est.lo, hi=est.hi,
                                note=f"measured mean cos {est.value:.4f} [{est.lo:.4f}, {est.hi:.4f}] vs proxy {proxy:.4f}")


def regime_cos(results):
    ok = sorted({r.params["d_k"] for r in results if r.passed})
    bad = sorted({r.params["d_k"] for r in results if not r.passed})
    return f"within 3% at d = d_k = d_v in {ok or 'none'}; off at d in {bad or 'none'} (all loads N/d_k tried)"


register(Claim(
    id="C3.cos_proxy", title="Cosine proxy for the SNR", tag="suite", ref="§2.1 (derived proxy)",
    statement="The mean cosine between read-out and target is within 3% of 1/sqrt(1 + SNR^{-1}) (typical convention) — "
              "a high-dimensional approximation (r isotropic, independent of v_i).",
    kind="approximation", run=run_cos_proxy,
    strategy=lambda: st.fixed_dictionaries({"n_pairs": st.integers(64, 512), "d_k": st.integers(256, 512),
                                            "d_v": st.integers(256, 512), "trials": st.just(20)}),
    grid=[{"n_pairs": m * d, "d_k": d, "d_v": d, "trials": 200} for d in (4, 16, 64, 256) for m in (1, 4)],
    quick_grid=[{"n_pairs": 4 * d, "d_k": d, "d_v": d, "trials": 100} for d in (4, 256)],
    regime=regime_cos, modules=MODULES,
))
