"""The command line: ``assocmem check | test | report | snr | task | evidence | conform | bench`` (also ``python -m assocmem``).

Bad input gets one line, ``assocmem: error: <parameter>: <what is allowed>``, exit status 2, no traceback, and
nothing written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from impl.numerics.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(2, f"assocmem: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(name):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        return v

    return parse


# ---------------------------------------------------------------------------------------------------------------
def cmd_check(args) -> int:
    """Re-derive every formula: each claim's SymPy steps, and the moment engine's cross-checks against sympy.stats."""
    import sympy as sp

    from assocmem import registry
    from theory.moments import cross_checks

    bad = 0
    for what, engine, reference in cross_checks():
        ok = sp.simplify(sp.sympify(engine) - sp.sympify(reference)) == 0
        bad += not ok
        if args.verbose or not ok:
            print(f"  {'✓' if ok else '✗'} moments: {what}")
    print(f"{'✓' if not bad else '✗'} theory.moments cross-checks against sympy.stats")
    for c in registry.claims():
        if c.derivation is None:
            print(f"· {c.id:34s} [{c.tag}] no derivation (numeric claim: `assocmem test`, `assocmem report`)")
            continue
        if args.claim and not any(c.id.startswith(x) for x in args.claim):
            continue
        steps = c.derivation()
        failed = [s.says for s in steps if not s.holds()]
        bad += bool(failed)
        print(f"{'✓' if not failed else '✗'} {c.id:34s} [{c.tag}] {len(steps) - len(failed)}/{len(steps)} steps")
        for says in failed:
            print(f"    ✗ {says}")
    print("all derivations verified" if not bad else f"{bad} derivation(s) FAILED")
    return 1 if bad else 0


def cmd_test(args) -> int:
    from impl.numerics.device import resolve_device

    resolve_device(args.device)
    env = dict(os.environ, HYPOTHESIS_PROFILE=args.profile)
    marks = []
    if not args.slow:
        marks.append("not slow")
    if args.device.startswith("cuda"):
        marks.append("cuda")
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests")]
    if marks:
        cmd += ["-m", " and ".join(marks)]
    cmd += args.pytest_args
    print("running:", " ".join(cmd), f"(HYPOTHESIS_PROFILE={args.profile})", flush=True)
    rc = subprocess.call(cmd, env=env, cwd=ROOT)
    return 0 if rc == 5 and args.device.startswith("cuda") else rc


def cmd_report(args) -> int:
    from assocmem import report
    from impl.numerics.device import resolve_device, resolve_dtype

    resolve_device(args.device)
    resolve_dtype(args.dtype)
    if args.seed < 0:
        raise InputError("--seed", f"must be >= 0, got {args.seed}")
    opts = report.Options(quick=args.quick, device=args.device, dtype=args.dtype, seed=args.seed, backend=args.backend,
                          n_jobs=args.jobs, scheduler=args.scheduler, fresh=args.fresh,
                          progress=None if not args.quiet else False, only=tuple(args.only or ()))
    summary = report.write(opts, args.out)
    print(f"wrote {Path(args.out) / 'REPORT.md'}: {summary['summary']}")
    return 0


def _snr_linear(args) -> dict:
    from impl.estimators.snr_linear import CONVENTIONS, estimate_linear_snr

    conventions = tuple(args.convention or CONVENTIONS)
    skipped = {}
    if not args.convention and (args.d_k <= 2 or args.d_v <= 2):
        conventions = tuple(c for c in conventions if c != "probe_averaged")
        skipped["probe_averaged"] = {"note": "infinite for d_k <= 2 or d_v <= 2 (E[1/chi^2_d] needs d > 2): not estimated"}
    res = estimate_linear_snr(args.n_pairs, args.d_k, args.d_v, args.trials, args.seed, device=args.device,
                              dtype=args.dtype, alpha=args.alpha, conventions=conventions)
    out = dict(skipped)
    for conv, r in res.items():
        e = r["estimate"]
        out[conv] = {"estimate": e.value, "lo": e.lo, "hi": e.hi, "level": e.level, "n": e.n,
                     "theory": r.get("theory"), "inside": (e.lo <= r["theory"] <= e.hi) if r.get("theory") is not None else None,
                     "note": r.get("note", "")}
    out["paper_asymptote_N_over_dk"] = args.n_pairs / args.d_k
    return out


def _snr_plugin(args) -> dict:
    try:
        from impl.estimators import snr_kernel as kernel_memory
    except ImportError:
        raise InputError("--memory", f"{args.memory!r} memories are not available in this build") from None
    common = dict(device=args.device, dtype=args.dtype, alpha=args.alpha)
    if args.memory == "kernel":
        if not args.kernel:
            raise InputError("--kernel", f"required with --memory kernel; one of {', '.join(kernel_memory.KERNELS)}")
        extra = {k: getattr(args, k) for k in ("tau", "p", "s", "m") if getattr(args, k) is not None}
        if args.mode:
            extra["mode"] = args.mode
        return kernel_memory.estimate_kernel_snr(args.kernel, args.n_pairs, args.d_k, args.d_v, args.trials, args.seed,
                                                 **extra, **common)
    if not args.activation:
        raise InputError("--activation", f"required with --memory ffn; one of {', '.join(kernel_memory.ACTIVATIONS)}")
    return kernel_memory.estimate_ffn_snr(args.activation, args.n_pairs, args.d_k, args.d_v, args.trials, args.seed, **common)


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "as_dict"):
        return x.as_dict()
    return x


def cmd_snr(args) -> int:
    from impl.numerics.device import resolve_device, resolve_dtype

    resolve_device(args.device)
    resolve_dtype(args.dtype)
    if not 0 < args.alpha < 1:
        raise InputError("--alpha", f"must be in (0, 1), got {args.alpha}")
    out = _snr_linear(args) if args.memory == "linear" else _snr_plugin(args)
    out = _jsonable(out)
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    print(f"{args.memory} memory, N = {args.n_pairs}, d_k = {args.d_k}, d_v = {args.d_v}, trials = {args.trials}, "
          f"seed = {args.seed}, {args.device}/{args.dtype}; intervals at level {1 - args.alpha:.10g}")
    print(f"{'convention':24s} {'estimate':>12s} {'interval':>27s} {'exact':>12s}  inside")
    for conv, r in out.items():
        if not isinstance(r, dict):
            continue
        if "estimate" not in r:
            print(f"{conv:24s} {'—':>12s} {'':>27s} {'—':>12s}  —    {r.get('note', '')}")
            continue
        est = r["estimate"] if not isinstance(r["estimate"], dict) else r["estimate"]["value"]
        lo = r.get("lo", r["estimate"]["lo"] if isinstance(r["estimate"], dict) else None)
        hi = r.get("hi", r["estimate"]["hi"] if isinstance(r["estimate"], dict) else None)
        th = r.get("theory")
        inside = r.get("inside")
        if inside is None and th is not None and lo is not None:
            inside = lo <= th <= hi
        print(f"{conv:24s} {est:12.6g} [{lo:12.6g}, {hi:12.6g}] {('%12.6g' % th) if th is not None else '           —'}  "
              f"{'yes' if inside else ('—' if inside is None else 'NO')}  {r.get('note', '')}")
    if "paper_asymptote_N_over_dk" in out:
        print(f"paper's Eq. 7 asymptote N/d_k = {out['paper_asymptote_N_over_dk']:.6g}")
    return 0


def cmd_task(args) -> int:
    try:
        from impl import tasks
    except ImportError:
        raise InputError("task", "the task experiments are not available in this build") from None
    if args.task not in tasks.TASKS:
        raise InputError("task", f"must be one of {', '.join(tasks.TASKS)}, got {args.task!r}")
    if args.model not in tasks.MODELS:
        raise InputError("--model", f"must be one of {', '.join(tasks.MODELS)}, got {args.model!r}")
    summary = tasks.run_task(args.task, args.model, quick=args.quick, seed=args.seed, device=args.device,
                             progress=sys.stderr.isatty())
    print(json.dumps(_jsonable(summary), indent=2, sort_keys=True, default=str))
    return 0


def cmd_evidence(args) -> int:
    from assocmem import evidence

    if args.action in ("list", "status"):
        if args.job:
            raise InputError("JOB", f"`assocmem evidence {args.action}` takes no job names (got {' '.join(args.job)})")
        for job in evidence.jobs():
            st = evidence.status(job.id)
            print(f"{job.id:48s} {st.state:8s} {st.fingerprint or '—':12s} {st.detail}")
        return 0
    if not args.job:
        raise InputError("JOB", "name at least one job (or a prefix such as 'calibration'); see `assocmem evidence list`")
    if args.seed < 0:
        raise InputError("--seed", f"must be >= 0, got {args.seed}")
    selected = evidence.select(args.job)
    opts = evidence.JobOptions(backend=args.backend, n_jobs=args.jobs, scheduler=args.scheduler, fresh=args.fresh,
                               progress=None if not args.quiet else False, seed=args.seed, quick=args.quick)
    for job in selected:
        path = evidence.run_job(job, opts)
        print(f"wrote {path}")
    return 0


def cmd_conform(args) -> int:
    """Someone else's function against a rule's float64 oracle: one verdict per dtype; exit 1 if any differs."""
    from assocmem import conformance
    from assocmem.conformance import rules

    rule = rules.get(args.rule) if args.rule is not None else None
    if rule is None:
        raise InputError("--rule", f"required; one of {', '.join(rules.rules())}")
    if args.max_examples < 1:
        raise InputError("--max-examples", f"must be an integer >= 1, got {args.max_examples}")
    for dt in args.dtype or ():
        if dt not in ("float64", "float32", "bfloat16", "float16"):
            raise InputError("--dtype", f"must be one of float64, float32, bfloat16, float16, got {dt!r}")
    try:
        adapter = conformance.Adapter.parse(args.adapter)
    except InputError as e:
        raise InputError("--adapter", str(e).removeprefix("--adapter: ")) from None
    fn = conformance.load_function(args.function)
    verdicts = conformance.check(fn, rule, adapter, dtypes=args.dtype or None, max_examples=args.max_examples,
                                 name=args.function)
    if args.json:
        print(json.dumps([v.as_dict() for v in verdicts], indent=2, sort_keys=True))
    else:
        print(f"{args.function} against the float64 oracle of {rule.name} ({rule.reference}); adapter: {adapter.describe()}")
        for v in verdicts:
            print(("✓ " if v.ok else "✗ ") + v.line())
    return 0 if all(v.ok for v in verdicts) else 1


def cmd_bench(args) -> int:
    from benchmarks import dashboard

    path = dashboard.write(quick=args.quick, out=args.out, only=args.only)
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="assocmem", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="re-derive every formula (SymPy) and print each claim with a pass/fail mark")
    c.add_argument("claim", nargs="*", help="only claims whose id starts with one of these")
    c.add_argument("-v", "--verbose", action="store_true")
    c.set_defaults(func=cmd_check)

    t = sub.add_parser("test", help="run the property tests")
    t.add_argument("--profile", choices=("default", "ci", "nightly"), default="default")
    t.add_argument("--device", default="cpu", help="cpu (default) or cuda: run the CUDA-marked tests")
    t.add_argument("--slow", action="store_true", help="include slow tests (calibration over many seeds)")
    t.epilog = "Any other arguments are passed on to pytest (e.g. -k EXPR, -x, tests/test_linear.py)."
    t.set_defaults(func=cmd_test)

    r = sub.add_parser("report", help="regenerate reports/REPORT.md, figures and data")
    r.add_argument("--quick", action="store_true", help="small grids (about a minute)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--dtype", default="float64")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--backend", default="joblib", help="serial | joblib (local cores, default) | dask | ray")
    r.add_argument("--jobs", type=int, default=-1, help="joblib workers (-1: all cores)")
    r.add_argument("--scheduler", default=None, help="Dask scheduler address (with --backend dask)")
    r.add_argument("--fresh", action="store_true", help="ignore cached results and recompute everything")
    r.add_argument("--out", default=str(ROOT / "reports"))
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--only", nargs="*", default=None, help="only claims whose id starts with one of these")
    r.set_defaults(func=cmd_report)

    s = sub.add_parser("snr", help="Monte Carlo retrieval SNR of one configuration, every convention, beside theory")
    s.add_argument("--memory", default="linear", choices=("linear", "kernel", "ffn"))
    s.add_argument("--n-pairs", type=_positive_int("--n-pairs"), required=True)
    s.add_argument("--d-k", type=_positive_int("--d-k"), required=True)
    s.add_argument("--d-v", type=_positive_int("--d-v"), default=None)
    s.add_argument("--trials", type=_positive_int("--trials"), default=1000)
    s.add_argument("--seed", type=_positive_int("--seed"), default=0)
    s.add_argument("--alpha", type=float, default=1e-6, help="1 - confidence level of the intervals")
    s.add_argument("--device", default="cpu")
    s.add_argument("--dtype", default="float64")
    s.add_argument("--convention", action="append", default=None,
                   help="conditional | probe_averaged | ratio_of_expectations | typical (repeatable; default: all finite)")
    s.add_argument("--kernel", default=None)
    s.add_argument("--tau", type=float, default=None)
    s.add_argument("--p", type=int, default=None, help="polynomial degree")
    s.add_argument("--s", type=float, default=None, help="RBF width")
    s.add_argument("--m", type=int, default=None, help="random features")
    s.add_argument("--mode", default=None, help="kernel memories: auto | plain | analytic | importance")
    s.add_argument("--activation", default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_snr)

    k = sub.add_parser("task", help="train and evaluate one model on the swap or DAG task")
    k.add_argument("task")
    k.add_argument("--model", required=True)
    k.add_argument("--quick", action="store_true")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--device", default="cpu")
    k.set_defaults(func=cmd_task)

    e = sub.add_parser("evidence", help="run or list the expensive evidence jobs (calibration, trained grids, mutation)")
    e.add_argument("action", choices=("list", "status", "run"))
    e.add_argument("job", nargs="*", help="job ids or prefixes (e.g. calibration, calibration/C4.probe_averaged)")
    e.add_argument("--quick", action="store_true", help="a reduced run (its record says so)")
    e.add_argument("--seed", type=int, default=20250525)
    e.add_argument("--backend", default="joblib", help="serial | joblib (local cores, default) | dask | ray")
    e.add_argument("--jobs", type=int, default=-1, help="joblib workers (-1: all cores)")
    e.add_argument("--scheduler", default=None, help="Dask scheduler address (with --backend dask)")
    e.add_argument("--fresh", action="store_true", help="ignore cached results and recompute everything")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evidence)

    f = sub.add_parser("conform", help="check another implementation of a rule against the float64 oracle",
                       epilog="Adapter SPEC: key=value pairs, e.g. layout=bthd,gates=log,state=kv,scale=rsqrt_dk,"
                              "chunk=any,names=q:query;k:key (or a JSON object); see assocmem.conformance.adapter.")
    f.add_argument("function", metavar="MODULE:FUNCTION", help="the function (or feature-map class) to check")
    f.add_argument("--rule", default=None, help="the rule it implements (e.g. deltanet, gated_deltanet, gla, deltaformer)")
    f.add_argument("--adapter", default=None, metavar="SPEC", help="its conventions (default: the suite's own)")
    f.add_argument("--dtype", action="append", default=None, help="dtype to test (repeatable; default: the adapter's)")
    f.add_argument("--max-examples", type=_positive_int("--max-examples"), default=60,
                   help="Hypothesis cases per dtype (default 60)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_conform)

    b = sub.add_parser("bench", help="run benchmarks/ and write reports/BENCHMARKS.md")
    b.add_argument("--quick", action="store_true")
    b.add_argument("--only", nargs="*", default=None, help="benchmark modules to run (default: all)")
    b.add_argument("--out", default=str(ROOT / "reports" / "BENCHMARKS.md"))
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "test":
        args.pytest_args = unknown
    if args.command == "snr" and args.d_v is None:
        args.d_v = args.d_k
    if args.command == "report" and args.seed is None:
        from assocmem.report import BASE_SEED

        args.seed = BASE_SEED
    try:
        return args.func(args)
    except InputError as e:
        print(f"assocmem: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("assocmem: interrupted; completed results are cached, the existing report is untouched", file=sys.stderr)
        return 130
