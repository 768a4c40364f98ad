"""Claims C11-C12: the FFN as an associative memory (paper §2.1.2) and multi-head splitting (paper §3.1).

The paper draws FFN design insights from the memory view; its exact statements are not known to this project, so
each design claim here is the suite's precise, checkable version ([suite]) of docs/CLAIMS.md C11/C12, with what is
measured named in the statement.
"""

from __future__ import annotations

import math
from functools import partial

import sympy as sp

from assocmem import checks
from assocmem.registry import Claim, Result, derived, register
from impl.estimators.snr import estimate_snr
from impl.memories.ffn import FFNMemory
from theory import ffn as tf

MODULES = ("theory.ffn", "theory.kernels", "impl.memories.ffn", "impl.memories.solu", "impl.memories.memory",
           "impl.estimators.snr", "impl.estimators.stats", "impl.estimators.catoni",
            "theory.moments", "theory.snr_linear")  # closed under imports: tests/test_report.py



register(Claim(
    id="C11.second_moments", title="FFN activations: second moments", tag="suite", ref="§2.1.2; docs/CLAIMS.md C11",
    statement="For Z ~ N(0, sigma2): E[relu(Z)^2] = sigma2/2, E[relu(Z)^4] = 3 sigma2^2/2, E[e^{2Z}] = e^{2 sigma2}, "
              "E[Z^2] = sigma2; GLU (gate = up = key): E[relu(Z)^2 Z^2] = 3 sigma2^2/2, E[Z^4] = 3 sigma2^2, "
              "E[Z^2 e^{2Z}] = sigma2 (1 + 4 sigma2) e^{2 sigma2}.",
    kind="symbolic", derivation=derived(tf.derivation_second_moments), modules=MODULES,
))

register(Claim(
    id="C11.snr", title="FFN as a kernel memory: SNR, GLU, top-1 MoE", tag="paper", ref="§2.1.2 (Vignette 1)",
    statement="The constructed FFN's conditional SNR^{-1} is (N-1)(d_v/nu) E[s(Z)^2]/s(beta kappa)^2 with "
              "Z ~ N(0, beta^2 kappa): ReLU (N-1)(d_v/nu)/(2 kappa) for every beta; a ReLU-gated GLU equals the squared-"
              "ReLU FFN; exp is the exp kernel with tau = 1/beta; exact top-1 routing over E experts multiplies "
              "SNR^{-1} by (N/E - 1)/(N - 1) -> 1/E.",
    kind="symbolic", derivation=derived(tf.derivation_snr), modules=MODULES,
))

register(Claim(
    id="C12.per_head", title="Multi-head splitting at fixed width", tag="suite", ref="§3.1 (the paper's multi-head study; formulas: suite)",
    statement="A head of width d_k/h has typical SNR^{-1} (N-1) h/d_k (linear) and (N-1) e^{-d_k/(2h)} (exp, tau = 2): "
              "splitting the exponential memory costs a factor e^{d_k (h-1)/(2h)} per head. The linear factor h is the "
              "typical convention's only: probe-averaged, a linear head of value width d_v/h has SNR^{-1} "
              "(N-1) h d_v/((d_k-2h)(d_v-2h)), a factor h (d_k-2)(d_v-2)/((d_k-2h)(d_v-2h)) > h over one head, and "
              "infinite once d_k/h <= 2 or d_v/h <= 2.",
    kind="symbolic", derivation=derived(tf.derivation_multihead), modules=MODULES,
))


# --- numerical second moments: SymPy's integral against scipy quadrature -------------------------------------------


def _mp_integral(name, var, glu, dps=30) -> float:
    """The theory's integral (tf.second_moment_integral) evaluated by mpmath tanh-sinh quadrature at ``dps`` digits."""
    import mpmath

    integral = tf.second_moment_integral(name, glu).subs(tf.sigma2, var)
    f = sp.lambdify(tf.z, integral.function, modules="mpmath")
    with mpmath.workdps(dps):
        return float(mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf]))


def check_moment_integral(params, seed=None, *, device="cpu", dtype="float64", mutant=False) -> Result:
    """E[s(Z)^2] (GLU: E[s(Z)^2 Z^2]) for GELU/SiLU: the SymPy integral evaluated by mpmath at 30 digits against scipy's
    adaptive quadrature; they must agree to 1e-8 relative (quad asked for 1e-11)."""
    from impl.memories.ffn import second_moment

    name, var, glu = params["activation"], params["var"], params["glu"]
    ref = _mp_integral(name, var, glu)
    est = second_moment(name, var, glu)
    if mutant:  # the Gaussian density without its 1/sqrt(2 pi)
        est = est * math.sqrt(2 * math.pi)
    err = abs(est - ref) / abs(ref)
    return Result(claim="C11.numeric_moments", params=dict(params), seed=seed, passed=err <= 1e-8, theory=ref, estimate=est,
                  error=err, tolerance=1e-8, note="SymPy integral by mpmath quadrature (30 digits) vs scipy.integrate.quad")


def _moment_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"activation": st.sampled_from(["gelu", "silu"]), "var": st.sampled_from([0.25, 1.0, 4.0]),
                                  "glu": st.booleans()})


register(Claim(
    id="C11.numeric_moments", title="GELU and SiLU second moments (verified numerical integrals)", tag="suite",
    ref="docs/CLAIMS.md C11", kind="approximation",
    statement="For GELU (z Phi(z)) and SiLU (z sigmoid(z)), with no closed form used, scipy's quadrature of E[s(Z)^2] "
              "(and E[s(Z)^2 Z^2]) agrees with the SymPy integral evaluated by 30-digit mpmath quadrature to 1e-8 relative.",
    run=check_moment_integral, mutant=partial(check_moment_integral, mutant=True),
    mutant_says="Gaussian density missing 1/sqrt(2 pi)", strategy=_moment_strategy,
    grid=tuple(dict(activation=a, var=v, glu=g) for a in ("gelu", "silu") for v in (0.25, 1.0, 4.0) for g in (False, True)),
    quick_grid=(dict(activation="gelu", var=1.0, glu=False),),
    power_grid=(dict(activation="silu", var=1.0, glu=False),), modules=MODULES,
))


# --- Monte Carlo on constructed FFN memories ---------------------------------------------------------------------


def _mutant_theory(name, n_int, d_v, kappa, nu, beta, glu):
    """Wrong: the noise taken as the activation's variance, E[s^2] - E[s]^2, instead of its second moment."""
    import numpy as np
    from scipy import integrate

    from impl.memories.ffn import _act_np, ffn_theory, second_moment

    var = beta**2 * kappa
    sd = math.sqrt(var)
    if name == "exp":  # E[e^Z] = e^{var/2}, E[Z e^Z] = var e^{var/2} (MGF and its derivative)
        mean = math.exp(var / 2) * (var if glu else 1.0)
    else:
        mean, _ = integrate.quad(lambda u: float(_act_np(name, np.array(sd * u))) * (sd * u if glu else 1.0)
                                 * math.exp(-u * u / 2) / math.sqrt(2 * math.pi), -40, 40, epsrel=1e-11, limit=200)
    m2 = second_moment(name, var, glu)
    return ffn_theory(name, n_int, d_v, kappa, nu, beta, glu) * (m2 - mean**2) / m2


def check_ffn(params, seed, *, activation, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    conv = params["convention"]
    beta = params["beta_scale"] / math.sqrt(params["d_k"]) if "beta_scale" in params else None
    memory = FFNMemory(activation, glu=params["glu"], experts=params.get("experts", 1), beta=beta)
    res = estimate_snr(memory, params["n_pairs"], params["d_k"], params["d_v"], params["trials"], seed, device=device,
                       dtype=dtype, alpha=alpha)[conv]
    theory = res.exact
    if mutant:
        n_int = params["n_pairs"] // params.get("experts", 1) - 1
        if params.get("experts", 1) > 1:  # MoE mutant: interfering slots (N - 1)/E instead of N/E - 1
            theory = theory * (params["n_pairs"] - 1) / params["experts"] / n_int
        else:
            theory = _mutant_theory(activation, n_int, params["d_v"], res.details["probe_kappa"], res.details["probe_nu"],
                                    res.details["beta"], params["glu"])
    return checks.snr(f"C11.{activation}", params, seed, res, theory, **_interval_record(res))


def _interval_record(res) -> dict:
    """Catoni's interval and its intervals at the calibration levels, for the calibration (nothing for a t
    interval, which the calibration rebuilds from its se)."""
    d = res.details
    return {"interval": d["interval"], "intervals": d["intervals"]} if d.get("interval") else {}


# The exp activation at the default key scale beta = 1/sqrt(d_k) has lognormal interference weights with log-variance
# 4 beta^2 kappa ~ 4 (GLU heavier still): the skewness of a 1500-trial mean is beyond what a t interval resolves (the
# nightly profile found the exact value outside the 1e-6 interval at N = 64, d_k = 8, GLU, typical; by the exp
# kernel's heavy-tail detector (C7) plain sampling is unreliable there). The exp FFN claim is therefore stated at
# beta = 1/(2 sqrt(d_k)) (log-variance ~ 1), where the t interval was calibrated; C7.heavy_tail covers the heavy regime.
# (The interval is now Catoni's at the exact variance, valid at beta = 1/sqrt(d_k) too, but there one GLU sample's
# relative variance is ~50 at N = 16, so 1500 trials would resolve the value only to about its own size.)
EXP_BETA_SCALE = 0.5


def _ffn_strategy(moe=False, activation=""):
    from hypothesis import strategies as st

    d = {"n_pairs": st.sampled_from([16, 32, 64]), "d_k": st.sampled_from([8, 16]), "d_v": st.sampled_from([8, 16]),
         "trials": st.just(1500), "glu": st.booleans(), "convention": st.sampled_from(["conditional", "typical"])}
    if activation == "exp":
        d["beta_scale"] = st.just(EXP_BETA_SCALE)
    if moe:
        d["experts"] = st.sampled_from([2, 4, 8])
        d["glu"] = st.just(False)
    return st.fixed_dictionaries(d)


for _a in ("relu", "relu2", "gelu", "silu", "exp"):
    _x = {"beta_scale": EXP_BETA_SCALE} if _a == "exp" else {}
    _g = tuple(dict(n_pairs=64, d_k=16, d_v=16, trials=3000, glu=g, convention=c, **_x) for g in (False, True)
               for c in ("conditional", "typical"))
    register(Claim(
        id=f"C11.{_a}", title=f"Constructed FFN memory, activation {_a} (and its GLU)", tag="suite", ref="§2.1.2; docs/CLAIMS.md C11",
        statement=f"An FFN with W_up = K/sqrt(d_k), W_down = V^T and activation {_a} (optionally GLU with gate = up), probed "
                  "with a stored key, has Monte Carlo SNR^{-1} (conditional or typical convention, fresh other pairs) whose "
                  "interval at level 1 - 1e-6 contains (N-1)(d_v/nu) E[s(Z)^2]/s(beta kappa)^2 (GLU: E[s(Z)^2 Z^2]/"
                  "(beta kappa s(beta kappa))^2), Z ~ N(0, beta^2 kappa)."
                  + (" Stated at beta = 1/(2 sqrt(d_k)): at beta = 1/sqrt(d_k) the exp activation's interference is "
                     "lognormal with log-variance ~ 4 and plain sampling cannot resolve its mean (see C7.heavy_tail)."
                     if _a == "exp" else ""),
        kind="statistical", run=partial(check_ffn, activation=_a), mutant=partial(check_ffn, activation=_a, mutant=True),
        mutant_says="noise from the activation's variance E[s^2] - E[s]^2 instead of its second moment",
        strategy=partial(_ffn_strategy, activation=_a), grid=_g, quick_grid=_g[:1],
        power_grid=(dict(n_pairs=64, d_k=16, d_v=16, trials=3000, glu=False, convention="typical", **_x),), modules=MODULES,
    ))

_g = tuple(dict(n_pairs=64, d_k=16, d_v=16, trials=3000, glu=False, convention="typical", experts=e) for e in (2, 4, 8))
register(Claim(
    id="C11.moe", title="Top-1 MoE with exact routing cuts interference by about E", tag="suite", ref="§2.1.2; docs/CLAIMS.md C11",
    statement="A constructed ReLU FFN split into E experts of N/E slots with exact (hash) top-1 routing has Monte Carlo "
              "SNR^{-1} whose interval at level 1 - 1e-6 contains (N/E - 1)(d_v/nu)/(2 kappa), i.e. the dense value times "
              "(N/E - 1)/(N - 1).",
    kind="statistical", run=partial(check_ffn, activation="relu"), mutant=partial(check_ffn, activation="relu", mutant=True),
    mutant_says="(N - 1)/E interfering slots instead of N/E - 1 (25% off at N = 16, E = 4)", strategy=partial(_ffn_strategy, True),
    grid=_g, quick_grid=_g[:1],
    power_grid=(dict(n_pairs=16, d_k=16, d_v=16, trials=6000, glu=False, convention="typical", experts=4),), modules=MODULES,
))


def check_router(params, seed, *, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """A random linear router (expert = argmax of R k) routes correlated keys together: the measured reduction of
    SNR^{-1} relative to the dense memory is weaker than exact routing's 1/E-type factor (N/E - 1)/(N - 1)."""
    kw = dict(device=device, dtype=dtype, alpha=alpha)
    n, d, E, T = params["n_pairs"], params["d_k"], params["experts"], params["trials"]
    moe = estimate_snr(FFNMemory("relu", experts=E, routing="router"), n, d, d, T, seed, **kw)["typical"]
    dense = estimate_snr(FFNMemory("relu"), n, d, d, T, seed + 1, **kw)["typical"]
    exact = (n / E - 1) / (n - 1)
    lo_ratio = moe.lo / dense.hi
    ratio = moe.estimate / dense.estimate
    return Result(claim="C11.moe_router", params=dict(params), seed=seed, passed=lo_ratio > exact, theory=exact, estimate=ratio,
                  lo=lo_ratio, hi=moe.hi / max(dense.lo, 1e-300), level=1 - 2 * alpha, n=T,
                  note="ratio of router-MoE to dense SNR^{-1} (conservative interval from the two intervals) against exact routing's factor")


_ROUTER_GRID = tuple(dict(n_pairs=256, d_k=16, trials=800, experts=e) for e in (2, 4, 8))
register(Claim(
    id="C11.moe_router", title="Top-1 MoE with a learned-style linear router cuts interference by less than E", tag="suite",
    ref="§2.1.2; docs/CLAIMS.md C11 ('about E')", kind="experiment",
    statement="With a Gaussian linear router (expert = argmax_e (R k)_e), the typical SNR^{-1} of a constructed top-1 ReLU "
              "MoE memory (N = 256, d_k = d_v = 16) divided by the dense memory's is larger than exact routing's factor "
              "(N/E - 1)/(N - 1): keys routed together are correlated with the probe.",
    run=check_router, grid=_ROUTER_GRID,
    # The quick grid is the full grid: each point draws ONE Gaussian router (from the point's seed), and how many keys
    # share the probe's expert varies with that draw, so a single point's verdict is not a function of E alone (at
    # E = 4 the drawn router happens to give the exact-routing factor). A one-point quick grid therefore gave
    # "fails" where the full grid gives "holds only in a regime"; with the same three points both agree.
    quick_grid=_ROUTER_GRID, modules=MODULES,
    notes="The verdict depends on the routers drawn: one Gaussian router per grid point (seeded), so the regime names "
          "router draws as much as expert counts; the quick and full grids are the same three points.",
))


def check_trained(params, seed, *, device="cpu", dtype="float64") -> Result:
    """Recall (nearest stored value by cosine) of a trained FFN memory at widths d_ff = N/4 and d_ff = 2N."""
    from impl.memories.ffn import train_ffn_memory

    n = params["n_pairs"]
    narrow, _ = train_ffn_memory(n, params["d_k"], params["d_k"], n // 4, params["activation"], seed, steps=params["steps"])
    wide, _ = train_ffn_memory(n, params["d_k"], params["d_k"], 2 * n, params["activation"], seed, steps=params["steps"])
    return Result(claim="C11.trained", params=dict(params), seed=seed, passed=wide == 1.0 and narrow < 1.0, estimate=wide,
                  theory=1.0, extra={"recall_narrow": narrow, "recall_wide": wide},
                  note=f"recall at d_ff = N/4: {narrow:.3f}; at d_ff = 2N: {wide:.3f}")


register(Claim(
    id="C11.trained", title="Trained FFN memories: capacity grows with width", tag="suite", ref="§2.1.2; docs/CLAIMS.md C11",
    kind="experiment",
    statement="A bias-free one-hidden-layer FFN trained by full-batch Adam (lr 1e-2) to map N = 64 Gaussian keys (d_k = 16) "
              "to Gaussian values recalls every pair (nearest stored value by cosine) at width d_ff = 2N but not at d_ff = N/4.",
    run=check_trained, grid=tuple(dict(n_pairs=64, d_k=16, activation=a, steps=300) for a in ("relu", "gelu", "silu", "relu2")),
    quick_grid=(dict(n_pairs=64, d_k=16, activation="relu", steps=300),), modules=MODULES,
))
