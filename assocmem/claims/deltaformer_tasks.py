"""docs/CLAIMS.md D4 (swap task) and D5 (DAG task): claims, figures and the DeltaFormer section, read from the records
of the evidence jobs ``d4.swap``, ``d5.pilot`` and ``d5.dag`` (defined and pre-registered in
``assocmem/claims/_deltaformer_jobs.py``).

Each claim is one arm; each grid point one cell (slots n for D4; edges in topological order for D5) with a verdict
stated before the runs (``criterion``), scoped to the scale that was trained:

* *inconclusive* only when the experiment's named positive control (DeltaNet, the same cell) did not fit its
  training lengths, or (D5) when the feasibility pilot failed ("infeasible at this scale");
* *not replicated: did not learn at this scale* when the arm did not fit (seed-mean accuracy at train_max - 1 and
  train_max below ``FIT_AT``) while the positive control did; the note says whether the control fit within a tenth
  of the step cap;
* otherwise *replicated* or *not replicated* by the accuracy at twice the longest training length.

Diverged runs stay in the means (every answer counted wrong) and are counted in the note. A missing record makes
every cell "not run", with the command. Shuffled D5 lists have no verdict: they are reported against the one-pass
bound and the L-pass reference (``impl.tasks.dag.passes_accuracy``).
"""

from __future__ import annotations

import hashlib
import statistics
from typing import NamedTuple

from assocmem import evidence
from assocmem.claims import _deltaformer_jobs as jobs
from assocmem.registry import (
    Claim,
    Figure,
    Result,
    Section,
    fmt,
    register,
    register_figure,
    register_section,
)

evidence.register_job(jobs.D4_JOB)
evidence.register_job(jobs.PILOT_JOB)
evidence.register_job(jobs.D5_JOB)

FIT_AT = jobs.FIT_AT
PC = jobs.POSITIVE_CONTROL
CLAIM_MODULES = ("impl.estimators.stats", "assocmem.claims._deltaformer_jobs")


# ----------------------------------------------------------------------------------------------------------------
# reading the records


def _rate(e) -> float:
    return e["correct"] / e["total"]


def cell_summary(runs: list[dict]) -> dict:
    """{length: {mean, min, max, correct, total}} over the seeds of one cell (accuracies to 3 decimals), plus
    seeds, diverged, timeouts (runs with a curriculum stage advanced on timeout), fit_runs, nonfinite / queries
    (evaluation queries whose logits were not finite, counted as wrong, out of all evaluation queries of the cell),
    steps_to_fit (per seed; None: the cap came first), fit_by_cap (runs that met the stopping criterion), lrs."""
    by_len: dict = {}
    for r in runs:
        for e in r["eval"]:
            by_len.setdefault(e["length"], []).append(e)
    table = {}
    for L, es in sorted(by_len.items()):
        accs = [_rate(e) for e in es]
        table[L] = {"mean": round(sum(accs) / len(accs), 3), "min": round(min(accs), 3), "max": round(max(accs), 3),
                    "correct": sum(e["correct"] for e in es), "total": sum(e["total"] for e in es)}
    steps = [r.get("steps_to_fit") for r in runs]
    return {"lengths": table, "seeds": len(runs), "diverged": sum(r["diverged_at"] is not None for r in runs),
            "timeouts": sum(bool(r["curriculum"]["timeouts"]) for r in runs), "fit_runs": sum(r["fit"] for r in runs),
            "nonfinite": sum(e.get("nonfinite", 0) for r in runs for e in r["eval"]),
            "queries": sum(e["total"] for r in runs for e in r["eval"]), "steps_to_fit": steps,
            "fit_by_cap": sum(x is not None for x in steps), "lrs": sorted({r["lr"] for r in runs if "lr" in r})}


def _diverged_text(s: dict) -> str:
    """Runs whose training loss became NaN or inf, and evaluation queries with non-finite logits (counted wrong)."""
    text = f"{s['diverged']}/{s['seeds']}"
    return text + (f"; non-finite outputs {s['nonfinite']}/{s['queries']}" if s["nonfinite"] else "")


def fitted(summary: dict, train_max: int) -> tuple[bool, str]:
    """(whether the seed-mean accuracy at train_max - 1 and train_max is >= FIT_AT, the text of those numbers)."""
    t = summary["lengths"]
    fit_at = [L for L in (train_max - 1, train_max) if L in t]
    fit = bool(fit_at) and all(t[L]["mean"] >= FIT_AT for L in fit_at)
    return fit, ", ".join(f"L={L} {fmt(t[L]['mean'], 3)}" for L in fit_at)


def median_steps(summary: dict) -> int | None:
    """The median steps to fit over the seeds that met the stopping criterion (None if no seed did)."""
    xs = [x for x in summary.get("steps_to_fit", []) if x is not None]
    return int(statistics.median(xs)) if xs else None


def criterion(summary: dict, train_max: int, gen_lengths, expect: str, control: dict | None = None,
              cap: int | None = None) -> tuple[str, str]:
    """(outcome, reason) by the pre-stated rules (module docstring). ``control``: the positive control's cell
    summary (None when this cell is the control itself); ``cap``: the step cap of the runs."""
    fit, fit_text = fitted(summary, train_max)
    if not fit:
        if control is None:
            return "inconclusive", (f"the positive control {PC} itself did not fit its training lengths ({fit_text}; "
                                    f"needs >= {FIT_AT})")
        c_fit, c_text = fitted(control, train_max)
        if not c_fit:
            return "inconclusive", (f"did not fit ({fit_text}), and neither did the positive control {PC} ({c_text}; "
                                    f"needs >= {FIT_AT})")
        m = median_steps(control)
        pace = ("" if m is None or cap is None else
                f"; {PC} fit in a median {m} steps, " + ("within" if m <= cap / 10 else "more than") +
                f" a tenth of the cap")
        return "not replicated", (f"did not learn at this scale: no fit within the cap of {cap} steps ({fit_text}; "
                                  f"needs >= {FIT_AT}) while the positive control {PC} fit ({c_text}){pace}")
    gen = [L for L in gen_lengths if L in summary["lengths"]]
    t = summary["lengths"]
    gen_text = ", ".join(f"L={L} {fmt(t[L]['mean'], 3)}" for L in gen)
    high = all(t[L]["mean"] >= FIT_AT for L in gen)
    ok = high if expect == "generalises" else not high
    return ("replicated" if ok else "not replicated"), f"fit ({fit_text}); at {gen_text}"


def _missing(claim_id, p, seed, job_id, st) -> Result:
    return Result(claim_id, dict(p), seed, passed=False, not_run=True, note=st.absent)


def _cell_result(claim_id, p, seed, s, outcome, why, gen_lengths, st) -> Result:
    from impl.estimators.stats import binomial_interval

    L = gen_lengths[0]
    row = s["lengths"].get(L)
    ci = binomial_interval(row["correct"], row["total"], alpha=0.05) if row else None
    steps = ", ".join("cap" if x is None else str(x) for x in s["steps_to_fit"])
    note = (f"{outcome}: {why}; steps to fit per seed [{steps}], learning rate {', '.join(map(str, s['lrs']))}; "
            f"diverged {s['diverged']}/{s['seeds']}" + ("" if st.state == "fresh" else f"; record {st.state}"))
    return Result(claim_id, dict(p), seed, passed=outcome == "replicated", inconclusive=outcome == "inconclusive",
                  estimate=row["mean"] if row else None, lo=round(ci.lo, 3) if ci else None,
                  hi=round(ci.hi, 3) if ci else None, level=0.95, n=s["seeds"], note=note,
                  extra={"outcome": outcome, "summary": s})


def cell_verdict(res: dict, arm: str, key: str, value, expect: str) -> tuple[dict, str, str]:
    """(summary, outcome, reason) of one cell of a record (``key``: "n" or "order"), judged against the positive
    control's cell with the same ``value``."""
    tm = res["config"]["train_max"]
    cap = res["config"]["steps"]
    s = cell_summary([r for r in res["runs"] if r["arm"] == arm and r[key] == value])
    control = None
    if arm != PC:
        control = cell_summary([r for r in res["runs"] if r["arm"] == PC and r[key] == value])
    outcome, why = criterion(s, tm, (2 * tm, 2 * tm + 1) if key == "n" else (2 * tm,), expect, control, cap)
    return s, outcome, why


# ----------------------------------------------------------------------------------------------------------------
# D4: the swap task, one claim per arm


D4_TRAIN_MAX = jobs.D4_CONFIG.train_max
D4_GEN = (2 * D4_TRAIN_MAX, 2 * D4_TRAIN_MAX + 1)
D4_EXPECT = {
    "deltaformer": ("paper", "generalises",
                    "the paper's softmax DeltaFormer as flash-linear-attention builds it (RoPE on q and k, k-k "
                    "similarity in kappa1, both kernels softmax, unbounded b) length-generalises"),
    "deltaformer_exp": ("suite", "generalises",
                        "DeltaFormer with the stable unnormalised kernels b exp(s1 (k.k' - 1)), exp(s2 (q.k - 1)) on "
                        "unit vectors (b in [0, 2]) length-generalises"),
    "deltaformer_lin1": ("suite", "generalises",
                         "DeltaFormer with a linear kappa1 on unit keys (b in [0, 2]) and a softmax kappa2 "
                         "length-generalises"),
    "deltanet": ("suite", "generalises", "DeltaNet (b in [0, 2]; the positive control) length-generalises"),
    "transformer": ("paper", "fails beyond",
                    "the softmax Transformer (no positional encoding; the negative control) fits the training "
                    "lengths but does not length-generalise"),
    "swap_linear": ("suite", "generalises",
                    "the swap construction arm (n linear-kernel DeltaFormer heads of width n with w = k, then a ReLU "
                    "layer: impl.tasks.construction.SwapModel; it can express D3.permutation), trained from a random "
                    "start, length-generalises"),
    "swap_linear_init": ("suite", "generalises",
                         "the same swap construction arm started at the construction plus N(0, "
                         f"{jobs.D4_MODELS['swap_linear_init'][2]}^2) noise on every weight and trained "
                         "length-generalises (it can represent the exact solution: this separates cannot represent "
                         "from cannot find)"),
}


class _Superseded(NamedTuple):
    """In place of an evidence Status: a record that exists but was made under an earlier design."""

    job: str
    state: str
    fingerprint: str
    absent: str


def _results(job_id: str):
    """(the record's results, its status) as ``evidence.results`` — except that a D4/D5 record without a
    learning-rate selection table predates the pre-registered design (it was made by fixed-step curriculum training,
    judged by other rules): it is not read, and the status says so with the command that makes a current one."""
    res, st = evidence.results(job_id)
    if res is not None and job_id in ("d4.swap", "d5.dag") and "selection" not in res:
        return None, _Superseded(job_id, "superseded", st.fingerprint, (
            f"the {job_id} record ({st.state}, {st.fingerprint}) predates the pre-registered design (no learning-rate "
            f"selection; fixed-step curriculum training), so it is not judged by these rules: run `assocmem evidence "
            f"run {job_id}`"))
    return res, st


def _judge(job_id, group, key, expect_of, p, seed):
    """The Result of one cell (arm and ``key``: slots or edge order) from the job's record."""
    cid = f"{group}.{p['arm']}"
    res, st = _results(job_id)
    if res is None:
        return _missing(cid, p, seed, job_id, st)
    if not any(r["arm"] == p["arm"] and r[key] == p[key] for r in res["runs"]):
        return Result(cid, dict(p), seed, passed=False, not_run=True,
                      note=f"the {job_id} record ({st.state}) has no runs of this arm at {key} = {p[key]} (it "
                           f"predates the arm): run `assocmem evidence run {job_id}`")
    s, outcome, why = cell_verdict(res, p["arm"], key, p[key], expect_of[p["arm"]][1])
    tm = res["config"]["train_max"]
    if job_id == "d5.dag":
        pilot, _ = evidence.results("d5.pilot")
        if pilot is not None and not pilot["passed"]:
            outcome, why = "inconclusive", (
                f"infeasible at this scale: the feasibility pilot's positive control ({pilot['arm']}) did not reach "
                f"validation accuracy {pilot['gate']} at k = 1 and 2 within {pilot['cap']} steps ({pilot['val_acc']}); "
                f"this cell: {why}")
        elif pilot is None:
            why += "; the feasibility pilot has no record (`assocmem evidence run d5.pilot`)"
    gen = (2 * tm, 2 * tm + 1) if key == "n" else (2 * tm,)
    return _cell_result(cid, p, seed, s, outcome, why, gen, st)


def run_d4(p, seed, *, device="cpu", dtype="float32"):
    return _judge("d4.swap", "D4.swap", "n", D4_EXPECT, p, seed)


def _rules(gen_text: str, expect: str, cap: int) -> str:
    verdict = (f"seed-mean accuracy >= {FIT_AT} at {gen_text}" if expect == "generalises"
               else f"seed-mean accuracy below {FIT_AT} at {gen_text}")
    return (f"Verdict rules: inconclusive only if the positive control {PC} (same cell) does not fit (seed-mean "
            f"evaluation accuracy >= {FIT_AT} at train_max - 1 and train_max); if this arm does not fit while the "
            f"control does: not replicated, did not learn at this scale (the note says whether the control fit "
            f"within a tenth of the {cap}-step cap); else replicated if {verdict}, not replicated otherwise. "
            "Diverged runs count every answer wrong.")


def _budget(cfg, seeds, select_steps) -> str:
    return (f"fit-first training to validation accuracy {cfg.fit_stop} at train_max - 1 and train_max (checked "
            f"every {cfg.check_every} steps on {cfg.val_samples} held-out sequences per length) or a cap of "
            f"{cfg.steps} AdamW steps (batch {cfg.batch}, linear warm-up {cfg.warmup} steps then constant); learning "
            f"rate per arm and cell from {{{', '.join(map(str, jobs.LR_GRID))}}} by the final validation loss of "
            f"{select_steps}-step runs on the separate seed {jobs.SELECT_SEED}; {len(seeds)} main seeds")


def _d4_statement(arm):
    tag, expect, what = D4_EXPECT[arm]
    cfg = jobs.D4_CONFIG
    shape = (f"width {cfg.d}, depth {cfg.depth}, {cfg.heads} heads" if jobs.D4_MODELS[arm][0] != "swap_linear" else
             "one layer of n heads of width n")
    return (f"Claim: {what}. Pre-registered design, per n in {{2, 3, 5}} slots: swap and no-swap tokens after a start "
            f"token, every prefix supervised, training lengths 1..{cfg.train_max} in every batch; {shape}; "
            f"{_budget(cfg, jobs.D4_SEEDS, jobs.D4_SELECT_STEPS)}; {cfg.eval_samples} "
            f"fresh sequences per length, odd and even lengths up to {4 * cfg.train_max}. Positive control: {PC}; "
            f"negative control: the Transformer. Pre-stated criterion. {_rules('L = 16 and 17', expect, cfg.steps)} "
            f"Scope: {shape}, <= {cfg.steps} steps; a verdict says nothing about larger models or budgets.")


for _arm, (_tag, _expect, _what) in D4_EXPECT.items():
    register(Claim(
        id=f"D4.swap.{_arm}", title=f"Swap task, {_arm}: " + ("length-generalises" if _expect == "generalises"
                                                                else "fits but does not length-generalise"),
        tag=_tag, ref="§3.2 (swap task)" + ("" if _tag == "paper" else "; an arm of this project"),
        statement=_d4_statement(_arm), kind="experiment",
        convention="estimate: seed-mean accuracy at L = 16 (one random slot query per sequence); interval: pooled "
                   "95% Clopper-Pearson over the seeds' queries",
        run=run_d4, grid=[{"arm": _arm, "n": n} for n in jobs.D4_SLOTS], quick_grid=[{"arm": _arm, "n": n}
                                                                                   for n in jobs.D4_SLOTS],
        devices=("cpu",), modules=CLAIM_MODULES, evidence="d4.swap",
    ))


# ----------------------------------------------------------------------------------------------------------------
# D5: the DAG task, one claim per arm (edges in topological order; shuffled lists are reported, not judged)


D5_TRAIN_MAX = jobs.D5_CONFIG.train_max
D5_GEN = 2 * D5_TRAIN_MAX
CONSTRUCTION_ARM = ("one linear-kernel DeltaFormer layer with its own w projection, an unbounded b and one head as "
                    "wide as the labels, then a ReLU layer (impl.tasks.construction; it can express D5.construction)")
D5_EXPECT = {
    "deltaformer": ("paper", "generalises", "the paper's softmax DeltaFormer (as fla builds it, depth 2) answers "
                                            f"reachability queries needing twice the training hops (k = {D5_GEN})"),
    "deltanet": ("suite", "generalises", f"DeltaNet (b in [0, 2], depth 2; the positive control) generalises to "
                                         f"k = {D5_GEN}"),
    "transformer": ("paper", "fails beyond", "the softmax Transformer (depth 2, no positional encoding; the negative "
                                             f"control) fits the training hops but does not generalise to k = {D5_GEN}"),
    "reach_linear": ("suite", "generalises", f"{CONSTRUCTION_ARM}, trained from a random start, generalises to "
                                             f"k = {D5_GEN}"),
    "reach_linear_init": ("suite", "generalises", f"the same construction arm started at the construction plus "
                                                  f"N(0, {jobs.D5_ARMS['reach_linear_init'][3]}^2) noise on every "
                                                  f"weight and trained generalises to k = {D5_GEN} (it can represent "
                                                  "the exact solution: this separates cannot represent from cannot "
                                                  "find)"),
}


def run_d5(p, seed, *, device="cpu", dtype="float32"):
    return _judge("d5.dag", "D5.dag", "order", D5_EXPECT, p, seed)


def _d5_statement(arm):
    tag, expect, what = D5_EXPECT[arm]
    cfg = jobs.D5_CONFIG
    model, depth, _, _ = jobs.D5_MODELS[arm]
    shape = "one layer" if model == "reach_linear" else f"width {cfg.d}, depth {depth}, {cfg.heads} heads"
    return (f"Claim: {what}. Pre-registered design: three k-hop chains over {cfg.size} node labels plus k distractor "
            f"edges, listed in topological order, then four balanced queries; training hops k in 1..{cfg.train_max} "
            f"drawn per batch; one auxiliary target for every arm (the successor of each query's source node, "
            f"n = {cfg.size} extra logits, weight 1 in the loss, never scored); {shape}; "
            f"{_budget(cfg, jobs.D5_SEEDS, jobs.D5_SELECT_STEPS)}; {cfg.eval_samples} fresh instances per k = "
            f"{', '.join(map(str, cfg.eval_lengths))}, the first query of each (4 x the training hops would need "
            f"3 (8 + 1) = 27 labels, so it is not evaluated). Feasibility pilot (d5.pilot, before the grid): the "
            f"positive control must reach validation accuracy {jobs.PILOT_GATE} at k = 1 and 2 within "
            f"{cfg.steps} steps, else every D5 cell is inconclusive, infeasible at this scale. Positive control: "
            f"{PC}; negative control: the Transformer. Pre-stated criterion. "
            f"{_rules(f'k = {D5_GEN}', expect, cfg.steps)} Scope: {shape}, {cfg.size} labels, <= {cfg.steps} steps.")


for _arm, (_tag, _expect, _what) in D5_EXPECT.items():
    register(Claim(
        id=f"D5.dag.{_arm}", title=f"DAG task, {_arm}: " + ("generalises to twice the training hops"
                                                              if _expect == "generalises" else
                                                              "fits but does not generalise to more hops"),
        tag=_tag, ref="§3.3 (DAG task)" + ("" if _tag == "paper" else "; an arm of this project"),
        statement=_d5_statement(_arm), kind="experiment",
        convention=f"estimate: seed-mean accuracy at k = {D5_GEN} (first query of each instance); interval: pooled "
                   "95% Clopper-Pearson over the seeds' queries",
        run=run_d5, grid=[{"arm": _arm, "order": "in_order"}], quick_grid=[{"arm": _arm, "order": "in_order"}],
        devices=("cpu",), modules=CLAIM_MODULES, evidence="d5.dag",
    ))


# ----------------------------------------------------------------------------------------------------------------
# figures (read the records; the point carries the record's digest so a new record is never served from the cache)


def _record_digest(job_id: str) -> str:
    try:
        return hashlib.sha256(evidence.record_path(job_id).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def _run_fields(r, res) -> dict:
    return {"seed": r["seed"], "diverged": r["diverged_at"] is not None, "train_max": res["config"]["train_max"],
            "steps_to_fit": r.get("steps_to_fit"), "cap": r.get("steps_cap", res["config"]["steps"]),
            "lr": r.get("lr")}


def compute_d4(point, seed, *, device="cpu", dtype="float32"):
    res, _ = _results("d4.swap")
    if res is None:
        return []
    return [{"arm": r["arm"], "n": r["n"], "length": e["length"], "correct": e["correct"], "total": e["total"],
             "accuracy": round(_rate(e), 3), **_run_fields(r, res)} for r in res["runs"] for e in r["eval"]]


def compute_d5(point, seed, *, device="cpu", dtype="float32"):
    from impl.tasks.dag import passes_accuracy

    res, _ = _results("d5.dag")
    if res is None:
        return []
    out = []
    for r in res["runs"]:
        cap = res.get("shuffled_steps", res["config"]["steps"]) if r["order"] == "shuffled" else res["config"]["steps"]
        for e in r["eval"]:
            k, shuffled = e["length"], r["order"] == "shuffled"
            out.append({"arm": r["arm"], "order": r["order"], "length": k, "correct": e["correct"],
                        "total": e["total"], "accuracy": round(_rate(e), 3), **_run_fields(r, res), "cap": cap,
                        "one_pass": round(passes_accuracy(k, 1), 6) if shuffled else 1.0,
                        "two_pass": round(passes_accuracy(k, 2), 6) if shuffled else 1.0,
                        "four_pass": round(passes_accuracy(k, 4), 6) if shuffled else 1.0})
    return out


def _steps_key():
    """Legend entries (handles, labels) of the steps-to-fit panels."""
    from matplotlib.lines import Line2D

    return ([Line2D([], [], color="black", ls=":", lw=0.8), Line2D([], [], color="grey", ls="--", lw=0.6),
             Line2D([], [], color="black", marker="x", ls="none")],
            ["steps panels: the step cap", "steps panels: a tenth of the cap", "steps panels: did not fit (at the cap)"])


def _steps_panel(ax, rows, arms):
    """Steps to fit per seed (one marker per run; an x at the cap for a run that did not fit), per arm."""
    cap = max((r["cap"] for r in rows), default=1)
    for i, arm in enumerate(arms):
        runs = {(r["seed"]): r for r in rows if r["arm"] == arm}
        colour, marker, _ = ARM_STYLE.get(arm, ("black", "o", "-"))
        for j, r in enumerate(runs.values()):
            x = i + (j - len(runs) / 2) * 0.12
            if r["steps_to_fit"] is None:
                ax.plot(x, r["cap"], marker="x", color=colour, ms=5)
            else:
                ax.plot(x, r["steps_to_fit"], marker=marker, color=colour, ms=4)
    ax.axhline(cap, color="black", ls=":", lw=0.8)
    ax.axhline(cap / 10, color="grey", ls="--", lw=0.6)
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels(arms, rotation=35, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("steps to fit (x: cap)")
    ax.set_xlabel("arm")


ARM_STYLE = {"deltaformer": ("tab:green", "o", "-"), "deltaformer_exp": ("tab:olive", "s", "--"),
             "deltaformer_lin1": ("tab:purple", "^", "-."), "deltanet": ("tab:blue", "D", ":"),
             "transformer": ("tab:red", "v", "-"),
             "deltaformer_deep": ("darkgreen", "P", "--"), "transformer_deep": ("darkred", "X", "--"),
             "reach_linear": ("tab:cyan", "*", "-."), "reach_linear_init": ("tab:brown", "h", ":"),
             "swap_linear": ("tab:cyan", "*", "-."), "swap_linear_init": ("tab:brown", "h", ":")}
"""Per arm: colour, marker, line style; no two arms of one task share a marker (reach_* are D5's and swap_* D4's
construction controls), and the deep arms (dark shades of their shallow arm's colour) are dashed with open markers,
so that no arm is told from another by colour alone."""


def _series(ax, rows, arm, offset):
    """Seed mean with a min-max bar at every length (x offset so bars of different arms do not overlap)."""
    lengths = sorted({r["length"] for r in rows})
    accs = [[r["accuracy"] for r in rows if r["length"] == L] for L in lengths]
    mean = [sum(a) / len(a) for a in accs]
    lo = [m - min(a) for m, a in zip(mean, accs)]
    hi = [max(a) - m for m, a in zip(mean, accs)]
    colour, marker, ls = ARM_STYLE.get(arm, ("black", "o", "-"))
    open_marker = dict(mfc="white", mew=1.2) if arm.endswith("_deep") else {}
    seeds = len({r["seed"] for r in rows})
    div = len({r["seed"] for r in rows if r["diverged"]})
    label = f"{arm} ({seeds} seed{'s' if seeds != 1 else ''}" + (f", {div} diverged)" if div else ")")
    ax.errorbar([L + offset for L in lengths], mean, yerr=[lo, hi], color=colour, marker=marker, ms=5, lw=1, ls=ls,
                capsize=2, elinewidth=0.8, label=label, **open_marker)


def _empty(title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, "no evidence record of the current design yet: " + title, ha="center", va="center")
    ax.set_axis_off()
    return fig


def draw_d4(rows):
    from assocmem.claims import _style

    if not rows:
        return _empty("assocmem evidence run d4.swap")
    slots = sorted({r["n"] for r in rows})
    arms = [a for a in ARM_STYLE if any(r["arm"] == a for r in rows)]
    # one row per n: accuracy against L (left), each run's steps to fit (right)
    fig, flat, spare = _style.panels(2 * len(slots), height=3.4)
    axes, steps_axes = flat[0::2], flat[1::2]
    tm = rows[0]["train_max"]
    for ax, sax, n in zip(axes, steps_axes, slots):
        ax.axvspan(0.5, tm + 0.5, color="0.92", lw=0)
        for i, arm in enumerate(arms):
            _series(ax, [r for r in rows if r["n"] == n and r["arm"] == arm], arm, (i - len(arms) / 2) * 0.25)
        ax.axhline(1 / n, color="black", ls=":", lw=1)
        ax.axhline(FIT_AT, color="grey", ls="--", lw=0.8)
        ax.set_title(f"n = {n} slots")
        ax.set_xlabel("tokens after the start token, L")
        ax.set_ylim(-0.02, 1.04)
        ax.set_ylabel("accuracy (seed mean; bar: min to max)")
        _steps_panel(sax, [r for r in rows if r["n"] == n and r["length"] == rows[0]["length"]], arms)
        sax.set_title(f"n = {n}: steps to fit, per run")
    handles, labels = axes[0].get_legend_handles_labels()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles += [Patch(color="0.92"), Line2D([], [], color="black", ls=":"), Line2D([], [], color="grey", ls="--")]
    labels += [f"training lengths 1..{tm}", "chance 1/n", f"fit / replication threshold {FIT_AT}"]
    key_handles, key_labels = _steps_key()
    handles, labels = handles + key_handles, labels + key_labels
    _style.shared_legend(fig, handles, labels, spare, ncol=2)
    return _style.finish(fig, "Swap task (D4): accuracy of one slot query after L tokens, and steps to fit")


def draw_d5(rows):
    from assocmem.claims import _style

    if not rows:
        return _empty("assocmem evidence run d5.dag")
    orders = [o for o in ("in_order", "shuffled") if any(r["order"] == o for r in rows)]
    arms = [a for a in ARM_STYLE if any(r["arm"] == a for r in rows)]
    # one row per edge order: accuracy against k (left), each run's steps to fit (right)
    fig, flat, spare = _style.panels(2 * len(orders), height=3.6)
    axes, steps_axes = flat[0::2], flat[1::2]
    tm = rows[0]["train_max"]
    for ax, sax, order in zip(axes, steps_axes, orders):
        ax.axvspan(0.5, tm + 0.5, color="0.92", lw=0)
        sub = [r for r in rows if r["order"] == order]
        here = [a for a in arms if any(r["arm"] == a for r in sub)]
        for i, arm in enumerate(here):
            _series(ax, [r for r in sub if r["arm"] == arm], arm, (i - len(here) / 2) * 0.09)
        ks = sorted({r["length"] for r in sub})
        for key, ls in (("one_pass", "--"), ("two_pass", "-."), ("four_pass", ":")):
            if order == "shuffled" or key == "one_pass":
                ax.plot(ks, [next(r[key] for r in sub if r["length"] == k) for k in ks], color="black", ls=ls, lw=1.1)
        ax.axhline(0.5, color="0.5", ls=":", lw=1)
        ax.set_title("edges in topological order" if order == "in_order" else "edges shuffled (reported, no verdict)")
        ax.set_xlabel("hops k needed by the query")
        ax.set_ylim(-0.02, 1.04)
        ax.set_ylabel("accuracy (seed mean; bar: min to max)")
        _steps_panel(sax, [r for r in sub if r["length"] == sub[0]["length"]], here)
        sax.set_title("steps to fit, per run")
    handles, labels = [], []
    for ax in axes:  # every arm once, from whichever panel shows it
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles += [Line2D([], [], color="black", ls="--"), Line2D([], [], color="black", ls="-."),
                Line2D([], [], color="black", ls=":"), Patch(color="0.92"), Line2D([], [], color="0.5", ls=":")]
    labels += ["one-pass forward closure = the exact construction (D5.construction); exact in order",
               "2-pass closure (reference)", "4-pass closure (reference)", f"training hops 1..{tm}", "chance 0.5"]
    key_handles, key_labels = _steps_key()
    handles, labels = handles + key_handles, labels + key_labels
    _style.shared_legend(fig, handles, labels, spare, ncol=2)
    return _style.finish(fig, "DAG reachability (D5): accuracy of the first query against hops, and steps to fit")


register_figure(Figure(
    id="D4.swap_accuracy", title="Swap task: accuracy against length, per arm and number of slots",
    claims=tuple(f"D4.swap.{a}" for a in D4_EXPECT), points=[{"record": _record_digest("d4.swap")}],
    compute=compute_d4, draw=draw_d4, modules=CLAIM_MODULES,
    caption="Seed mean (bar: min to max over the seeds) of one slot query after L tokens, per arm, for n = 2, 3, 5 "
            "slots; trained on L = 1..8 (shaded), evaluated at odd and even L up to 32. Below: each run's steps to "
            "fit (fit-first training; an x at the cap for a run that did not fit). Read from the d4.swap evidence "
            "record.",
))

register_figure(Figure(
    id="D5.dag_accuracy", title="DAG task: accuracy against hops, in order and shuffled",
    claims=tuple(f"D5.dag.{a}" for a in D5_EXPECT), points=[{"record": _record_digest("d5.dag")}],
    compute=compute_d5, draw=draw_d5, modules=CLAIM_MODULES,
    caption="Seed mean (bar: min to max) of the first query's accuracy against the hops k it needs, edge lists in "
            "topological order (left; the judged cells) and shuffled (right; reported, no verdict); dashed: the "
            "one-pass forward closure (exact in order, 1/2 + 1/(2 k!) shuffled), which the linear-kernel "
            "construction computes exactly; dash-dot and dotted: the 2- and 4-pass closures (references). Trained "
            "on k = 1, 2 (shaded). Below: each run's steps to fit (an x at the cap). Read from the d5.dag evidence "
            "record.",
))


# ----------------------------------------------------------------------------------------------------------------
# the section


def parity_table() -> str:
    """Best threshold accuracy on 1, 11, ..., 1^L of the delta rule's readout gamma + beta lambda^t: over a
    21-point grid of lambda in [0, 1] (never above the bound) against lambda = -1."""
    from impl.deltaformer.constructions import best_parity_accuracy_all_ones, constant_input_readout

    rows = ["| L | best accuracy, lambda in [0, 1] (21-point grid, any threshold) | bound (floor(L/2)+1)/L | "
            "lambda = -1 (b = 2) |", "|---|---|---|---|"]
    for L in (10, 100, 1000):
        best = max(best_parity_accuracy_all_ones(constant_input_readout(1 - i / 20, 0.0, 1.0, L)) for i in range(21))
        alt = best_parity_accuracy_all_ones(constant_input_readout(-1.0, 0.0, 1.0, L))
        rows.append(f"| {L} | {fmt(best, 4)} | {fmt((L // 2 + 1) / L, 4)} | {fmt(alt, 4)} |")
    return "\n".join(rows)


def _kernel_table(v) -> str:
    return "\n".join([
        "| kernel | parity | S_n, n >= 3 (swaps) |",
        "|---|---|---|",
        f"| linear (delta rule; DeltaNet = linear DeltaFormer, D2) | construction, exact: D3.parity **{v('D3.parity')}**; "
        f"impossible with eigenvalues in [0, 1]: D3.no_parity_01 **{v('D3.no_parity_01')}** | construction, exact: "
        f"D3.permutation **{v('D3.permutation')}** (reflections, D3.reflection **{v('D3.reflection')}**) |",
        f"| exponential, unnormalised | construction, exact sign: D3.parity_exp **{v('D3.parity_exp')}** | no one-layer "
        f"construction with token-keyed distinct keys: D3.obstruction **{v('D3.obstruction')}** |",
        f"| softmax (the paper's DeltaFormer) | one normalised layer stops alternating under a constant input: "
        f"D3.dilution **{v('D3.dilution')}**, D3.softmax_step **{v('D3.softmax_step')}**; exp kappa1 with a softmax "
        f"readout keeps the sign at margin 1/t: D3.parity_exp | no one-layer token-keyed construction: D3.obstruction; "
        "beyond that scope see the search below |",
    ])


def _cell_text(t, L):
    c = t["lengths"].get(L)
    return "—" if c is None else f"{fmt(c['mean'], 3)} [{fmt(c['min'], 3)}, {fmt(c['max'], 3)}]"


def _record_table(job: str, rows) -> str:
    """One evidence job's accuracy table: its record's state and fingerprint, the seed count, then ``rows(record)``."""
    res, st = _results(job)
    if res is None:
        return f"_({st.absent})_"
    return (f"Record {st.state} ({st.fingerprint}); mean [min, max] over {len(res['seeds'])} seeds; *diverged*: runs "
            "whose training loss became NaN or inf, with the evaluation queries whose logits were not finite (counted "
            "wrong) where there were any.\n\n" + "\n".join(rows(res)))


def _header(first: list[str], var: str, shown, after: list[str]) -> str:
    """A markdown table head: the leading columns, one column per evaluated length ``var=L``, the trailing ones."""
    cols = first + [f"{var}={L}" for L in shown] + after
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def _steps_text(s: dict) -> str:
    return ", ".join("cap" if x is None else str(x) for x in s["steps_to_fit"])


def _d4_rows(res) -> list[str]:
    shown = res["config"]["eval_lengths"]
    lines = [_header(["arm", "n"], "L", shown, ["lr", "steps to fit", "diverged", "verdict"])]
    for arm in res["arms"]:
        for n in res["slots"]:
            if arm in D4_EXPECT:
                s, outcome, _ = cell_verdict(res, arm, "n", n, D4_EXPECT[arm][1])
                verdict = f"**{outcome}**"
            else:  # an arm of an older record that this design does not judge
                s, verdict = cell_summary([r for r in res["runs"] if r["arm"] == arm and r["n"] == n]), "not judged"
            lines.append(f"| {arm} | {n} | " + " | ".join(_cell_text(s, L) for L in shown)
                         + f" | {', '.join(map(str, s['lrs']))} | {_steps_text(s)} | {_diverged_text(s)} | {verdict} |")
    return lines


def _d5_rows(res) -> list[str]:
    from impl.tasks.dag import passes_accuracy

    shown = res["config"]["eval_lengths"]
    lines = [_header(["arm", "edges"], "k", shown, ["lr", "steps to fit", "diverged", "verdict"])]
    for order in res["orders"]:
        if order == "in_order":
            lines.append("| one-pass closure = construction (exact) | in_order | " + " | ".join("1" for _ in shown)
                         + " | — | — | — | — |")
        else:
            for passes in (1, 2, 4):
                lines.append(f"| {passes}-pass closure{' (the one-pass bound)' if passes == 1 else ''} | shuffled | "
                             + " | ".join(fmt(passes_accuracy(k, passes), 3) for k in shown) + " | — | — | — | — |")
        for arm in res["arms"]:
            runs = [r for r in res["runs"] if r["arm"] == arm and r["order"] == order]
            if not runs:
                continue
            if order == "in_order" and arm in D5_EXPECT:
                s, outcome, _ = cell_verdict(res, arm, "order", order, D5_EXPECT[arm][1])
                verdict = f"**{outcome}**"
            else:
                s = cell_summary(runs)
                verdict = "reported (no verdict)" if order == "shuffled" else "not judged"
            lines.append(f"| {arm} | {order} | " + " | ".join(_cell_text(s, k) for k in shown)
                         + f" | {', '.join(map(str, s['lrs']))} | {_steps_text(s)} | {_diverged_text(s)} | {verdict} |")
    return lines


def _timing_text(job: str) -> str:
    res, _ = _results(job)
    t = (res or {}).get("timing")
    return "" if not t else f"{job}: {t['wall_seconds'] / 60:.1f} min wall on {t['cores']} cores"


def _d4_table() -> str:
    return _record_table("d4.swap", _d4_rows)


def _d5_table() -> str:
    return _record_table("d5.dag", _d5_rows)


SEARCH_AT = 0.99


def search_sentence() -> str:
    """The search for S_n constructions outside D3.obstruction's scope: trained two-layer positive-kernel
    DeltaFormers (their second layer's keys depend on context)."""
    res, st = _results("d4.swap")
    if res is None:
        return f"The search needs the d4.swap record ({st.absent})."
    tm = res["config"]["train_max"]
    found, tried = [], 0
    for r in res["runs"]:
        if r["arm"] in ("deltaformer", "deltaformer_exp") and r["n"] >= 3:
            tried += 1
            if all(_rate(e) >= SEARCH_AT for e in r["eval"]):
                found.append(f"{r['arm']} n={r['n']} seed {r['seed']}")
    crit = (f"a run counts as a found construction if it answers >= {SEARCH_AT} of the queries at every evaluated "
            f"length up to {4 * tm}")
    if found:
        return (f"Search outside the obstruction's scope (two-layer exp/softmax DeltaFormers trained on n = 3 and 5, "
                f"whose second-layer keys depend on context; {crit}): **found** in {len(found)} of {tried} runs "
                f"({', '.join(found)}); these are trained solutions, not proven constructions.")
    return (f"Search outside the obstruction's scope (two-layer exp/softmax DeltaFormers trained on n = 3 and 5, whose "
            f"second-layer keys depend on context; {crit}): **none found** in {tried} runs. No construction of S_n "
            "(n >= 3) with exponential or softmax kernels is known to this suite; the paper's claim that DeltaFormer "
            "(softmax) tracks S_5 is therefore neither reproduced nor refuted here.")


def render_section(verdicts) -> str:
    v = lambda cid: verdicts.get(cid, ("not run", ""))[0]  # noqa: E731
    d4 = ", ".join(f"{a} **{v('D4.swap.' + a)}**" for a in D4_EXPECT)
    d5 = ", ".join(f"{a} **{v('D5.dag.' + a)}**" for a in D5_EXPECT)
    return f"""
**DeltaFormer** (paper §2.2.1, Appendix D) is the delta rule run in the feature space of a kernel:
u_t = v_t - b_t sum_(j<t) kappa1(w_t, k_j) u_j, o_t = sum_(j<=t) kappa2(q_t, k_j) u_j, i.e. O = A (I + B)^-1 V with
B strictly lower triangular (rows scaled by b; for softmax normalised over j < t) and A lower triangular (normalised
over j <= t). The recurrence, the matrix form and the chunked form agree within round-off for the softmax,
exponential and linear kernels (D1.forms: **{v('D1.forms')}**).

**Multi-hop reading.** B is nilpotent, so (I + B)^-1 = sum_(n<T) (-B)^n exactly (D1.neumann: **{v('D1.neumann')}**):
entry (t, j) sums, over all chains t > j_1 > ... > j of n backward hops, the product of the hop weights
-b kappa1. One DeltaFormer layer therefore composes hops backward in position, in one pass; this is the mechanism
the DAG task (D5) probes.

**Reductions** (D2): with the linear kernel, w = k and b-scaled values, DeltaFormer is DeltaNet exactly
(**{v('D2.deltanet')}**); with b = 0 it is causal softmax attention (**{v('D2.softmax')}**).

**Circuit complexity, per kernel.** Transformers with log-precision arithmetic and a fixed number of layers compute
functions in uniform TC^0 (Merrill and Sabharwal 2023); tracking a permutation under swaps is the word problem of
S_n, NC^1-complete for S_5 (Barrington 1989). The paper states that DeltaFormer escapes TC^0. What this suite
establishes depends on the kernel, and no result below is evidence for another kernel:

{_kernel_table(v)}

With the linear kernel (the delta rule) a swap (i j) is the reflection I - 2 e e^T, e = (e_i - e_j)/sqrt(2); the
construction relies on the keys' additivity e_02 = e_01 + e_12. A positive-definite kernel's features of distinct keys
are linearly independent, so the group relation (01)(12)(01) = (02) cannot hold in a one-layer memory whose swap keys
depend on the swap token only (D3.obstruction; not covered: context-dependent keys, several layers, equal keys,
memories that differ between words with the same permutation). A softmax kappa1 is the exponential one with step
b_t / Z_t, so a token already seen m times has transition eigenvalue >= 1 - b_t/m, and under a constant input one
normalised layer converges to v/(1 + b) (exactly v/3 from t = 3 at b = 2) instead of alternating. With transition
eigenvalues confined to [0, 1] (b <= 1) a delta-rule readout along 1, 11, 111, ... is monotone (Grazzi et al. 2024):

{parity_table()}

{search_sentence()}

**Trained models, swap task** (D4: {d4}). Arms: the softmax DeltaFormer as flash-linear-attention builds it, the
stable unnormalised exponential form, the linear-kappa1 ablation, DeltaNet (the positive control) and the
Transformer (the negative control), and the swap construction arm (n linear-kernel heads that can express
D3.permutation) from a random start and from the construction plus noise. Every run is fit-first (to validation accuracy 0.95 at L = 7 and 8, or the cap
of {jobs.D4_CONFIG.steps} steps) with a learning rate chosen per arm and cell on a separate seed; the verdicts follow
each claim's pre-stated rules and are scoped to width {jobs.D4_CONFIG.d}, depth {jobs.D4_CONFIG.depth} and at most
{jobs.D4_CONFIG.steps} steps. *Replicated* / *not replicated* read the accuracy at L = 16 and 17 of an arm that fit;
*not replicated: did not learn at this scale* means that arm did not fit L = 7 and 8 within the cap while DeltaNet
did (it says nothing about wider models or longer training); *inconclusive* means DeltaNet itself did not fit that
cell.
{_per_arm(verdicts, "D4.swap.", D4_EXPECT)}

{_d4_table()}

**Trained models, DAG task** (D5: {d5}). Redesigned so that a small CPU model can learn it: {jobs.D5_CONFIG.size}
labels, training hops k = 1, 2 drawn per batch, evaluation at k = 1..4 (twice the training hops; four times would
need 27 labels), the auxiliary successor target for every arm, edges in topological order judged; a feasibility
pilot (d5.pilot: {_pilot_text()}) gates the grid. The construction arm is one linear-kernel DeltaFormer layer with
its own w projection, an unbounded b and one head as wide as the labels: it can express D5.construction
(**{v('D5.construction')}**), which answers every in-order query exactly. Started at the construction plus noise
and from a random start it separates *cannot represent* from *cannot find*; the other arms (w = k, head width
{jobs.D5_CONFIG.d // jobs.D5_CONFIG.heads} < {jobs.D5_CONFIG.size} labels, DeltaNet's b in [0, 2]) cannot express
that construction, so a failure of theirs is a failure of this architecture at this scale, not a failure to learn
a solution they could represent. Shuffled lists carry no verdict: a causal model reads each edge only with the edges
before it, so they are reported against the one-pass bound 1/2 + 1/(2 k!) (the exact accuracy of one DeltaFormer
layer's construction) and the 2- and 4-pass closures (references; not proven bounds for trained models).
{_per_arm(verdicts, "D5.dag.", D5_EXPECT)}

{_d5_table()}

Wall time of the evidence ({_timings()}); the budget for D4 + D5 together, learning-rate selection and controls
included, is {jobs.WALL_BUDGET_S // 60} minutes on 2 cores. The `LARGE` settings (`impl.tasks.train.LARGE`: width
128, depth 4, 20000-step cap, longer lengths) need a GPU and have not been run for this report; every number above
is from the CPU grids.
"""


def _per_arm(verdicts, prefix: str, expect: dict) -> str:
    """One line per arm: its verdict and what it means at this scale."""
    lines = []
    for arm, (_, exp, what) in expect.items():
        verdict, why = verdicts.get(prefix + arm, ("not run", ""))
        lines.append(f"- {arm}: **{verdict}**" + (f" ({why})" if why else "") + f" — claim: {what}.")
    return "\n".join(lines)


def _pilot_text() -> str:
    res, _ = evidence.results("d5.pilot")
    if res is None:
        return "no record yet, `assocmem evidence run d5.pilot`"
    acc = ", ".join(f"k={k} {v}" for k, v in (res["val_acc"] or {}).items())
    if res["passed"]:
        return f"passed, {res['arm']} reached {res['gate']} in {res['steps_to_fit']} of {res['cap']} steps ({acc})"
    return f"**failed**: {res['arm']} did not reach {res['gate']} within {res['cap']} steps ({acc}); infeasible at this scale"


def _timings() -> str:
    parts = [t for t in (_timing_text(j) for j in ("d4.swap", "d5.pilot", "d5.dag")) if t]
    return "; ".join(parts) if parts else "no timed records yet"


register_section(Section(id="D1.deltaformer", group="D1", title="DeltaFormer, multi-hop attention and state tracking",
                         render=render_section))
