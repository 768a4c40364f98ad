"""Claims C5-C10: kernel associative memories (paper §2.1.1; docs/CLAIMS.md Part I).

Pairs the SymPy derivations of ``theory.kernels`` with the memories and Monte Carlo estimators of
``impl.memories.kernels`` / ``impl.estimators.snr_kernel``. Statistical claims compare a calibrated interval (level 1 - alpha) with
the exact value; each carries a mutant (a plausible wrong formula) that the same check must reject.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import sympy as sp
import torch

from assocmem import checks
from assocmem import regions as stated_regions
from assocmem.claims.family import by_convention, snr_family
from assocmem.registry import Claim, Result, derived, register
from impl.estimators import catoni
from impl.estimators.snr import estimate_snr
from impl.memories.kernel import KernelMemory, SphereMemory, kernel_memory
from theory import kernels as tk

MODULES = ("theory.kernels", "theory.moments", "impl.memories.kernels", "impl.memories.kernel", "impl.estimators.performer_memory_moments", "impl.estimators.snr_kernel", "impl.estimators.catoni", "impl.estimators.snr_performer", "impl.estimators.snr_sphere", "impl.estimators.kernel_moments", "impl.estimators.stats", "impl.memories.memory", "impl.estimators.snr",
            "theory.snr_linear")  # closed under imports: tests/test_report.py
CONV_WORDS = {
    "conditional": "conditional (a function of the probe's ||k_i||^2 and ||v_i||^2)",
    "probe_averaged": "probe-averaged (expectation over the probe of the conditional value)",
    "ratio_of_expectations": "ratio of expectations",
    "typical": "typical (conditional at ||k_i||^2 = d_k, ||v_i||^2 = d_v)",
}



# ------------------------------------------------------------------------------------------------------------------
# Symbolic claims
# ------------------------------------------------------------------------------------------------------------------

register(Claim(
    id="C5.kernel_memory", title="Kernel memory: signal plus noise, feature map = kernel", tag="paper", ref="§2.1.1",
    statement="For any kernel kappa, o = sum_j v_j kappa(k_j, k_i) equals c v_i + r with c = kappa(k_i, k_i) and "
              "r = sum_{j != i} v_j kappa(k_j, k_i); with kappa = phi^T phi the memory S = sum_j v_j phi(k_j)^T gives "
              "S phi(q) = sum_j v_j kappa(k_j, q) (symbolic entries, N = 3).",
    kind="symbolic", derivation=derived(tk.derivation_signal_noise), modules=MODULES,
))

register(Claim(
    id="C6.general", title="General kernel SNR", tag="paper", ref="§2.1.1 (general kernel SNR formula)",
    statement="With values zero-mean, isotropic and independent of the keys, E_others ||r||^2 = (N-1) d_v "
              "E_k[kappa(k, k_i)^2], so SNR^{-1} = (N-1)(d_v/||v_i||^2) E_k[kappa(k, k_i)^2] / kappa(k_i, k_i)^2 "
              "(conditional convention).",
    kind="symbolic", derivation=derived(tk.derivation_noise_energy), modules=MODULES,
))

register(Claim(
    id="C6.second_moments", title="Second moments of the kernels under Gaussian keys", tag="suite", ref="§2.1.1; Appendix A",
    statement="For k ~ N(0, I) and ||y||^2 = kappa: E[(k^T y)^2] = kappa, E[(k^T y)^{2p}] = (2p-1)!! kappa^p, "
              "E[max(0, k^T y)^2] = kappa/2, E[exp(2 k^T y/tau)] = exp(2 kappa/tau^2), "
              "E[exp(-||k-y||^2/s^2)] = (s^2/(s^2+2))^{d_k/2} exp(-kappa/(s^2+2)).",
    kind="symbolic", derivation=derived(tk.derivation_second_moments), modules=MODULES,
))

register(Claim(
    id="C7.exact_forms", title="Exponential kernel: exact SNR in every convention", tag="reconstructed",
    ref="§2.1.1 ('SNR^{-1}_exp ~ N exp(2(...')",
    statement="kappa = exp(x^T y/tau), a = 2(1/tau^2 - 1/tau): conditional (N-1)(d_v/nu) e^{a ||k_i||^2}; "
              "probe-averaged (N-1) d_v/(d_v-2) (1-2a)^{-d_k/2} (finite iff 1-2a > 0); ratio of expectations "
              "(N-1) ((1-4/tau)/(1-4/tau^2))^{d_k/2} (tau > 4); typical (N-1) e^{a d_k}.",
    kind="symbolic", derivation=derived(tk.derivation_conventions, "exp"), modules=MODULES,
    formula=lambda: tk.snr_inv("exp", "conditional"),
))

register(Claim(
    id="C7.temperature", title="Exponential kernel: optimum tau = 2, tau = sqrt(d_k), conventions disagree",
    tag="reconstructed", ref="§2.1.1",
    statement="a(tau) is minimised at tau = 2 (both typical and probe-averaged SNR^{-1} are minimal there); typical "
              "SNR^{-1} is (N-1) e^{-d_k/2} at tau = 2 and (N-1) e^{2 - 2 sqrt(d_k)} at tau = sqrt(d_k); the "
              "probe-averaged value at tau = 2 is (N-1) d_v/(d_v-2) 2^{-d_k/2}: log-capacity grows at rate 1/2 per "
              "dimension (typical) but log(2)/2 (probe-averaged).",
    kind="symbolic", derivation=derived(tk.derivation_exp_temperature), modules=MODULES,
    formula=lambda: tk.snr_inv("exp", "typical"),
))

for _k in ("relu", "poly", "rbf", "linear"):
    register(Claim(
        id=f"C9.{_k}.exact_forms", title=f"{_k} kernel: exact SNR in every convention", tag="suite", ref="docs/CLAIMS.md C9 (C6 applied)",
        statement=f"The closed forms of SNR^{{-1}} for the {_k} kernel in all four conventions follow from C6 with "
                  "Gaussian/chi-square moments: " + "; ".join(f"{c}: {sp.sstr(tk.snr_inv(_k, c))}" for c in tk.CONVENTIONS),
        kind="symbolic", derivation=derived(tk.derivation_conventions, _k), modules=MODULES,
        formula=partial(tk.snr_inv, _k, "conditional"),
    ))

register(Claim(
    id="C9.taylor.derivation", title="Taylor feature map identity (symbolic)", tag="suite", ref="docs/CLAIMS.md C9 (Based, Arora et al. 2024)",
    statement="phi(x) = [1, x, vec(x x^T)/sqrt(2)] satisfies phi(x)^T phi(y) = 1 + x^T y + (x^T y)^2/2 exactly.",
    kind="symbolic", derivation=derived(tk.derivation_taylor), modules=MODULES,
))

register(Claim(
    id="C9.performer.derivation", title="Performer random features: unbiasedness and variance", tag="suite",
    ref="Choromanski et al. 2020, Lemma 2",
    statement="From the Gaussian MGF: both positive and trigonometric random features are unbiased for exp(x^T y); "
              "Var+ = (1/m) e^{||x+y||^2} SM^2 (1 - e^{-||x+y||^2}), Var_trig = (1/(2m)) e^{||x+y||^2} SM^{-2} "
              "(1 - e^{-||x-y||^2})^2.",
    kind="symbolic", derivation=derived(tk.derivation_performer), modules=MODULES,
))

register(Claim(
    id="C9.performer.memory_noise_theory", title="Performer noise floor in a memory: closed form and divergence", tag="suite",
    ref="docs/CLAIMS.md C9 (random features)",
    statement="With Gaussian keys and kernel exp(k^T q/tau) the extra noise energy per interfering pair from m positive "
              "random features is [(1-2/tau)^{-d_k/2} e^{kappa/tau + 8 kappa/(tau^2 - 2 tau)} - e^{2 kappa/tau^2}]/m, "
              "finite only for tau > 2.",
    kind="symbolic", derivation=derived(tk.derivation_performer_memory), modules=MODULES,
))

register(Claim(
    id="C9.sphere", title="Keys on the sphere: Bessel moments", tag="suite", ref="docs/CLAIMS.md C9 (von Mises-Fisher normaliser)",
    statement="For x uniform on S^{d-1} and ||y|| = 1, E[e^{b x^T y}] = Gamma(d/2)(b/2)^{1-d/2} I_{d/2-1}(b) (derived from "
              "the moments (1/2)_m/(d/2)_m of x^T y); the exp kernel's SNR^{-1} is (N-1)(d_v/nu) E[e^{2b x^T y}] e^{-2b}.",
    kind="symbolic", derivation=derived(tk.derivation_sphere), modules=MODULES,
    formula=lambda: tk.sphere_snr_inv("conditional"),
))

register(Claim(
    id="C10.capacity", title="Capacity per kernel", tag="suite", ref="docs/CLAIMS.md C10",
    statement="N_max(d_k, rho) with SNR^{-1}(N_max) = rho (typical convention): linear 1 + rho d_k, polynomial "
              "1 + rho d_k^p/(2p-1)!!, exponential at tau = 2 1 + rho e^{d_k/2} (probe-averaged: 1 + rho (d_v-2)/d_v 2^{d_k/2}).",
    kind="symbolic", derivation=derived(tk.derivation_capacity), modules=MODULES,
    formula=lambda: tk.capacity("exp").subs(tk.tau, 2),
))


# ------------------------------------------------------------------------------------------------------------------
# Statistical claims: Monte Carlo SNR against the exact forms
# ------------------------------------------------------------------------------------------------------------------

_SYMS = (tk.N, tk.d_k, tk.d_v, tk.kappa, tk.nu, tk.tau, tk.p, tk.s)


def _mutant_expr(kernel: str, convention: str) -> sp.Expr:
    """A plausible wrong formula per kernel (what a slip in the derivation would give)."""
    e = tk.snr_inv(kernel, convention)
    if kernel == "exp":  # the factor 2 of kappa^2 = exp(2 x^T y / tau) forgotten: every exponent halved
        forms = {
            "conditional": (tk.N - 1) * (tk.d_v / tk.nu) * sp.exp(tk.exp_exponent() * tk.kappa / 2),
            "probe_averaged": (tk.N - 1) * tk.d_v / (tk.d_v - 2) * (1 - tk.exp_exponent()) ** (-tk.d_k / 2),
            "ratio_of_expectations": (tk.N - 1) * (1 - 2 / tk.tau) ** (tk.d_k / 2) / (1 - 2 / tk.tau**2) ** (tk.d_k / 2),
            "typical": (tk.N - 1) * sp.exp(tk.exp_exponent() * tk.d_k / 2),
        }
        return forms[convention]
    if kernel == "relu":  # E[relu(Z)^2] taken as E[Z^2] (the 1/2 lost)
        return 2 * e
    if kernel == "poly":  # (2p-1)!! replaced by p!
        return e * sp.factorial(tk.p) / sp.factorial2(2 * tk.p - 1)
    if kernel == "rbf":  # kernel exp(-||x-y||^2 / s^2) (the 2 in 2 s^2 lost): s -> s / sqrt(2)
        return e.subs(tk.s, tk.s / sp.sqrt(2))
    return tk.N * e / (tk.N - 1)  # linear: N in place of N - 1


@lru_cache(maxsize=None)
def _lambdified(kernel: str, convention: str, mutant: bool):
    expr = _mutant_expr(kernel, convention) if mutant else tk.snr_inv(kernel, convention)
    return sp.lambdify(_SYMS, expr, modules="mpmath")


def sympy_value(kernel, convention, params, kappa=None, nu=None, mutant=False) -> float:
    f = _lambdified(kernel, convention, mutant)
    args = (params["n_pairs"], params["d_k"], params["d_v"], kappa if kappa is not None else 1.0,
            nu if nu is not None else 1.0, params.get("tau", 1.0), params.get("p", 2), params.get("s", 1.0))
    return float(f(*args))


def _memory(kernel: str, params) -> KernelMemory:
    """The kernel memory at a grid point (its temperature, degree or bandwidth taken from the point)."""
    return kernel_memory(kernel, **{k: params[k] for k in {"exp": ("tau",), "poly": ("p",), "rbf": ("s",)}.get(kernel, ())
                                    if k in params})


def _sympy(kernel: str, mutant: bool = False):
    """The exact value from the SymPy form (``mutant``: the wrong formula), at the drawn probe where there is one."""
    def value(convention, params, kappa, nu):
        conv = "conditional" if kappa is not None else convention
        return sympy_value(kernel, conv, params, kappa, nu, mutant)
    return value


def _bound(res) -> dict:
    """The interval kind and its interval at each calibration level, where the estimator's interval is Catoni's
    (what the calibration rebuilds its coverage from); empty otherwise."""
    if not res.details.get("interval"):
        return {}
    return {"interval": res.details["interval"], "intervals": res.details["intervals"]}


def _record(res) -> dict:
    """What a kernel check records beside the interval: the sampler used and the plain-sampling diagnostic."""
    out = {"mode_used": res.method, "plain_reliable": res.details["plain_reliable"]}
    out.update(_bound(res))
    if res.details.get("plain_ess") is not None:
        out["plain_ess"] = res.details["plain_ess"]
    return out


def _diagnostic(kernel: str, convention: str, params) -> tuple[bool | None, dict]:
    """The exact plain-sampling diagnostic (``snr_kernel.plain_reliability``) at a point; the conditional convention
    at the typical probe ||k_i||^2 = d_k (the homogeneous kernels' diagnostic does not depend on the probe)."""
    from impl.estimators.snr_kernel import plain_reliability

    prm = {k: params[k] for k in {"exp": ("tau",), "poly": ("p",), "rbf": ("s",)}.get(kernel, ()) if k in params}
    kappa = float(params["d_k"]) if convention == "conditional" else None
    return plain_reliability(kernel, convention, params["n_pairs"], params["d_k"], params["d_v"], params["trials"],
                             kappa, prm)


def _region(kernel: str, convention: str, params) -> str | None:
    """None inside the region where the claim is stated, the reason outside: the exact variance of one plain sample
    (what makes the interval Catoni's, valid at every level) must be finite and known, and the statement's own
    conditions hold (probe-averaged: d_v > 8, and d_k > 8 (relu) or d_k > 8p (poly); exp ratio: tau >= 24)."""
    d_k, d_v = params["d_k"], params["d_v"]
    if convention == "probe_averaged":
        if d_v <= 8:
            return f"probe-averaged is stated for d_v > 8, got d_v = {d_v}"
        need = {"relu": 8, "poly": 8 * params.get("p", 2)}.get(kernel)
        if need is not None and d_k <= need:
            return f"probe-averaged {kernel} is stated for d_k > {need}, got d_k = {d_k}"
    if kernel == "exp" and convention == "ratio_of_expectations" and params.get("tau", 0) < 24:
        return f"the exp ratio of expectations is stated for tau >= 24, got tau = {params.get('tau')}"
    reliable, diag = _diagnostic(kernel, convention, params)
    rel = diag.get("plain_relvar")
    if reliable is None or rel is None or not math.isfinite(rel):
        return "the exact variance of one plain sample is not finite or not known here (no finite-sample interval)"
    return None


def _heaviness(kernel: str, convention: str, params) -> float:
    """How near the point is to the reliability boundary: max(100 / effective sample size, skewness of the mean /
    0.5) (1 at the boundary)."""
    _, diag = _diagnostic(kernel, convention, params)
    ess, skew = diag.get("plain_ess"), diag.get("plain_term_skew_of_mean")
    return max(100 / ess if ess else math.inf, (skew or 0.0) / 0.5)


def _strategy(kernel: str, convention: str):
    return _raw_strategy(kernel, convention).filter(lambda p: _region(kernel, convention, p) is None)


def _raw_strategy(kernel: str, convention: str):
    from hypothesis import strategies as st

    base = {"n_pairs": st.integers(8, 48), "d_k": st.sampled_from([8, 12, 16]), "d_v": st.sampled_from([8, 16]),
            "trials": st.just(1500)}
    if convention == "probe_averaged":  # one sample carries 1/||v_i||^2 (and relu: 1/||k_i||^2): d > 8 for a finite 4th moment
        base["d_v"] = st.just(16)
        if kernel == "relu":
            base["d_k"] = st.sampled_from([12, 16])
    if kernel == "exp":  # plain sampling resolves these temperatures at d_k <= 16 (see C7.heavy_tail for the rest)
        taus = [24.0, 32.0] if convention == "ratio_of_expectations" else [6.0, 8.0, 12.0]
        base["tau"] = st.sampled_from(taus)
    if kernel == "poly":
        base["p"] = st.sampled_from([1, 2, 3])
        if convention == "probe_averaged":
            # One sample is proportional to ||k_i||^(-2p) / ||v_i||^2: its fourth moment (a standard error that
            # converges) needs E[chi2_{d_k}^(-4p)] < inf, i.e. d_k > 8p. Between 4p and 8p the variance is finite but
            # the t interval under-covers (the nightly profile found the exact value outside the 1e-6 interval at
            # p = 3, d_k = 16; calibration at p = 2, d_k = 8 missed 13% at alpha = 0.05).
            return st.sampled_from([(1, 12), (1, 16), (2, 24), (3, 32)]).flatmap(
                lambda pd: st.fixed_dictionaries(dict(base, p=st.just(pd[0]), d_k=st.just(pd[1]))))
    if kernel == "rbf":
        base["s"] = st.sampled_from([2.0, 4.0])  # s = 1 at d_k = 16 is heavy-tailed too (rare close keys)
    return st.fixed_dictionaries(base)


_DEFAULT = {"exp": {"tau": 8.0}, "poly": {"p": 2}, "rbf": {"s": 2.0}}
_FOURTH_MOMENT_D_K = {"poly": {8: 24, 16: 32}, "relu": {8: 12, 16: 16}}  # probe-averaged: d_k > 8p (poly) or > 8 (relu)


def _grid(kernel: str, convention: str):
    extra = dict(_DEFAULT.get(kernel, {}))
    if (kernel, convention) == ("exp", "ratio_of_expectations"):
        extra["tau"] = 24.0
    grid = tuple(dict(n_pairs=n, d_k=d, d_v=16, trials=4000, **extra) for d in (8, 16) for n in (16, 64))
    if kernel in _FOURTH_MOMENT_D_K and convention == "probe_averaged":
        grid = tuple(dict(g, d_k=_FOURTH_MOMENT_D_K[kernel][g["d_k"]]) for g in grid)
    return grid


def _power_grid(kernel, convention):
    extra = dict(_DEFAULT.get(kernel, {}))
    if kernel == "exp" and convention == "ratio_of_expectations":
        extra = {"tau": 24.0}
    # sample sizes for power: poly (heavy polynomial moments) needs more; checked margin: the mutant lies >= 2 interval
    # half-widths from the interval's centre at every seed tried (detectable effect (z_{1-alpha/2} + z_0.99) se)
    trials = 4000 if kernel == "poly" else (3000 if convention == "ratio_of_expectations" else 1500)
    d_k = 24 if (kernel, convention) == ("poly", "probe_averaged") else 16
    return (dict(n_pairs=32, d_k=d_k, d_v=16, trials=trials, **extra),)


_RELIABLE = (" The interval is Catoni's at the exact variance of one sample (ratio: for both means, union bound), "
             "valid at every level for any distribution with that variance; stated where that variance is finite.")
_FINITE_FOURTH = " Stated for d_v > 8 (one sample carries 1/||v_i||^2; a finite fourth moment)."


def kernel_family(group: str, kernel: str, *, kernel_text: str, mutant_says: str, regions=None, tag="suite",
                  ref="docs/CLAIMS.md C9"):
    """One kernel's SNR^{-1} claims in every convention (``family.snr_family``): plain Monte Carlo against the SymPy
    form, with the kernel memory's closed form required to agree; ``regions`` adds, per convention, where the claim
    is stated (the interval needs a finite fourth moment of one sample)."""
    regions = regions or {}
    return snr_family(
        group, partial(_memory, kernel), conventions=tk.CONVENTIONS, title=f"{kernel} kernel SNR, {{convention}}",
        statement=by_convention(lambda c: (
            f"Monte Carlo SNR^{{-1}} of the {kernel_text} kernel memory (Gaussian keys/values, plain sampling: memories "
            f"written and read), {CONV_WORDS[c]}, contains the exact value {sp.sstr(tk.snr_inv(kernel, c))} in its "
            "interval at level 1 - 1e-6." + regions.get(c, "") + _RELIABLE)),
        exact=_sympy(kernel), mutant=_sympy(kernel, mutant=True), mutant_says=mutant_says, record=_record,
        sampler="plain", formula=partial(tk.snr_inv, kernel), tag=tag, ref=ref, modules=MODULES,
        grid=by_convention(partial(_grid, kernel)), power_grid=by_convention(partial(_power_grid, kernel)),
        strategy=by_convention(lambda c: partial(_strategy, kernel, c)),
        region=by_convention(lambda c: partial(_region, kernel, c)), tail=catoni.TAIL,
        heaviness=by_convention(lambda c: partial(_heaviness, kernel, c)),
    )


kernel_family("C7", "exp", kernel_text="exp(x^T y / tau), tau in {6, 8, 12} ({24, 32} for ratio)",
              mutant_says="every exponent halved (the 2 of kappa^2 = e^{2x^Ty/tau} forgotten)", tag="reconstructed",
              ref="§2.1.1", regions={
                  "probe_averaged": _FINITE_FOURTH,
                  "ratio_of_expectations": " Stated for tau >= 24: the denominator's samples e^{2||k_i||^2/tau} "
                                           "||v_i||^2 have a finite fourth moment only for tau > 16 (the ratio itself "
                                           "is finite for tau > 4)."})
kernel_family("C9.relu", "relu", kernel_text="max(0, x^T y)",
              mutant_says="E[relu(Z)^2] taken as E[Z^2] (factor 2 too large)",
              regions={"probe_averaged": " Stated for d_k, d_v > 8, where one sample (~ 1/(||k_i||^2 ||v_i||^2)) has a "
                                         "finite fourth moment."})
kernel_family("C9.poly", "poly", kernel_text="(x^T y)^p, p in {1, 2, 3}", mutant_says="(2p-1)!! replaced by p!",
              regions={"probe_averaged": " Stated for d_k > 8p and d_v > 8 only (a finite fourth moment of the "
                                         "per-probe sample ~ ||k_i||^(-2p)/||v_i||^2). For 4p < d_k <= 8p the variance "
                                         "is finite, where the Student-t interval this claim used before under-covered; "
                                         "Catoni's needs only the variance, but the claim is not yet made there."})
kernel_family("C9.rbf", "rbf", kernel_text="exp(-||x-y||^2/(2 s^2)), s in {2, 4}",
              mutant_says="kernel exp(-||x-y||^2/s^2) (s -> s/sqrt 2)", regions={"probe_averaged": _FINITE_FOURTH})


# --- the heavy-tail trap (C7): plain sampling cannot resolve tau = 2; importance sampling can --------------------


def check_heavy_tail(params, seed, *, convention, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """At tau = 2 the detector must flag plain sampling as unreliable and importance sampling must resolve the exact
    value. Mutant: the *other* convention's value (the conventions' disagreement is the trap)."""
    res = estimate_snr(kernel_memory("exp", tau=params["tau"]), params["n_pairs"], params["d_k"], params["d_v"],
                       params["trials"], seed, device=device, dtype=dtype, alpha=alpha, sampler="auto",
                       conventions=(convention,))[convention]
    kap, nu = res.details.get("probe_kappa"), res.details.get("probe_nu")
    if not mutant:
        theory = sympy_value("exp", "conditional" if kap is not None else convention, params, kap, nu)
    else:  # typical <-> probe-averaged swapped
        other = "probe_averaged" if convention == "typical" else "typical"
        theory = sympy_value("exp", other, params)
    flagged = not res.details["plain_reliable"] and res.method == "importance"
    note = ("detector flagged plain sampling (relative variance of one plain sample "
            f"{res.details.get('plain_relvar', float('nan')):.3g}); " if flagged else "detector did NOT flag plain sampling; ") + res.note
    return checks.snr(f"C7.heavy_tail.{convention}", params, seed, res, theory, note, holds=flagged,
                      plain_relvar=res.details.get("plain_relvar"), **_record(res))


_HEAVY_D_V = {"typical": (8, 16), "probe_averaged": (16, 32)}
_HEAVY_REGION = {"typical": " Typical: one importance sample is a constant times chi^2 with (N-1) d_v degrees of freedom "
                            "(the proposal is zero-variance for E[kappa^2]), so the interval is Catoni's at that exact "
                            "variance, valid at every level.",
                 "probe_averaged": " Probe-averaged: with the probe norm tilted too, one importance sample is the "
                                   "constant (1 - 2a)^{-d_k/2} times C/||v_i||^2, C ~ chi^2 with (N-1) d_v degrees of "
                                   "freedom, so the interval is Catoni's at that exact variance (finite for d_v > 4), "
                                   "valid at every level. Stated for d_v > 8, where it was first calibrated (with a t "
                                   "interval, which at d_v = 8, tau = 1.5, d_k = 16, N = 64 missed 593, 176 and 37 of "
                                   "10,000 at 0.05, 0.01 and 1e-3: the fourth moment of 1/||v_i||^2 is infinite there); "
                                   "the claim is not yet made for 4 < d_v <= 8."}


def _heavy_strategy(convention):
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n_pairs": st.sampled_from([64, 256, 1024]), "d_k": st.sampled_from([16, 32, 64]),
                                  "d_v": st.sampled_from(_HEAVY_D_V[convention]),
                                  "tau": st.sampled_from([1.5, 2.0, 3.0]), "trials": st.just(400)})


def _heavy_region(convention, params) -> str | None:
    """None inside the region where the heavy-tail claim is stated; the reason outside (probe-averaged: d_v > 8)."""
    if convention == "probe_averaged" and params["d_v"] <= 8:
        return (f"probe-averaged is stated for d_v > 8, got d_v = {params['d_v']}: one sample carries 1/||v_i||^2, "
                "whose fourth moment is infinite there (Catoni's interval needs only its variance, finite for d_v > 4, "
                "but the claim is not yet made for 4 < d_v <= 8)")
    return None


def _heavy_heaviness(params) -> tuple:
    """Smallest samples first (fewest pairs, smallest key dimension), then the heaviest 1/||v_i||^2 tail (smallest
    d_v), then the strongest tilt (smallest tau)."""
    return (-params["n_pairs"], -params["d_k"], -params["d_v"], -params["tau"])


for _c in ("typical", "probe_averaged"):
    stated_regions.declare(f"C7.heavy_tail.{_c}", region=partial(_heavy_region, _c), heaviness=_heavy_heaviness)
    _g = tuple(dict(n_pairs=n, d_k=d, d_v=16, tau=2.0, trials=1000) for d in (16, 32, 64) for n in (256, 4096))
    register(Claim(
        id=f"C7.heavy_tail.{_c}", title=f"Exponential kernel at tau = 2: plain sampling fails, importance sampling resolves ({_c})",
        tag="suite", ref="docs/CLAIMS.md C7 (traps)",
        statement=f"For tau in {{1.5, 2, 3}} and d_k >= 16 the exact relative variance of plain Monte Carlo flags it as "
                  f"unable to resolve the {_c.replace('_', '-')} SNR^{{-1}} (effective sample size < 100 or lognormal "
                  "skewness of the mean > 0.5), and importance sampling (tilted proposal) contains the exact value in its "
                  "level 1 - 1e-6 interval." + _HEAVY_REGION.get(_c, ""),
        kind="statistical", convention=_c, formula=partial(tk.snr_inv, "exp", _c),
        run=partial(check_heavy_tail, convention=_c), mutant=partial(check_heavy_tail, convention=_c, mutant=True),
        mutant_says="the other convention's value (typical <-> probe-averaged): they differ by (e/2)^{d_k/2} at tau = 2",
        strategy=partial(_heavy_strategy, _c), grid=_g, quick_grid=_g[:1],
        power_grid=(dict(n_pairs=256, d_k=16, d_v=16, tau=2.0, trials=400),), modules=MODULES,
    ))


# ------------------------------------------------------------------------------------------------------------------
# Identities (float64, round-off-derived tolerances)
# ------------------------------------------------------------------------------------------------------------------


def _pairs(params, seed, device, dtype):
    from impl.estimators.sampling import gaussian_pairs
    from impl.numerics.device import generator

    g = generator(seed)
    K, V = gaussian_pairs(1, params["n_pairs"], params["d_k"], params["d_v"], g, device=device, dtype=dtype)
    return K[0] * params.get("key_scale", 1.0), V[0]


def check_softmax_invariance(params, seed, *, device="cpu", dtype="float64", wrong_normalisation=False) -> Result:
    """C8: ||r||^2/(c^2 ||v_i||^2) from the softmax-normalised read equals the unnormalised one, probe by probe.

    Tolerance (first-order round-off analysis, Higham ch. 3): each weight w_j = e^{x_j} carries relative error
    <= (d_k + 2) u (1 + |x_j|) from the dot product and exp; the sum r = sum_j w_j v_j adds gamma_N; so
    ||delta r|| <= eps_j sum_j |w_j| ||v_j|| with eps = (d_k + N + 4) u (1 + max|x|). X = ||r||^2/(c^2 nu) then has
    relative error <= 2 ||delta r||/||r|| + 2 eps + (d_v + 2) u per route; two routes, so we allow twice that,
    times c = 2 for second-order terms.
    """
    from impl.memories.kernel import snr_samples, softmax_snr_samples
    from impl.numerics.device import resolve_dtype, unit_roundoff

    tau = params["tau"]
    K, V = _pairs(params, seed, device, dtype)
    x_raw = snr_samples("exp", K, V, tau=tau)
    x_soft = softmax_snr_samples(K, V, tau=tau)
    if wrong_normalisation:  # signal left unnormalised: X * (p_ii / c_i)^2 = X / Z_i^2
        x_soft = x_soft * torch.exp(-2 * torch.logsumexp(K @ K.T / tau, dim=-1))
    u = unit_roundoff(resolve_dtype(dtype))
    X = K @ K.T / tau
    w = torch.exp(X - X.diagonal()[:, None])  # weights relative to the signal (what both routes divide by)
    w.fill_diagonal_(0)
    vn = V.norm(dim=-1)
    r = w @ V
    n, d_k, d_v = params["n_pairs"], params["d_k"], params["d_v"]
    eps = (d_k + n + 4) * u * (1 + X.abs().amax())
    cond = (w.abs() @ vn) / r.norm(dim=-1)
    tol_rel = 2 * 2 * (2 * eps * cond + 2 * eps + (d_v + 2) * u)
    rel_err = (x_raw - x_soft).abs() / x_raw.abs()
    ok = bool((rel_err <= tol_rel).all())
    # reported as a multiple of each probe's own tolerance (which probe is worst is itself a matter of round-off)
    return Result(claim="C8.softmax_invariance", params=dict(params), seed=seed, passed=ok,
                  error=float((rel_err / tol_rel).max()), tolerance=1.0,
                  note="max over probes of the relative difference between softmax-normalised and unnormalised "
                       "SNR^{-1}, as a multiple of that probe's round-off tolerance (<= 1 passes)")


def _mutant_softmax(params, seed, *, device="cpu", dtype="float64") -> Result:
    """Wrong: normalise the noise but not the signal (the SNR^{-1} then shrinks by Z^2); same check, same tolerance."""
    return check_softmax_invariance(params, seed, device=device, dtype=dtype, wrong_normalisation=True)


def _identity_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n_pairs": st.integers(2, 64), "d_k": st.integers(1, 24), "d_v": st.integers(1, 8),
                                  "tau": st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0])})


register(Claim(
    id="C8.softmax_invariance", title="Softmax normalisation leaves the SNR unchanged", tag="paper", ref="§2.1.1 (+ suite)",
    statement="For every probe i, ||r_i||^2/(c_i^2 ||v_i||^2) computed from softmax(K k_i/tau) (signal p_ii v_i, noise "
              "sum_{j != i} p_ij v_j) equals the unnormalised exponential-kernel value, to float64 round-off.",
    kind="identity", run=check_softmax_invariance, mutant=_mutant_softmax,
    mutant_says="only the noise is divided by the normaliser", strategy=_identity_strategy,
    grid=(dict(n_pairs=64, d_k=16, d_v=8, tau=2.0), dict(n_pairs=256, d_k=64, d_v=16, tau=8.0)),
    power_grid=(dict(n_pairs=16, d_k=8, d_v=4, tau=1.0),), modules=MODULES,
))


def dpfp_kernel_elementwise(X, Y):
    """The DPFP kernel [M, N] between the rows of X [M, d] and Y [N, d], written out from its definition (Schlag et al.
    2021, nu = 1), sharing no code with ``impl.memories.kernels.dpfp_features``: with the 2d signed coordinates
    s_i(x) = x_i (i < d), -x_{i-d} (i >= d), DPFP(x)_i = max(s_i(x), 0) max(s_{i+1 mod 2d}(x), 0), so
    kappa(x, y) = sum_i DPFP(x)_i DPFP(y)_i, one coordinate pair at a time."""
    d = X.shape[-1]

    def pos(Z, i):  # max(s_i(z), 0)
        z = Z[:, i] if i < d else -Z[:, i - d]
        return z.clamp_min(0)

    out = torch.zeros((X.shape[0], Y.shape[0]), dtype=X.dtype, device=X.device)
    for i in range(2 * d):
        j = (i + 1) % (2 * d)
        out += torch.outer(pos(X, i) * pos(X, j), pos(Y, i) * pos(Y, j))
    return out


def check_feature_map(params, seed, *, device="cpu", dtype="float64") -> Result:
    """C5 / C9: the feature-map memory S phi(q) equals the kernel memory sum_j v_j kappa(k_j, q) for the exact maps
    (linear, elu1, taylor, poly p = 2, dpfp), and the Taylor kernel is 1 + x^T y + (x^T y)^2/2. DPFP's kernel side is
    ``dpfp_kernel_elementwise`` (its definition coordinate by coordinate), not DPFP(x)^T DPFP(y) re-associated.

    Tolerance: both sides are sums of F (features) and N (pairs) products; by the standard bound |fl(sum) - sum| <=
    gamma_n sum |terms| (Higham Thm 3.5), |difference| <= 2 (F + N + 4) u sum_j |v_j| (|phi(k_j)|^T |phi(q)|),
    with a factor 2 for the two routes."""
    from impl.memories.kernel import feature_memory_read, kernel_read
    from impl.memories.kernels import features
    from impl.numerics.device import resolve_dtype, unit_roundoff

    fmap = params["feature_map"]
    K, V = _pairs(params, seed, device, dtype)
    Q = K[: max(1, K.shape[0] // 2)]
    prm = {"p": 2} if fmap == "poly" else {}
    o_fm = feature_memory_read(fmap, K, V, Q, **prm)
    o_k = dpfp_kernel_elementwise(Q, K) @ V if fmap == "dpfp" else kernel_read(fmap, K, V, Q, **prm)
    fk, fq = features(fmap, K, **prm).abs(), features(fmap, Q, **prm).abs()
    u = unit_roundoff(resolve_dtype(dtype))
    scale = (fq @ fk.T) @ V.abs()
    tol = 2 * 2 * (fk.shape[-1] + K.shape[0] + 4) * u * scale
    err = (o_fm - o_k).abs()
    ok = bool((err <= tol).all())
    ratio = torch.where(tol > 0, err / tol.clamp_min(torch.finfo(tol.dtype).tiny),
                        torch.where(err > 0, float("inf"), 0.0))
    # reported as a multiple of each entry's own tolerance (which entry is worst is itself a matter of round-off)
    return Result(claim="C5.feature_map", params=dict(params), seed=seed, passed=ok, error=float(ratio.max()),
                  tolerance=1.0, note=f"feature map {fmap}: S phi(q) vs sum_j v_j kappa(k_j, q), worst entry as a "
                                      "multiple of its round-off tolerance (<= 1 passes)")


def _mutant_feature_map(params, seed, *, device="cpu", dtype="float64") -> Result:
    """Wrong: the Taylor map without the 1/sqrt(2) on the quadratic block (kernel 1 + t + t^2)."""
    from impl.memories.kernel import kernel_read, read_features, write_features
    from impl.numerics.device import resolve_dtype, unit_roundoff

    K, V = _pairs(params, seed, device, dtype)
    bad = lambda X: torch.cat([torch.ones_like(X[:, :1]), X, (X[:, :, None] * X[:, None, :]).flatten(1)], 1)  # noqa: E731
    o_fm = read_features(write_features(bad(K), V), bad(K))
    o_k = kernel_read("taylor", K, V, K)
    tol = 4 * (bad(K).shape[-1] + K.shape[0] + 4) * unit_roundoff(resolve_dtype(dtype)) * (bad(K).abs() @ bad(K).abs().T) @ V.abs()
    err = (o_fm - o_k).abs()
    return Result(claim="C5.feature_map", params=dict(params), seed=seed, passed=bool((err <= tol).all()),
                  error=float(err.max()), tolerance=float(tol.max()), note="mutant: Taylor map without 1/sqrt(2)")


def _fm_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"feature_map": st.sampled_from(["linear", "elu1", "taylor", "poly", "dpfp"]),
                                  "n_pairs": st.integers(1, 40), "d_k": st.integers(1, 12), "d_v": st.integers(1, 6),
                                  "key_scale": st.sampled_from([0.1, 1.0, 3.0])})


register(Claim(
    id="C5.feature_map", title="Feature-map memory equals kernel memory (Taylor, DPFP, elu+1, polynomial)", tag="paper",
    ref="§2.1.1 (kernel mapping)",
    statement="For phi in {identity, elu+1, Taylor [1, x, vec(xx^T)/sqrt 2], tensor square, DPFP}, S phi(q) with "
              "S = sum_j v_j phi(k_j)^T equals sum_j v_j kappa(k_j, q) with kappa the closed-form kernel (Taylor: "
              "1 + x^T y + (x^T y)^2/2; tensor square: (x^T y)^2; DPFP (nu = 1): sum_i r_i(x) r_{i+1}(x) r_i(y) "
              "r_{i+1}(y) over the 2d entries of r = [relu(x), relu(-x)], indices cyclic, written out coordinate by "
              "coordinate) to float64 round-off.",
    kind="identity", run=check_feature_map, mutant=_mutant_feature_map,
    mutant_says="Taylor map without the 1/sqrt(2) on the quadratic block", strategy=_fm_strategy,
    grid=tuple(dict(feature_map=f, n_pairs=32, d_k=8, d_v=4, key_scale=1.0) for f in ("linear", "elu1", "taylor", "poly", "dpfp")),
    power_grid=(dict(feature_map="taylor", n_pairs=8, d_k=4, d_v=2, key_scale=1.0),), modules=MODULES,
))


# ------------------------------------------------------------------------------------------------------------------
# Performer random features (statistical)
# ------------------------------------------------------------------------------------------------------------------


def _xy(params):
    d, nx, ny, cos = params["d"], params["nx"], params["ny"], params["cos"]
    x = torch.zeros(d, dtype=torch.float64)
    y = torch.zeros(d, dtype=torch.float64)
    x[0] = nx
    y[0], y[1] = ny * cos, ny * math.sqrt(1 - cos**2)
    return x, y


def _perf_theory(params, what, mutant):
    sub = {tk.xx: params["nx"] ** 2, tk.yy: params["ny"] ** 2, tk.xy: params["nx"] * params["ny"] * params["cos"],
           tk.m_feat: params["m"]}
    if what == "mean":
        value = math.exp(float(sub[tk.xy]))
        return value * 1.1 if mutant else value
    expr = tk.performer_variance(params["kind"])
    if mutant:
        expr = (expr / (1 - sp.exp(-(tk.xx + tk.yy + 2 * tk.xy))) if params["kind"] == "positive" else 2 * expr)
    return float(expr.subs(sub))


def check_performer(params, seed, *, what, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """Mean (unbiasedness) or variance of the m-feature estimate of exp(x^T y) against Lemma 2 (interval at 1 - alpha).
    The variance is checked as the mean of (estimate - SM)^2, SM known exactly. The interval is Catoni's at the exact
    variance of one sample (``impl.estimators.performer_moments``: the feature term's central moments to fourth
    order), or at an upper bound on it for block-orthogonal features (one term's variance)."""
    from impl.estimators import catoni
    from impl.estimators import performer_moments as pm
    from impl.estimators.snr_performer import performer_estimates

    x, y = _xy(params)
    orth = params.get("orthogonal", False)
    est = performer_estimates(x, y, params["m"], params["kind"], params["trials"], seed, orthogonal=orth)
    sm = math.exp(float(x @ y))
    samples = est if what == "mean" else (est - sm) ** 2
    moments = (params["kind"], float(x @ x), float(y @ y), float(x @ y))
    var = (pm.estimate_variance(*moments, params["m"], orthogonal=orth) if what == "mean"
           else pm.squared_error_variance(*moments, params["m"]))
    e, per_level = catoni.as_estimate(samples.numpy(), var, alpha)
    theory = _perf_theory(params, what, mutant)
    how = ("the exact variance of one sample" if not orth else
           "one feature's variance, a bound on the variance of a mean of m block-orthogonal features")
    return checks.statistical(f"C9.performer.{what}", params, seed, theory, e,
                              note=f"{params['kind']} features, m = {params['m']}" + (", orthogonal blocks" if orth else "")
                              + f"; Catoni interval at {how}", interval="catoni", intervals=per_level)


# The variance check's samples (phi(x)^T phi(y) - SM)^2 are squared lognormals for positive features (log-variance
# ||x+y||^2 per feature): with a Student-t interval, calibration at ||x|| = ||y|| = 0.6, cos 0.5 (||x+y||^2 = 1.08)
# missed 21% at alpha = 0.05 with 1000 trials and 10% with 20000, and the check was held to ||x+y||^2 <= 0.4. Catoni's
# interval at the exact variance (fourth moments, ``impl.estimators.performer_moments``) is valid for any norms; it
# is wide where the squared errors are heavy (about +-70% of the mean at ||x+y||^2 = 1.2, m = 1), which is the price.


def _perf_relvar(params: dict, what: str) -> float:
    """Var/mean^2 of one sample of the check (exact; a bound for orthogonal features): the calibration's heaviness."""
    from impl.estimators import performer_moments as pm

    x, y = _xy(params)
    moments = (params["kind"], float(x @ x), float(y @ y), float(x @ y))
    if what == "mean":
        return pm.estimate_variance(*moments, params["m"], params.get("orthogonal", False)) / math.exp(2 * moments[3])
    return pm.squared_error_variance(*moments, params["m"]) / _perf_theory(params, "variance", False) ** 2


def _perf_strategy(orth_ok: bool):
    """Norms <= 1 for the mean (i.i.d. or block-orthogonal features); norms <= 0.6 for the variance (i.i.d.)."""
    from hypothesis import strategies as st

    norms = [0.3, 0.6, 1.0] if orth_ok else [0.3, 0.6]
    geo = [(a, b, c) for a in norms for b in norms for c in (-0.5, 0.0, 0.7)]

    def build(kind):
        return st.sampled_from(geo).flatmap(lambda g: st.fixed_dictionaries({
            "kind": st.just(kind), "m": st.sampled_from([1, 4, 16]), "d": st.sampled_from([2, 4, 8]),
            "nx": st.just(g[0]), "ny": st.just(g[1]), "cos": st.just(g[2]), "trials": st.just(20000),
            "orthogonal": st.sampled_from([False, True] if orth_ok else [False])}))

    return st.sampled_from(["positive", "trigonometric"]).flatmap(build)


register(Claim(
    id="C9.performer.mean", title="Performer features are unbiased (i.i.d. and orthogonal)", tag="suite",
    ref="Choromanski et al. 2020, Lemma 2", convention="",
    statement="For ||x||, ||y|| <= 1, the mean of phi(x)^T phi(y) over independent draws of m features (positive or "
              "trigonometric; i.i.d. or block-orthogonal) has exp(x^T y) in its interval at level 1 - 1e-6: Catoni's "
              "interval at the estimate's exact variance (i.i.d.: Lemma 2) or at one feature's variance, which bounds "
              "it (block-orthogonal: the features are identically distributed but dependent).",
    kind="statistical", run=partial(check_performer, what="mean"), mutant=partial(check_performer, what="mean", mutant=True),
    mutant_says="a 10% bias (detectable effect: 10% of exp(x^T y))", strategy=partial(_perf_strategy, True),
    grid=tuple(dict(kind=k, m=m, d=4, nx=1.0, ny=1.0, cos=0.5, trials=20000, orthogonal=o)
               for k in ("positive", "trigonometric") for m in (4, 32) for o in (False, True)),
    power_grid=tuple(dict(kind=k, m=m, d=4, nx=1.0, ny=1.0, cos=0.5, trials=20000, orthogonal=False)
                     for k, m in (("positive", 32), ("trigonometric", 4))),
    modules=MODULES + ("impl.estimators.snr_performer", "impl.estimators.performer_moments"),
))

register(Claim(
    id="C9.performer.variance", title="Performer feature variance (Lemma 2)", tag="suite",
    ref="Choromanski et al. 2020, Lemma 2",
    statement="For ||x||, ||y|| <= 0.6 and i.i.d. features, the mean of (phi(x)^T phi(y) - exp(x^T y))^2 has "
              "(1/m) e^{||x+y||^2} SM^2 (1 - e^{-||x+y||^2}) (positive) or (1/(2m)) e^{||x+y||^2} SM^{-2} (1 - e^{-||x-y||^2})^2 "
              "(trigonometric) in its interval at level 1 - 1e-6: Catoni's interval at the exact variance of one "
              "squared error (the feature term's fourth central moment), valid for any norms (with a Student-t "
              "interval the positive features had to be held to ||x+y||^2 <= 0.4, where it was calibrated).",
    kind="statistical", run=partial(check_performer, what="variance"), mutant=partial(check_performer, what="variance", mutant=True),
    mutant_says="positive: the factor (1 - e^{-||x+y||^2}) dropped; trigonometric: the 1/2 dropped",
    strategy=partial(_perf_strategy, False),
    grid=tuple(dict(kind=k, m=m, d=4, nx=r, ny=r, cos=0.5, trials=20000) for k, r in (("positive", 0.3), ("trigonometric", 0.6))
               for m in (1, 4, 32)),
    power_grid=tuple(dict(kind=k, m=4, d=4, nx=r, ny=r, cos=0.0, trials=20000) for k, r in (("positive", 0.3), ("trigonometric", 0.6))),
    modules=MODULES + ("impl.estimators.snr_performer", "impl.estimators.performer_moments"),
))
for _what in ("mean", "variance"):  # calibrated where one sample is heaviest relative to its mean
    stated_regions.declare(f"C9.performer.{_what}", heaviness=partial(_perf_relvar, what=_what))


def check_performer_memory(params, seed, *, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """Extra noise energy per interfering pair, E_k Var_w kappa_hat(k, q), Gaussian keys, ||q||^2 = kappa. Catoni's
    interval at the exact variance of one sample (``impl.estimators.performer_moments.memory_noise_moments``)."""
    from impl.estimators import catoni
    from impl.estimators import performer_moments as pm
    from impl.estimators.snr_performer import performer_memory_noise

    d = params["d"]
    q = torch.zeros(d, dtype=torch.float64)
    q[0] = math.sqrt(params["kappa"])
    samples = performer_memory_noise(q, params["m"], params["kind"], params["tau"], params["trials"], seed)
    _, var = pm.memory_noise_moments(params["kind"], params["kappa"], d, params["tau"], params["m"])
    e, per_level = catoni.as_estimate(samples.numpy(), var, alpha)
    expr = tk.performer_memory_extra_noise(params["kind"])
    if mutant:  # the noise floor does not shrink with m
        expr = expr * tk.m_feat
    theory = float(expr.subs({tk.kappa: params["kappa"], tk.d_k: d, tk.tau: params["tau"], tk.m_feat: params["m"]}))
    return checks.statistical("C9.performer.memory_noise", params, seed, theory, e,
                              note=f"{params['kind']} features: extra noise energy per interfering pair (values' E||v||^2 = 1 "
                                   "per coordinate); Catoni interval at the exact variance of one sample",
                              interval="catoni", intervals=per_level)


# Where the Performer memory checks are stated: one positive-feature estimate is a mean of lognormals with log-variance
# ||k + q||^2 / tau, so its 2j-th moment averages e^{2 j^2 ||k+q||^2 / tau} over Gaussian keys, finite only for
# tau > 4 j^2. The memory-noise check (Catoni's interval) needs the variance of one squared error (j = 2 and the
# largest exponent 6 ||k||^2/tau: tau > 12); trigonometric estimates are bounded by e^{(||k||^2 + ||q||^2) / (2 tau)}
# (tau > 4). The SNR check still uses a t interval, which needs the squared error's fourth moment (j = 4: tau > 64;
# calibration at tau = 24 with positive features missed 9% at alpha = 0.05 even with 40000 samples).
_PERFORMER_TAUS = {"positive": [96.0, 128.0], "trigonometric": [24.0, 48.0],
                   "performer_positive": [96.0, 128.0], "performer_trig": [16.0, 24.0]}
_MEMORY_NOISE_TAUS = {"positive": [32.0, 96.0, 128.0], "trigonometric": [8.0, 24.0, 48.0]}
# Positive features from tau = 32, not 12: nearer 12 the squared error's variance grows without bound, and Catoni's
# interval at 40000 samples is as wide as the value (half-width 9.8 times it at tau = 16, d = 4, kappa = 4, m = 2;
# at most 0.15 times from tau = 32): valid, but too wide to fail.


def _perf_mem_strategy():
    from hypothesis import strategies as st

    return st.sampled_from(["positive", "trigonometric"]).flatmap(lambda kind: st.fixed_dictionaries({
        "kind": st.just(kind), "m": st.sampled_from([2, 8, 32]), "d": st.sampled_from([2, 4]),
        "kappa": st.sampled_from([1.0, 4.0]), "tau": st.sampled_from(_MEMORY_NOISE_TAUS[kind]), "trials": st.just(40000)}))


def _perf_mem_relvar(p: dict) -> float:
    """Var/mean^2 of one memory-noise sample (exact): the calibration's measure of heaviness."""
    from impl.estimators import performer_moments as pm

    mean, var = pm.memory_noise_moments(p["kind"], p["kappa"], p["d"], p["tau"], p["m"])
    return var / mean**2


register(Claim(
    id="C9.performer.memory_noise", title="Performer noise floor in a memory shrinks like 1/m", tag="suite",
    ref="docs/CLAIMS.md C9 (random features)",
    statement="In a memory with m-feature Performer maps for exp(k^T q/tau) and Gaussian keys, the mean extra noise "
              "energy per interfering pair, E_k[(kappa_hat - kappa)^2], has the closed form of C9.performer.memory_noise_theory "
              "(proportional to 1/m) in its interval at level 1 - 1e-6, for tau >= 32 (positive features) or tau >= 8 "
              "(trigonometric): Catoni's interval at the exact variance of one squared error, finite for tau > 12 "
              "(positive) and tau > 4 (trigonometric); below tau = 32 the positive map's interval is too wide to "
              "fail (half-width 9.8 times the value at tau = 16). (With a Student-t interval the check needed the "
              "squared error's fourth moment, tau > 64, and was held to tau >= 96: at tau = 16 it under-covered, "
              "about 1% false failures against a declared 1e-6.)",
    kind="statistical", run=check_performer_memory, mutant=partial(check_performer_memory, mutant=True),
    mutant_says="the extra noise does not shrink with m (missing 1/m)", strategy=_perf_mem_strategy,
    grid=tuple(dict(kind=k, m=m, d=4, kappa=4.0, tau=t, trials=40000) for k, t in (("positive", 96.0), ("trigonometric", 24.0))
               for m in (2, 8, 32)),
    power_grid=tuple(dict(kind=k, m=8, d=4, kappa=4.0, tau=t, trials=40000) for k, t in (("positive", 96.0), ("trigonometric", 24.0))),
    modules=MODULES + ("impl.estimators.snr_performer", "impl.estimators.performer_moments"),
))
stated_regions.declare("C9.performer.memory_noise", heaviness=_perf_mem_relvar)


# ------------------------------------------------------------------------------------------------------------------
# Keys on the sphere (statistical)
# ------------------------------------------------------------------------------------------------------------------


def check_sphere(params, seed, *, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """Monte Carlo conditional SNR^{-1} with keys uniform on the sphere against the Bessel form (SymPy, mpmath)."""
    n, d, dv, b = params["n_pairs"], params["d_k"], params["d_v"], params["b"]
    res = estimate_snr(SphereMemory(b), n, d, dv, params["trials"], seed, alpha=alpha)["conditional"]
    nu = res.details["probe_nu"]
    if mutant:  # "approximate, do not derive": a uniform key treated as N(0, I/d_k), E[e^{2b x^T y}] ~ e^{2 b^2/d_k}
        theory = (n - 1) * dv / nu * math.exp(2 * b**2 / d - 2 * b)
    else:
        expr = tk.sphere_snr_inv("conditional").subs({tk.N: n, tk.d_k: d, tk.d_v: dv, tk.nu: nu, tk.b_inv: b})
        theory = float(sp.N(expr, 20))
    bound = _bound(res)
    return checks.snr("C9.sphere.snr", params, seed, res, theory,
                      "keys uniform on S^{d-1}, kernel exp(b x^T y), plain sampling (weights bounded by e^b: light tails)"
                      + ("; Catoni interval at the exact variance of one sample" if bound else ""),
                      reference=None if mutant else ("scipy Bessel", res.exact), **bound)


def _sphere_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n_pairs": st.integers(8, 64), "d_k": st.sampled_from([3, 4, 8, 16]),
                                  "d_v": st.sampled_from([4, 16]), "b": st.sampled_from([0.5, 2.0, 4.0, 8.0]),
                                  "trials": st.just(1500)})


register(Claim(
    id="C9.sphere.snr", title="Keys on the sphere: Monte Carlo against the Bessel form", tag="suite",
    ref="docs/CLAIMS.md C9 (von Mises-Fisher normaliser)", convention="conditional",
    statement="With keys uniform on S^{d_k-1} and kernel exp(b x^T y), the Monte Carlo conditional SNR^{-1} (fixed probe, "
              "fresh other pairs) contains (N-1)(d_v/nu) Gamma(d_k/2) b^{1-d_k/2} I_{d_k/2-1}(2b) e^{-2b} in its interval at "
              "level 1 - 1e-6: Catoni's interval at the exact variance of one sample (the Bessel form at b and 2b: "
              "every moment is finite, the weights being bounded by e^b).",
    kind="statistical", run=check_sphere, mutant=partial(check_sphere, mutant=True),
    mutant_says="Gaussian approximation of the uniform key, E[e^{2b x^T y}] ~ e^{2b^2/d_k} (approximated, not derived)",
    strategy=_sphere_strategy,
    grid=tuple(dict(n_pairs=64, d_k=d, d_v=16, b=b, trials=4000) for d in (4, 16) for b in (2.0, 8.0)),
    quick_grid=(dict(n_pairs=64, d_k=16, d_v=16, b=4.0, trials=2000),),
    power_grid=(dict(n_pairs=32, d_k=8, d_v=16, b=4.0, trials=1500),), modules=MODULES + ("impl.estimators.snr_sphere",),
))


def _sphere_relvar(p: dict) -> float:
    """Var/mean^2 of one sample (exact, ``snr_sphere.sphere_sample_relvar``): the calibration's measure of heaviness."""
    from impl.estimators.snr_sphere import sphere_sample_relvar

    return sphere_sample_relvar(p["n_pairs"], p["d_k"], p["d_v"], p["b"])


stated_regions.declare("C9.sphere.snr", heaviness=_sphere_relvar)  # calibrated where one sample is heaviest


def check_performer_snr(params, seed, *, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    """Memory SNR with m Performer features vs its exact value; mutant: the exact-kernel value (features' noise ignored)."""
    conv = params["convention"]
    res = estimate_snr(kernel_memory(params["kernel"], tau=params["tau"], m=params["m"]), params["n_pairs"],
                       params["d_k"], params["d_v"], params["trials"], seed, alpha=alpha, conventions=(conv,))[conv]
    theory = res.exact
    if mutant:
        theory = sympy_value("exp", "conditional", dict(params), res.details["probe_kappa"], res.details["probe_nu"])
    return checks.snr("C9.performer.memory_snr", params, seed, res, theory, **_bound(res))


def _perf_snr_strategy():
    from hypothesis import strategies as st

    return st.sampled_from(["performer_positive", "performer_trig"]).flatmap(lambda kernel: st.fixed_dictionaries({
        "kernel": st.just(kernel), "m": st.sampled_from([1, 4, 16]), "n_pairs": st.sampled_from([8, 32]),
        "d_k": st.sampled_from([2, 4]), "d_v": st.sampled_from([8, 16]), "tau": st.sampled_from(_PERFORMER_TAUS[kernel]),
        "trials": st.just(3000), "convention": st.sampled_from(["conditional", "typical"])}))


register(Claim(
    id="C9.performer.memory_snr", title="Performer memory: SNR with m random features", tag="suite",
    ref="docs/CLAIMS.md C9 (random features add a noise floor)", convention="conditional (over features: ratio of expectations)",
    statement="A memory whose kernel exp(k^T q/tau) (Gaussian keys; tau >= 16 with trigonometric features, tau >= 96 with "
              "positive ones, where a positive-feature sample has a finite fourth moment) is computed with m Performer features has "
              "E||r||^2 / (E[c_hat^2] ||v_i||^2) = (N-1)(d_v/nu)[e^{2 kappa/tau^2} + E_k Var_w kappa_hat]/(e^{2 kappa/tau} + "
              "Var_w c_hat) at a fixed probe (trigonometric: Var_w c_hat = 0), inside the Monte Carlo interval at level "
              "1 - 1e-6: Catoni's intervals at the exact variances of one trial's noise energy and signal (their "
              "fourth moments: the other pairs share the features, so E[w_1^2 w_2^2] = E_u[(E_k[w^2 | u])^2], a sum over "
              "the features' coincidence patterns of Gaussian integrals), a union bound for the ratio.",
    kind="statistical", run=check_performer_snr, mutant=partial(check_performer_snr, mutant=True),
    mutant_says="the exact-kernel SNR (the features' noise and signal variance ignored)", strategy=_perf_snr_strategy,
    grid=tuple(dict(kernel=k, m=m, n_pairs=32, d_k=4, d_v=8, tau=t, trials=6000, convention="typical")
               for k, t in (("performer_positive", 96.0), ("performer_trig", 16.0)) for m in (1, 4, 16, 64)),
    quick_grid=(dict(kernel="performer_trig", m=4, n_pairs=32, d_k=4, d_v=8, tau=16.0, trials=3000, convention="typical"),),
    power_grid=(dict(kernel="performer_trig", m=1, n_pairs=32, d_k=4, d_v=8, tau=16.0, trials=8000, convention="typical"),),
    modules=MODULES + ("impl.estimators.snr_performer",),
))


def _perf_snr_relvar(p: dict) -> float:
    """The larger relative variance of one trial's noise energy and signal at the typical probe (||q||^2 = d_k;
    ``performer_memory_moments``, exact): the calibration's measure of heaviness (the conditional convention's probe
    is random, of that size on average)."""
    from impl.estimators import performer_memory_moments as pmm

    kind = "positive" if p["kernel"] == "performer_positive" else "trigonometric"
    mom = pmm.sample_moments(kind, float(p["d_k"]), float(p["d_v"]), p["n_pairs"], p["d_k"], p["d_v"], p["tau"], p["m"])
    return max(mom["var_y"] / mom["mean_y"] ** 2, mom["var_x"] / mom["mean_x"] ** 2)


stated_regions.declare("C9.performer.memory_snr", heaviness=_perf_snr_relvar)  # calibrated where one trial is heaviest
