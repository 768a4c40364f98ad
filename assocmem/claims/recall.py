"""Claims C10.recall: retrieval accuracy of nearest-value decoding predicted from the SNR (docs/CLAIMS.md C3, C10).

``theory.recall`` derives P(correct) as a function of SNR^{-1}, N and d_v (Gaussian crosstalk; a one-dimensional
integral over the target's score); ``impl.estimators.recall_prediction`` evaluates it, ``recall_measured`` measures
recall on continuous MQAR-style data. The comparison per memory is an approximation claim whose tolerance was fixed
before the report's measurement: |measured - predicted| <= 0.02 (absolute), judged by the measured recall's
Clopper-Pearson interval at level 1 - 1e-3 (the point holds when the interval meets [predicted - 0.02,
predicted + 0.02]). The regimes expected to hold were hypothesised from a pilot run with other seeds (stated in each
statement); the report's seeds are independent of it.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from assocmem.registry import Claim, Figure, Result, derived, register, register_figure
from theory import recall as tr

MODULES = ("theory.recall", "theory.kernels", "impl.estimators.recall_prediction", "impl.estimators.recall_measured",
           "impl.estimators.stats", "impl.memories.kernel", "impl.estimators.performer_memory_moments", "impl.memories.kernels", "impl.rules.deltanet",
           "impl.memories.memory", "impl.estimators.kernel_moments", "impl.estimators.snr_kernel", "impl.estimators.catoni",
           "impl.estimators.snr_performer", "impl.estimators.snr_sphere",
            "theory.moments", "theory.snr_linear", "impl.rules.inputs", "impl.numerics.chunking", "impl.numerics.solves")  # closed under imports: tests/test_report.py
TOL = 0.02
LEVEL_ALPHA = 1e-3
D = 16  # d_k = d_v throughout

register(Claim(
    id="C10.recall.derivation", title="Recall of nearest-value decoding from the SNR: the derivation", tag="suite",
    ref="docs/CLAIMS.md C3, C10 (retrieval accuracy when decoding by nearest stored value)",
    statement="For a read linear in the values, o/w_i = v_i + e with e ~ N(0, S2 I) given the keys and SNR^{-1} "
              "rho = d_v S2/nu; the target's sqrt(d_v-1) cot(x, v_i) is noncentral t(d_v-1, sqrt(d_v/rho)), each "
              "independent competitor's central t(d_v-1), so P(correct) = int f_nct(t) F_t(t/lambda)^{N-1} dt (1/N at "
              "delta = 0, lambda = 1); the competitor's own weight gives lambda^2 = 1 + (d_v-1) rho/((N-1)(1+rho)); "
              "Gaussian keys give delta^2 = kappa nu/(N-1) (linear) and nu e^{-a kappa}/(N-1) (exp).",
    kind="symbolic", derivation=derived(tr.derivation), modules=MODULES,
    formula=tr.own_weight_scale_sq,
))


# --- the integral is exact for its model: simulate the isotropic Gaussian-crosstalk model ----------------------


def simulate_isotropic_model(n_pairs, d_v, delta, trials, seed):
    """Hits of nearest-value decoding in the model the integral describes: x = v_i + e, e ~ N(0, (nu/delta^2) I)
    independent of N - 1 Gaussian competitor values."""
    import torch

    from impl.numerics.device import generator

    from impl.estimators.sampling import batches

    gen = generator(seed)
    hits = 0
    for t in batches(trials, n_pairs * d_v):
        V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64)
        nu = (V[:, 0] ** 2).sum(-1, keepdim=True)
        x = V[:, 0] + torch.randn((t, d_v), generator=gen, dtype=torch.float64) * (nu.sqrt() / delta)
        cos = torch.nn.functional.normalize(V, dim=-1) @ x[:, :, None]
        hits += int((cos[..., 0].argmax(-1) == 0).sum())
    return hits


def _gaussian_score_prediction(delta, n_pairs, d_v):
    """The mutant: competitor cotangents taken as Gaussian, sqrt(d_v-1) cot ~ N(0, 1) (Phi in place of the t cdf)."""
    from scipy import stats

    from impl.estimators.recall_prediction import _nodes

    z, wz, w, ww = _nodes(d_v)
    t = math.sqrt(d_v - 1) * (delta + z[:, None]) / np.sqrt(w[None, :])
    return float((np.exp((n_pairs - 1) * stats.norm.logcdf(t)) * wz[:, None] * ww[None, :]).sum())


def check_model(params, seed, *, mutant=False, device="cpu", dtype="float64", alpha=1e-6) -> Result:
    from impl.estimators.recall_prediction import win_probability
    from impl.estimators.stats import binomial_interval

    n, dv, delta, T = params["n_pairs"], params["d_v"], params["delta"], params["trials"]
    hits = simulate_isotropic_model(n, dv, delta, T, seed)
    b = binomial_interval(hits, T, alpha)
    theory = _gaussian_score_prediction(delta, n, dv) if mutant else win_probability(delta, n, dv, lam=1.0)
    return Result(claim="C10.recall.model", params=dict(params), seed=seed, passed=bool(b.lo <= theory <= b.hi),
                  theory=theory, estimate=b.value, lo=b.lo, hi=b.hi, level=b.level, n=T,
                  note="isotropic Gaussian crosstalk simulated; exact Clopper-Pearson interval; theory by adaptive quadrature",
                  extra={"interval": "clopper-pearson", "hits": int(hits)})


def _model_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n_pairs": st.sampled_from([2, 8, 64]), "d_v": st.sampled_from([4, 8, 16]),
                                  "delta": st.sampled_from([0.5, 1.0, 2.0, 4.0]), "trials": st.just(3000)})


register(Claim(
    id="C10.recall.model", title="The recall integral is exact for isotropic Gaussian crosstalk", tag="suite",
    ref="docs/CLAIMS.md C10", kind="statistical",
    statement="In the model x = v_i + e, e ~ N(0, (nu/delta^2) I) independent of N - 1 Gaussian competitor values, the "
              "simulated hit rate of nearest-value decoding has int f_nct(t; d_v-1, delta) F_t(t; d_v-1)^{N-1} dt "
              "(adaptive quadrature) in its exact binomial interval at level 1 - 1e-6.",
    run=check_model, mutant=partial(check_model, mutant=True),
    mutant_says="competitor cotangents taken as Gaussian (Phi in place of the t cdf: the finite-d_v direction law ignored)",
    strategy=_model_strategy,
    grid=tuple(dict(n_pairs=n, d_v=dv, delta=d, trials=10000) for n, dv, d in ((8, 8, 1.0), (64, 8, 3.0), (256, 16, 3.0))),
    quick_grid=(dict(n_pairs=8, d_v=8, delta=1.0, trials=1000),),
    power_grid=(dict(n_pairs=64, d_v=8, delta=3.0, trials=4000),), modules=MODULES,
))


# --- predicted against measured recall, per memory ---------------------------------------------------------------

MEMORY_SETUPS = {  # claim suffix -> (memory, tau as a function of d_k, label)
    "linear": ("linear", None, "linear memory"),
    "exp_tau2": ("exp", lambda d: 2.0, "exp kernel, tau = 2"),
    "exp_sqrt": ("exp", lambda d: math.sqrt(d), "exp kernel, tau = sqrt(d_k)"),
    "softmax": ("softmax", lambda d: math.sqrt(d), "softmax attention, tau = sqrt(d_k)"),
    "delta": ("delta", None, "delta rule (b = 1, unit keys)"),
}


def predictions(setup: str, n_pairs: int, d_k: int, d_v: int, seed: int) -> dict:
    """Predicted recall: ``pred`` (with its range ``pred_lo``, ``pred_hi`` where it rests on a measured SNR), the
    isotropic (lambda = 1) variant, and the single-SNR ``mutant`` (typical probe; for the delta rule one SNR for all
    query positions)."""
    from impl.estimators import recall_prediction as rp

    memory, tau_of, _ = MEMORY_SETUPS[setup]
    if memory == "delta":
        from impl.estimators.recall_measured import delta_noise_to_signal

        R, lo, hi = delta_noise_to_signal(n_pairs, d_k, 1000, seed, alpha=LEVEL_ALPHA)
        p = rp.predicted_recall_from_s2(R, n_pairs, d_v)
        return dict(pred=p, pred_lo=rp.predicted_recall_from_s2(hi, n_pairs, d_v),
                    pred_hi=rp.predicted_recall_from_s2(lo, n_pairs, d_v),
                    iso=rp.predicted_recall_from_s2(R, n_pairs, d_v, own_weight=False),
                    mutant=rp.predicted_recall_from_s2(np.full(n_pairs, R.mean()), n_pairs, d_v),
                    snr_note=f"delta-rule SNR measured per query position on 1000 other memories (R_p from {R.min():.3g} "
                             f"to {R.max():.3g})")
    kernel = "linear" if memory == "linear" else "exp"
    tau = tau_of(d_k) if tau_of else None
    p = rp.predicted_recall_kernel(kernel, n_pairs, d_k, d_v, tau=tau)
    return dict(pred=p, pred_lo=p, pred_hi=p, iso=rp.predicted_recall_kernel(kernel, n_pairs, d_k, d_v, tau=tau, own_weight=False),
                mutant=rp.predicted_recall_kernel(kernel, n_pairs, d_k, d_v, tau=tau, average="typical"),
                snr_note="exact conditional SNR^-1 averaged over the probe (kappa, nu)")


def measure(setup: str, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, *, alpha=LEVEL_ALPHA, device="cpu",
            dtype="float64") -> dict:
    """Measured recall with its Clopper-Pearson interval, and the key-conditional diagnostic prediction (P averaged
    over each trial's own S2 = sum_{j != i}(w_j/w_i)^2 and nu)."""
    from impl.estimators import recall_prediction as rp
    from impl.estimators.recall_measured import measure_recall
    from impl.estimators.stats import binomial_interval

    memory, tau_of, _ = MEMORY_SETUPS[setup]
    m = measure_recall(memory, n_pairs, d_k, d_v, trials, seed, tau=tau_of(d_k) if tau_of else None, device=device,
                       dtype=dtype)
    b = binomial_interval(m["hits"], m["trials"], alpha)
    return dict(recall=b.value, lo=b.lo, hi=b.hi, level=b.level, n=m["trials"],
                key_conditional=rp.predicted_recall_per_draw(m["s2"], m["nu"], n_pairs, d_v))


JOB = "recall/sweep"


def _recall_result(setup, params, seed, *, mutant=False, device="cpu", dtype="float64") -> dict:
    """Compute one comparison: the fields of its ``Result`` as plain data (JSON-able, for the evidence record)."""
    n, T = params["n_pairs"], params["trials"]
    meas = measure(setup, n, D, D, T, seed, device=device, dtype=dtype)
    pr = predictions(setup, n, D, D, seed + 1)
    lo_p, hi_p = (pr["mutant"], pr["mutant"]) if mutant else (pr["pred_lo"], pr["pred_hi"])
    theory = pr["mutant"] if mutant else pr["pred"]
    ok = meas["hi"] >= lo_p - TOL and meas["lo"] <= hi_p + TOL
    note = (f"measured - predicted = {meas['recall'] - theory:+.3f} (absolute); key-conditional prediction "
            f"{meas['key_conditional']:.3f}; isotropic (lambda = 1) {pr['iso']:.3f}; typical-SNR prediction "
            f"{pr['mutant']:.3f}; {pr['snr_note']}")
    if pr["pred_lo"] != pr["pred_hi"] and not mutant:
        note += f"; prediction range from the SNR's interval [{pr['pred_lo']:.3f}, {pr['pred_hi']:.3f}]"
    return dict(claim=f"C10.recall.{setup}", params=dict(params), seed=seed, passed=bool(ok), theory=theory,
                estimate=meas["recall"], lo=meas["lo"], hi=meas["hi"], level=meas["level"], n=T,
                error=meas["recall"] - theory, tolerance=TOL, note=note,
                extra={"key_conditional": meas["key_conditional"], "isotropic": pr["iso"], "typical_snr": pr["mutant"]})


def _from_record(claim_id, params, seed):
    """The record's row for this claim, point and seed, with the record's state, or (None, state)."""
    from assocmem import evidence

    results, st = evidence.results(JOB)
    for row in (results or {}).get("rows", []):
        if row["claim"] == claim_id and row["params"] == dict(params) and row["seed"] == seed:
            return row, st
    return None, st


def check_recall(params, seed, *, setup, mutant=False, device="cpu", dtype="float64") -> Result:
    """Measured recall against the prediction from the SNR (tolerance TOL, interval at level 1 - LEVEL_ALPHA).
    Report grid points are read from the evidence record ``recall/sweep`` (large samples); other points (property
    tests, power points, a report with another base seed, a missing record) are computed here."""
    cid = f"C10.recall.{setup}"
    row, st = (None, None) if mutant or device != "cpu" or dtype != "float64" else _from_record(cid, params, seed)
    if row is not None:
        return Result(**{**row, "note": row["note"] + f"; evidence record {JOB}: {st.state} ({st.fingerprint})"})
    return Result(**_recall_result(setup, params, seed, mutant=mutant, device=device, dtype=dtype))


def _regime(results) -> str:
    ok = [r.params["n_pairs"] for r in results if r.passed]
    bad = [r for r in results if not r.passed]
    sign = {("under" if r.error > 0 else "over") for r in bad}
    kc = all(abs(r.estimate - r.extra["key_conditional"]) <= TOL + (r.hi - r.lo) / 2 for r in bad)
    why = ("; there the key-conditional prediction (P averaged over each draw's own crosstalk) is still within tolerance: the "
           "prediction fails because one SNR number (a mean over key draws) stands in for a spread-out crosstalk"
           if bad and kc else "")
    return (f"within {TOL} at N in {ok} (d_k = d_v = {D}); the prediction {'/'.join(sorted(sign))}estimates recall at "
            f"N in {[r.params['n_pairs'] for r in bad]}{why}")


_STATEMENTS = {
    "linear": "Expected (pilot) to hold at every N.",
    "exp_tau2": "Expected (pilot) to hold for N <= 256 and to break at large N, where the exp kernel's crosstalk is "
                "heavy-tailed over the other keys' draws: its mean, the conditional SNR^{-1}, is dominated by rare keys "
                "close to the probe while most draws sit far below it, so the prediction underestimates recall.",
    "exp_sqrt": "Expected (pilot) to hold at every N measured.",
    "softmax": "Softmax attention decodes exactly as the exp kernel at the same tau (its normaliser is one positive "
               "number per query); expected (pilot) to hold at every N measured.",
    "delta": "The delta rule's SNR has no closed form: it is measured per query position (ratio of expectations over "
             "the keys, on other memories) and the prediction averages over positions. Expected (pilot) to hold for "
             "N >= 2 d_k and to overestimate recall for N <= d_k, where the crosstalk varies widely between key draws.",
}
_GRIDS = {"linear": (4, 16, 64, 256), "exp_tau2": (16, 64, 256, 1024, 4096), "exp_sqrt": (16, 64, 256, 1024),
          "softmax": (64, 256, 1024), "delta": (4, 8, 16, 32, 64)}


def _trials(n):
    """Evidence-job sample sizes: 10000 one-query memories (interval half-width <= 0.017 at level 1 - 1e-3), fewer at
    large N (8000 at N = 1024, 4000 at N = 4096)."""
    return 10000 if n <= 256 else (8000 if n <= 1024 else 4000)


_STRAT_N = {"linear": [8, 32, 128], "exp_tau2": [16, 64, 128], "exp_sqrt": [32, 128], "softmax": [32, 128],
            "delta": [32, 64]}
_QUICK_N = {"linear": 64, "exp_tau2": 64, "exp_sqrt": 256, "softmax": 256, "delta": 64}
_POWER_N = {"linear": 16, "exp_tau2": 64, "exp_sqrt": 64, "softmax": 64, "delta": 32}


def _strategy(setup):
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n_pairs": st.sampled_from(_STRAT_N[setup]), "trials": st.just(600 if setup == "delta" else 1000)})


for _s, (_mem, _tau, _label) in MEMORY_SETUPS.items():
    register(Claim(
        id=f"C10.recall.{_s}", title=f"Recall predicted from the SNR: {_label}", tag="suite", ref="docs/CLAIMS.md C10",
        kind="approximation", convention="conditional SNR averaged over the probe (delta rule: per query position)",
        statement=f"On continuous MQAR-style data (d_k = d_v = {D}, N Gaussian pairs, one query per memory at a random "
                  f"stored position, nearest stored value by cosine), the measured recall of the {_label} is within {TOL} "
                  "(absolute; pre-stated tolerance, Clopper-Pearson interval at level 1 - 1e-3) of the Gaussian-"
                  "crosstalk prediction from its SNR (C10.recall.derivation, with the competitor's own weight). "
                  + _STATEMENTS[_s],
        run=partial(check_recall, setup=_s), mutant=partial(check_recall, setup=_s, mutant=True),
        mutant_says=("one SNR for every query position (the positions' mean noise-to-signal)" if _s == "delta"
                     else "recall predicted from the typical-probe SNR (no average over the probe)"),
        strategy=partial(_strategy, _s), regime=_regime,
        grid=tuple(dict(n_pairs=n, trials=_trials(n)) for n in _GRIDS[_s]), evidence=JOB,
        quick_grid=(dict(n_pairs=_QUICK_N[_s], trials=1000),),
        power_grid=(dict(n_pairs=_POWER_N[_s], trials=2000 if _s == "exp_tau2" else 1000),), modules=MODULES,
        notes="Columns: approximation = predicted recall, exact / measured = measured recall [interval], departure = "
              "measured - predicted (absolute). The note of every row also gives the key-conditional prediction (P "
              "averaged over each trial's own crosstalk S2 and nu), which separates the two approximations: "
              "replacing the crosstalk's distribution by one SNR number, and independent competitors.",
    ))


def run_sweep(opts) -> dict:
    """The evidence job: every report grid point of every C10.recall claim, through the sweep runner (cached,
    resumable), at the report's seeds."""
    from assocmem import registry, sweep

    points = [(c.id, dict(p)) for c in registry.claims() if c.id.startswith("C10.recall.") and c.evidence == JOB
              for p in c.report_grid(opts.quick)]
    tasks = [sweep.Task.call(sweep_point, dict(p, setup=cid.rsplit(".", 1)[1]), registry.point_seed(cid, p, opts.seed),
                             modules=MODULES) for cid, p in points]
    return {"rows": sweep.run(tasks, desc=JOB, **opts.sweep_kwargs())}


def sweep_point(params, seed, *, device="cpu", dtype="float64") -> dict:
    p = dict(params)
    setup = p.pop("setup")
    return _recall_result(setup, p, seed, device=device, dtype=dtype)


def _register_job():
    from assocmem import evidence

    evidence.register_job(evidence.Job(
        id=JOB, title="Recall predicted from the SNR: measured on large samples (C10.recall.*)", run=run_sweep,
        modules=MODULES, cost="about 1.8e9 Gaussian draws: a few minutes on 2 cores",
        description="measured nearest-value recall (one query per memory, 4000-10000 memories per point) and the "
                    "Gaussian-crosstalk prediction from the SNR, at every report grid point of the C10.recall claims"))


_register_job()


# --- figure: predicted and measured recall against N, per memory -------------------------------------------------

FIG_N = {"linear": (4, 16, 64, 256), "exp_tau2": (16, 64, 256, 1024), "exp_sqrt": (16, 64, 256, 1024),
         "softmax": (16, 64, 256, 1024), "delta": (4, 8, 16, 32, 64)}


def compute_recall_figure(point, seed, *, device="cpu", dtype="float64"):
    setup, n = point["setup"], point["n_pairs"]
    meas = measure(setup, n, D, D, point["trials"], seed, alpha=0.05, device=device, dtype=dtype)
    pr = predictions(setup, n, D, D, seed + 1)
    return [dict(setup=setup, n_pairs=n, estimate=meas["recall"], lo=meas["lo"], hi=meas["hi"], trials=meas["n"],
                 theory=pr["pred"], pred_lo=pr["pred_lo"], pred_hi=pr["pred_hi"], isotropic=pr["iso"],
                 typical_snr=pr["mutant"], key_conditional=meas["key_conditional"])]


def draw_recall_figure(rows):
    from assocmem.claims import _style

    setups = [s for s in MEMORY_SETUPS if any(r["setup"] == s for r in rows)]
    fig, axes, spare = _style.panels(len(setups), height=3.1, legend_slot=True)
    for ax, s in zip(axes, setups):
        rs = sorted((r for r in rows if r["setup"] == s), key=lambda r: r["n_pairs"])
        x = [r["n_pairs"] for r in rs]
        ax.plot(x, [r["theory"] for r in rs], "-", color="C0", label="predicted from the SNR (probe-averaged)")
        if any(r["pred_lo"] != r["pred_hi"] for r in rs):
            ax.fill_between(x, [r["pred_lo"] for r in rs], [r["pred_hi"] for r in rs], color="C0", alpha=0.2,
                            label="prediction range (measured SNR's interval)")
        ax.plot(x, [r["typical_snr"] for r in rs], "--", color="C1",
                label="predicted from one SNR (typical probe; delta: position-averaged)")
        ax.plot(x, [r["key_conditional"] for r in rs], ":", marker="x", color="C2", ms=5,
                label="key-conditional prediction (each draw's own crosstalk)")
        ax.errorbar(x, [r["estimate"] for r in rs], yerr=[[r["estimate"] - r["lo"] for r in rs], [r["hi"] - r["estimate"] for r in rs]],
                    fmt="o", color="k", ms=4, capsize=2, label="measured (95% Clopper-Pearson)")
        ax.set(xscale="log", xlabel="N (stored pairs)", title=MEMORY_SETUPS[s][2], ylim=(-0.02, 1.02))
        ax.set_xticks(x, [str(n) for n in x])
        ax.minorticks_off()
        ax.set_ylabel("recall (nearest value)")
    handles, labels = axes[-1].get_legend_handles_labels()
    _style.shared_legend(fig, handles, labels, spare, ncol=2)
    return _style.finish(fig, f"Nearest-value recall against N, d_k = d_v = {D}: measured and predicted from the SNR")


register_figure(Figure(
    id="recall_vs_n", title="Recall against N: measured and predicted from the SNR, per memory", claims=("C10",),
    points=tuple(dict(setup=s, n_pairs=n, trials=600) for s in MEMORY_SETUPS for n in FIG_N[s]),
    quick_points=(dict(setup="exp_tau2", n_pairs=64, trials=200), dict(setup="delta", n_pairs=16, trials=200)),
    compute=compute_recall_figure, draw=draw_recall_figure, modules=MODULES,
    caption=f"Continuous MQAR-style data, d_k = d_v = {D}, one query per memory (600 memories per point). Solid: "
            "recall predicted from the SNR by the Gaussian-crosstalk integral (C10.recall.derivation), averaged over "
            "the probe's exact conditional SNR (delta rule: over query positions, SNR measured). Dashed: the same "
            "integral at one SNR (typical probe). Dotted: the integral averaged over each draw's own crosstalk (a "
            "diagnostic: where it agrees and the solid line does not, one SNR number cannot stand for a spread-out "
            "crosstalk — the exp kernel at tau = 2 and large N, the delta rule at small N).",
))
