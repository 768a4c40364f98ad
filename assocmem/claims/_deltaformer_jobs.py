"""The trained-model grids of D4 (swap task) and D5 (DAG task) as evidence jobs (``assocmem evidence run d4.swap``,
``assocmem evidence run d5.dag``).

Each (arm, size or edge order, seed) is one ``sweep.Task.call`` of ``impl.tasks.train.train_point`` through the
checksummed result cache: an interrupted job resumes, a corrupt entry is recomputed, ``--fresh`` retrains. The
record holds the grid's definition and every run: correct / total at every evaluated length, whether the run fit
its training lengths (``FIT_AT`` at train_max - 1 and train_max), the curriculum log (every stage that advanced on a
timeout), the divergence step (NaN / inf loss) and the mean loss of the last 50 steps (3 decimals). Runs are
deterministic on the CPU (one thread, deterministic algorithms, fixed seeds), so rerunning a job on unchanged code
rewrites its record byte-identically.

This module is the jobs' fingerprint: the claims, figures and report text that read the records live in
``assocmem/claims/deltaformer_tasks.py`` and can change without making the records stale.

Budget: the full CPU grids take about 60 CPU-minutes together (measured per run on a loaded 2-core machine; about
30 minutes on 2 idle cores). ``impl.tasks.train.LARGE`` is a GPU setting that is documented, not run.
"""

from __future__ import annotations

from dataclasses import asdict, replace

from assocmem import evidence, sweep
from impl.tasks.train import get_config, train_point

TRAIN_MODULES = ("impl.tasks", "impl.deltaformer.parallel", "impl.deltaformer.kernels", "impl.deltaformer._inputs",
                 "impl.rules.deltanet.chunk", "impl.rules.inputs", "impl.numerics.chunking", "impl.numerics.device",
                 "impl.numerics.errors")
FIT_AT = 0.9  # a run fits when its accuracy at train_max - 1 and at train_max is at least this

D4_ARMS = ("deltaformer", "deltaformer_exp", "deltaformer_lin1", "deltanet", "transformer")
D4_SLOTS = (2, 3, 5)
D4_SEEDS = (0, 1, 2, 3, 4)
D4_CONFIG = replace(get_config("swap"), steps=4000, patience=250)
D4_QUICK = replace(get_config("swap", quick=True), steps=12, eval_samples=20, patience=4)

D5_ARMS = {"deltaformer": ("deltaformer", 2), "deltaformer_deep": ("deltaformer", 4), "deltanet": ("deltanet", 2),
           "transformer": ("transformer", 2), "transformer_deep": ("transformer", 4)}
D5_ORDERS = ("in_order", "shuffled")
D5_SEEDS = (0, 1, 2)
D5_CONFIG = replace(get_config("dag"), steps=3000, patience=300)
D5_QUICK = replace(get_config("dag", quick=True), steps=12, eval_samples=20, patience=4)


def fits(run: dict, train_max: int) -> bool:
    acc = {e["length"]: e["correct"] / e["total"] for e in run["eval"]}
    return all(acc.get(L, 0.0) >= FIT_AT for L in (train_max - 1, train_max) if L >= 1)


def _record(run: dict, train_max: int, **labels) -> dict:
    out = {**labels, "seed": run["seed"], "parameters": run["parameters"], "diverged_at": run["diverged_at"],
           "curriculum": run["curriculum"], "final_loss": run["final_loss"], "eval": run["eval"],
           "fit": fits(run, train_max)}
    return out


def run_d4(opts: evidence.JobOptions) -> dict:
    cfg = D4_QUICK if opts.quick else D4_CONFIG
    seeds = D4_SEEDS[:1] if opts.quick else D4_SEEDS
    points = [(arm, n, s) for arm in D4_ARMS for n in D4_SLOTS for s in seeds]
    tasks = [sweep.Task.call(train_point, {**asdict(replace(cfg, size=n)), "model": arm}, s, dtype="float32",
                             modules=TRAIN_MODULES) for arm, n, s in points]
    runs = sweep.run(tasks, desc="d4.swap", **opts.sweep_kwargs())
    config = {k: v for k, v in asdict(cfg).items() if k != "size"}
    return {"config": config, "arms": list(D4_ARMS), "slots": list(D4_SLOTS), "seeds": list(seeds), "fit_at": FIT_AT,
            "runs": [_record(r, cfg.train_max, arm=arm, n=n) for (arm, n, _), r in zip(points, runs)]}


def run_d5(opts: evidence.JobOptions) -> dict:
    cfg = D5_QUICK if opts.quick else D5_CONFIG
    seeds = D5_SEEDS[:1] if opts.quick else D5_SEEDS
    points = [(arm, order, s) for arm in D5_ARMS for order in D5_ORDERS for s in seeds]
    tasks = [sweep.Task.call(train_point, {**asdict(replace(cfg, order=order, depth=D5_ARMS[arm][1])),
                                           "model": D5_ARMS[arm][0]}, s, dtype="float32", modules=TRAIN_MODULES)
             for arm, order, s in points]
    runs = sweep.run(tasks, desc="d5.dag", **opts.sweep_kwargs())
    config = {k: v for k, v in asdict(cfg).items() if k not in ("order", "depth")}
    return {"config": config, "arms": {a: {"model": m, "depth": d} for a, (m, d) in D5_ARMS.items()},
            "orders": list(D5_ORDERS), "seeds": list(seeds), "fit_at": FIT_AT,
            "runs": [_record(r, cfg.train_max, arm=arm, order=order) for (arm, order, _), r in zip(points, runs)]}


D4_JOB = evidence.Job(
    id="d4.swap", title="D4 swap task: trained arms x slots x seeds", run=run_d4, modules=TRAIN_MODULES,
    cost="75 training runs, about 35 CPU-minutes",
    description="five arms (three DeltaFormers, DeltaNet, Transformer), n = 2, 3, 5 slots, 5 seeds each")
D5_JOB = evidence.Job(
    id="d5.dag", title="D5 DAG task: trained arms x edge order x seeds", run=run_d5, modules=TRAIN_MODULES,
    cost="30 training runs, about 25 CPU-minutes",
    description="five arms (DeltaFormer, DeltaNet, Transformer; depth 2 and 4), in-order and shuffled edges, 3 seeds")
