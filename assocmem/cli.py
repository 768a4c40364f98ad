"""The command line, ``assocmem`` (also ``python -m assocmem``): claims, check, test, report, snr, capacity, task,
evidence, conform, bench.

Bad input gets one line, ``assocmem: error: <flag>: <what is allowed>``, exit status 2, no traceback, and nothing
written: every check that can be made before a run is made before it (sizes against free memory, a Dask
scheduler's address, the output folder).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from assocmem import environment, inputs
from impl.numerics.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "assocmem").is_dir()

DESCRIPTION = (
    "Executable checks of 'Understanding Transformer from the Perspective of Associative Memory' (arXiv "
    "2505.19488): derivations in SymPy, numerics in NumPy/PyTorch, property tests, and a report with a verdict for "
    "every claim.\n\n"
    "Start with: assocmem claims (what is checked), assocmem report (regenerate the report), assocmem test (run the "
    "property tests). 'assocmem COMMAND --help' describes each command.")

DTYPES = ("float64", "float32", "bfloat16", "float16")
BACKENDS = ("joblib", "serial", "dask", "ray")
DEVICE_HELP = "cpu, cuda or cuda:N (default: %(default)s)"

# Internal parameter names (in messages from theory/impl) -> the flag a user typed.
FLAGS = {"n_pairs": "--n-pairs", "d_k": "--d-k", "d_v": "--d-v", "trials": "--trials", "seed": "--seed",
         "alpha": "--alpha", "convention": "--convention", "kernel": "--kernel", "tau": "--tau", "p": "--p",
         "s": "--s", "m": "--m", "mode": "--mode", "activation": "--activation", "device": "--device",
         "dtype": "--dtype", "backend": "--backend", "model": "--model", "claim": "CLAIM"}


def reports_dir() -> Path:
    """The committed reports folder of this checkout, or ./reports when assocmem runs from an installed copy."""
    return ROOT / "reports" if IN_CHECKOUT else Path.cwd() / "reports"


def _slug(words) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", w) for w in words)


class _Formatter(argparse.HelpFormatter):
    """Descriptions keep their line breaks; each line is wrapped to the width."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=min(110, max(80, os.get_terminal_size(2).columns
                                                                        if sys.stderr.isatty() else 110)))

    def _fill_text(self, text, width, indent):
        import textwrap

        def fill(line):  # an indented line (a list item) continues further indented
            lead = " " * (len(line) - len(line.lstrip()))
            cont = lead + "    " if lead else ""
            return textwrap.fill(line.strip(), width, initial_indent=indent + lead, subsequent_indent=indent + cont,
                                 break_on_hyphens=False, break_long_words=False)

        return "\n".join(fill(line) if line else "" for line in text.splitlines())


class _Parser(argparse.ArgumentParser):
    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*a, **kw)

    def error(self, message):  # one line, no usage dump; the flag first, as in every other error
        message = message.removeprefix("argument ")
        self.exit(2, f"assocmem: error: {message} (see: {self.prog} --help)\n")


def _reject(flag: str, why: str):
    raise InputError(flag, why)


# ---------------------------------------------------------------------------------------------------- check ---
def cmd_check(args) -> int:
    """Re-derive every formula: each claim's SymPy steps, and the moment engine's cross-checks against sympy.stats."""
    import sympy as sp

    from assocmem import registry
    from theory.moments import cross_checks

    claims = registry.claims()
    if args.claim:
        unknown = [p for p in args.claim if not any(c.id.startswith(p) for c in claims)]
        if unknown:
            groups = sorted({c.group for c in claims}, key=registry._sort_key)
            raise InputError("CLAIM", f"no claim id starts with {' or '.join(unknown)}; ids start with one of "
                                      f"{', '.join(groups)} (see `assocmem claims`)")
        claims = [c for c in claims if any(c.id.startswith(p) for p in args.claim)]
    bad = checked = 0
    if not args.claim:
        for what, engine, reference in cross_checks():
            ok = sp.simplify(sp.sympify(engine) - sp.sympify(reference)) == 0
            bad += not ok
            if args.verbose or not ok:
                print(f"  {'✓' if ok else '✗'} moments: {what}")
        print(f"{'✓' if not bad else '✗'} theory.moments cross-checks against sympy.stats")
    for c in claims:
        if c.derivation is None:
            if args.verbose:
                print(f"· {c.id:34s} [{c.tag}] no derivation (a numeric claim: assocmem test, assocmem report)")
            continue
        steps = c.derivation()
        failed = [s.says for s in steps if not s.holds()]
        bad += bool(failed)
        checked += 1
        print(f"{'✓' if not failed else '✗'} {c.id:34s} [{c.tag}] {len(steps) - len(failed)}/{len(steps)} steps")
        for says in failed:
            print(f"    ✗ {says}")
    numeric = sum(c.derivation is None for c in claims)
    tail = f" ({numeric} numeric claim(s) without a derivation not listed; -v lists them)" if numeric and not args.verbose else ""
    print((f"all {checked} derivations verified" if not bad else f"{bad} derivation(s) FAILED") + tail)
    return 1 if bad else 0


# ----------------------------------------------------------------------------------------------------- test ---
def cmd_test(args) -> int:
    from impl.numerics.device import resolve_device

    resolve_device(args.device)
    if importlib.util.find_spec("pytest") is None:
        raise InputError("test", "needs pytest, the test extra: python -m pip install -e '.[test]'")
    if not (ROOT / "tests").is_dir():
        raise InputError("test", f"the tests live in a checkout of the repository, not in the installed package "
                                 f"({ROOT}); run it from a clone installed with pip install -e .")
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


# ------------------------------------------------------------------------------------------ report / evidence ---
def _check_backend(args) -> None:
    """Backend flags that do not apply are refused; an unreachable scheduler fails here, in seconds."""
    if args.jobs is not None and args.backend != "joblib":
        _reject("--jobs", f"applies to --backend joblib only (got --backend {args.backend})")
    if args.scheduler is not None and args.backend != "dask":
        _reject("--scheduler", f"applies to --backend dask only (got --backend {args.backend})")
    extra = {"dask": "dask.distributed", "ray": "ray"}.get(args.backend)
    if extra and importlib.util.find_spec(extra.split(".")[0]) is None:
        _reject("--backend", f"{args.backend} needs the optional extra: python -m pip install -e '.[{args.backend}]'")
    if args.scheduler is not None:
        inputs.require_scheduler(args.scheduler)
    if args.jobs is None:
        args.jobs = -1


def cmd_report(args) -> int:
    from assocmem import report
    from impl.numerics.device import resolve_device

    resolve_device(args.device)
    _check_backend(args)
    subset = bool(args.quick or args.only)
    if args.out is None:  # a subset never goes into the committed report: each has its own scratch folder
        words = (["quick"] if args.quick else []) + (["only", *args.only] if args.only else [])
        args.out = str(reports_dir() / "scratch" / _slug(words)) if subset else str(reports_dir())
    out = Path(args.out)
    opts = report.Options(quick=args.quick, device=args.device, dtype=args.dtype, seed=args.seed, backend=args.backend,
                          n_jobs=args.jobs, scheduler=args.scheduler, fresh=args.fresh,
                          progress=None if not args.quiet else False, only=tuple(args.only or ()))
    report.select(opts)
    report.check_destination(opts, out)
    environment.require_cache()
    inputs.require_writable_dir(out)
    if not args.quiet:
        what = opts.subset or "the full report"
        print(f"assocmem report: {what}; base seed {args.seed}; {args.device}/{args.dtype}; backend {args.backend}"
              + (f" ({'one worker per core' if args.jobs == -1 else f'{args.jobs} workers'})" if args.backend == "joblib" else "")
              + f"; writing {out}", file=sys.stderr, flush=True)
    summary = report.write(opts, out)
    print(f"wrote {out / 'REPORT.md'}: {summary['summary']}")
    return 0


def cmd_evidence(args) -> int:
    from assocmem import evidence

    run_flags = {"--quick": args.quick, "--seed": args.seed, "--backend": args.backend, "--jobs": args.jobs,
                 "--scheduler": args.scheduler, "--fresh": args.fresh, "--quiet": args.quiet}
    if args.action in ("list", "status"):
        if args.job:
            _reject("JOB", f"assocmem evidence {args.action} takes no job names (got {' '.join(args.job)})")
        given = [f for f, v in run_flags.items() if v not in (None, False)]
        if given:
            _reject(given[0], f"applies to assocmem evidence run only, not {args.action}")
        for job in evidence.jobs():
            st = evidence.status(job.id)
            print(f"{job.id:48s} {st.state:8s} {st.fingerprint or '—':12s} {st.detail}")
        return 0
    if not args.job:
        _reject("JOB", "name at least one job or prefix (e.g. calibration); assocmem evidence list shows them")
    args.backend = args.backend or "joblib"
    _check_backend(args)
    args.seed = 20250525 if args.seed is None else args.seed
    selected = evidence.select(args.job)
    environment.require_cache()
    environment.require_evidence()
    opts = evidence.JobOptions(backend=args.backend, n_jobs=args.jobs, scheduler=args.scheduler, fresh=args.fresh,
                               progress=None if not args.quiet else False, seed=args.seed, quick=args.quick)
    for job in selected:
        path = evidence.run_job(job, opts)
        print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------------------------------ snr ---
def _snr_config(args):
    """Check the snr flags against the memory they apply to and build the configuration."""
    from assocmem import snr

    kernel_flags = {"--kernel": args.kernel, "--tau": args.tau, "--p": args.p, "--s": args.s, "--m": args.m,
                    "--mode": args.mode}
    if args.memory != "kernel":
        for flag, v in kernel_flags.items():
            if v is not None:
                _reject(flag, f"applies to --memory kernel only (got --memory {args.memory})")
    if args.memory != "ffn" and args.activation is not None:
        _reject("--activation", f"applies to --memory ffn only (got --memory {args.memory})")
    if args.memory == "kernel":
        from impl.estimators.snr_kernel import KERNELS

        if args.kernel is None:
            _reject("--kernel", f"required with --memory kernel: one of {', '.join(KERNELS)}")
        for name, (kernels, what) in snr.KERNEL_PARAMS.items():
            given = getattr(args, name) is not None
            if given and args.kernel not in kernels:
                _reject(f"--{name}", f"applies to --kernel {' or '.join(kernels)} only (got --kernel {args.kernel})")
            if not given and args.kernel in kernels:
                _reject(f"--{name}", f"required with --kernel {args.kernel}: {what}")
    if args.memory == "ffn":
        from impl.memories.ffn import ACTIVATIONS, FFN_CONVENTIONS

        if args.activation is None:
            _reject("--activation", f"required with --memory ffn: one of {', '.join(ACTIVATIONS)}")
        for c in args.convention or ():
            if c not in FFN_CONVENTIONS:
                _reject("--convention", f"FFN memories are estimated in the {' and '.join(FFN_CONVENTIONS)} "
                                        f"conventions only, got {c}")
    d_v = args.d_k if args.d_v is None else args.d_v
    itemsize = {"float64": 8, "float32": 4}.get(args.dtype, 2)
    inputs.require_memory(inputs.snr_bytes(args.n_pairs, args.d_k, d_v, itemsize), "--n-pairs/--d-k/--d-v",
                          f"one trial with N = {args.n_pairs}, d_k = {args.d_k}, d_v = {d_v} in {args.dtype}",
                          args.device)
    conventions = tuple(dict.fromkeys(args.convention)) if args.convention else None
    return snr.Config(memory=args.memory, n_pairs=args.n_pairs, d_k=args.d_k, d_v=d_v, trials=args.trials,
                      seed=args.seed, alpha=args.alpha, device=args.device, dtype=args.dtype, conventions=conventions,
                      kernel=args.kernel, tau=args.tau, p=args.p, s=args.s, m=args.m, mode=args.mode,
                      activation=args.activation)


def _require_range(args) -> None:
    """Refuse a dtype whose largest finite value is below the linear memory's mean noise energy E||r||^2 =
    (N-1) d_k d_v (at ||k_i||^2 = d_k) or its signal c^2 ||v_i||^2 = d_k^2 d_v: every estimate would overflow."""
    import torch

    if args.memory != "linear":
        return
    d_v = args.d_k if args.d_v is None else args.d_v
    biggest = max((args.n_pairs - 1) * args.d_k * d_v, args.d_k**2 * d_v)
    top = torch.finfo(getattr(torch, args.dtype)).max
    if biggest > top:
        _reject("--dtype", f"{args.dtype} holds numbers up to {top:g}, but the noise energy (N-1) d_k d_v and "
                           f"signal d_k^2 d_v here reach {biggest:g}: every estimate would overflow; use float32 "
                           "or bfloat16, or smaller --n-pairs/--d-k/--d-v")


def _mark_overflow(res: dict) -> bool:
    """A convention whose estimate or interval is not finite overflowed the dtype (or lost all precision): its
    numbers become null and its note says so, so that it never reads as a failed theory. True if any did."""
    import math

    import torch

    dtype = res["parameters"]["dtype"]
    top = torch.finfo(getattr(torch, dtype)).max
    why = (f"overflow: a per-trial quantity exceeded {dtype}'s largest finite value ({top:g}), so this estimate "
           "is not a measurement and says nothing about the theory; use float32 or bfloat16, or smaller sizes")
    found = False
    entries = [*res["conventions"].values()] + ([res["cos_proxy"]] if res.get("cos_proxy") else [])
    for e in entries:
        if any(isinstance(e.get(k), float) and not math.isfinite(e[k]) for k in ("estimate", "lo", "hi")):
            e.update(estimate=None, lo=None, hi=None, note=why + (f"; {e['note']}" if e.get("note") else ""))
            if "inside" in e:
                e["inside"] = None
            found = True
    if res.get("cos_proxy") and res["cos_proxy"]["estimate"] is None:
        res["cos_proxy"] = None
    return found


COS_PROXY_TOLERANCE = 0.03  # C3.cos_proxy's (assocmem/claims/linear.py): |proxy / mean cosine - 1| <= 3 %


def cos_proxy_note(c: dict) -> str:
    """What the cosine proxy is, and why its lying outside the interval of the mean cosine is no failure."""
    departure = abs(c["proxy"] / c["estimate"] - 1)
    within = "within" if departure <= COS_PROXY_TOLERANCE else "outside"
    return (f"1/sqrt(1 + SNR⁻¹ typical) is a high-dimensional approximation to the mean cosine (it treats the "
            "crosstalk r as isotropic and independent of v_i), not its exact value, so it may lie outside the "
            "interval, which covers the mean cosine itself; what C3.cos_proxy asks is agreement within "
            f"{COS_PROXY_TOLERANCE:.0%}, met for large d_k and d_v: here the proxy is {departure:.1%} from the "
            f"estimate, {within} that tolerance")


def cmd_snr(args) -> int:
    import warnings

    from assocmem import jsonout, snr
    from impl.numerics.device import resolve_device

    resolve_device(args.device)
    cfg = _snr_config(args)
    _require_range(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = snr.run(cfg)
    overflowed = _mark_overflow(res)
    for w in caught if not overflowed else ():  # warnings the overflow note does not explain are shown
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if res.get("cos_proxy"):
        res["cos_proxy"]["note"] = cos_proxy_note(res["cos_proxy"])
    if args.json:
        print(jsonout.dumps(res, indent=2, sort_keys=True))
    else:
        print(snr.text(res))
        if res.get("cos_proxy"):
            print("\n".join(snr._wrap("cos proxy: " + res["cos_proxy"]["note"], "  ")))
    return 0


# ------------------------------------------------------------------------------------------------- capacity ---
def cmd_capacity(args) -> int:
    """A user's feature map, kernel or update rule: SNR⁻¹, recall and capacity beside the linear memory and softmax."""
    from assocmem import capacity, jsonout
    from assocmem.capacity import sizes, view

    if args.out is not None:
        inputs.require_writable_dir(Path(args.out))
    try:
        cfg = capacity.config(args.path, args.kind, d_k=args.d_k, d_v=args.d_v, n_pairs=args.n_pairs,
                              measure_at=args.measure_at, trials=args.trials, recall_trials=args.recall_trials,
                              seed=args.seed, alpha=args.alpha, level=args.level)
    except InputError as e:
        raise InputError(FLAGS.get(e.parameter, "--" + e.parameter.replace("_", "-")),
                         str(e).removeprefix(e.parameter + ": ")) from None
    memory, features = capacity.load(args.path, args.kind, cfg.d_k, cfg.d_v)
    sizes.require_fits(cfg, features, args.kind == "memory")
    res = view.as_dict(capacity.run(memory, cfg, progress=sys.stderr.isatty()))
    if args.json:
        print(jsonout.dumps(res, indent=2, sort_keys=True))
    else:
        print(view.text(res, args.convention))
    sys.stdout.flush()
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "capacity.json").write_text(jsonout.dumps(res, indent=2, sort_keys=True) + "\n")
        view.figure(res, out / "capacity.svg")
        print(f"wrote {out / 'capacity.json'} and {out / 'capacity.svg'}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------ task / bench ---
def cmd_task(args) -> int:
    from assocmem import jsonout, tasktext
    from impl import tasks
    from impl.numerics.device import resolve_device

    resolve_device(args.device)
    summary = tasks.run_task(args.task, args.model, quick=args.quick, seed=args.seed, device=args.device,
                             progress=sys.stderr.isatty())
    print(jsonout.dumps(_jsonable(summary), indent=2, sort_keys=True, default=str) if args.json
          else tasktext.summary(_jsonable(summary)))
    return 0


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "as_dict"):
        return x.as_dict()
    return x


_BENCH_GENERATED = re.compile(r"Generated by `assocmem bench([^`]*)`")


def cmd_conform(args) -> int:
    """Someone else's function against a rule's float64 oracle: one verdict per dtype; exit 1 if any differs."""
    from assocmem import cache, conformance, jsonout
    from assocmem.conformance import rules

    rule = rules.get(args.rule) if args.rule is not None else None
    if rule is None:
        _reject("--rule", f"required; one of {', '.join(rules.rules())}")
    if args.max_examples < 1:
        _reject("--max-examples", f"must be an integer >= 1, got {args.max_examples}")
    for dt in args.dtype or ():
        if dt not in ("float64", "float32", "bfloat16", "float16"):
            _reject("--dtype", f"must be one of float64, float32, bfloat16, float16, got {dt!r}")
    try:
        adapter = conformance.Adapter.parse(args.adapter)
    except InputError as e:
        raise InputError("--adapter", str(e).removeprefix("--adapter: ")) from None
    fn = conformance.load_function(args.function)
    environment.require_cache()
    with _hypothesis_home(cache.cache_dir() / "hypothesis"):
        verdicts = conformance.check(fn, rule, adapter, dtypes=args.dtype or None, max_examples=args.max_examples,
                                     name=args.function)
    if args.json:
        print(jsonout.dumps([v.as_dict() for v in verdicts], indent=2, sort_keys=True))
    else:
        print(f"{args.function} against the float64 oracle of {rule.name} ({rule.reference}); adapter: {adapter.describe()}")
        for v in verdicts:
            print(("✓ " if v.ok else "✗ ") + v.line())
    return 0 if all(v.ok for v in verdicts) else 1


@contextmanager
def _hypothesis_home(path: Path):
    """Hypothesis keeps its data (example database, constants cache) under ``path`` instead of ./.hypothesis in
    the caller's folder; its previous home is restored afterwards."""
    from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

    before = storage_directory(intent_to_write=False).home_directory
    set_hypothesis_home_dir(path)
    try:
        yield
    finally:
        set_hypothesis_home_dir(before)


def cmd_bench(args) -> int:
    from benchmarks import dashboard

    names = dashboard.modules(args.only)  # refuses unknown names before anything runs
    subset = bool(args.quick or args.only)
    flags = (" --quick" if args.quick else "") + (" --only " + " ".join(args.only) if args.only else "")
    if args.out is None:
        words = (["quick"] if args.quick else []) + (["only", *args.only] if args.only else [])
        args.out = str(reports_dir() / "scratch" / ("bench-" + _slug(words)) / "BENCHMARKS.md") if subset \
            else str(reports_dir() / "BENCHMARKS.md")
    out = Path(args.out)
    try:
        m = _BENCH_GENERATED.search("\n".join(out.read_text().splitlines()[:4]))
    except OSError:
        m = None
    if m and m.group(1).strip() != flags.strip():
        _reject("--out", f"{out} holds the benchmarks of `assocmem bench{m.group(1)}`; this run "
                         f"(`assocmem bench{flags}`) would replace them: choose another --out")
    inputs.require_writable_dir(out.parent)
    print(f"assocmem bench: {', '.join(names)}{' (quick)' if args.quick else ''}; writing {out}", file=sys.stderr,
          flush=True)
    path = dashboard.write(quick=args.quick, out=out, only=args.only)
    print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------------------------------- claims ---
def cmd_claims(args) -> int:
    from assocmem import catalogue, registry

    if args.prefix:
        claims = registry.claims()
        unknown = [p for p in args.prefix if not any(c.id.startswith(p) for c in claims)]
        if unknown:
            groups = sorted({c.group for c in claims}, key=registry._sort_key)
            _reject("PREFIX", f"no claim id starts with {' or '.join(unknown)}; ids start with one of {', '.join(groups)}")
    sys.stdout.write(catalogue.FORMATS[args.format](tuple(args.prefix)))
    return 0


# ---------------------------------------------------------------------------------------------------------------
def _backend_options(p, *, what: str) -> None:
    p.add_argument("--backend", choices=BACKENDS, default="joblib" if what == "report" else None,
                   help="where the tasks run: joblib (local processes, default), serial (this process), dask (a Dask "
                        "cluster: pip install -e '.[dask]'), ray (pip install -e '.[ray]')")
    p.add_argument("--jobs", type=inputs.jobs, default=None, metavar="N",
                   help="joblib workers: -1 (default) for one per core, or 1 to %d" % inputs.JOBS_MAX)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --backend dask: a running scheduler, tcp://HOST:PORT (default: start a local "
                        "cluster); refused within %g s when nothing answers there" % inputs.SCHEDULER_TIMEOUT_S)
    p.add_argument("--fresh", action="store_true",
                   help="recompute every result instead of reading the result cache (new results are still cached "
                        "as they finish, so an interrupted run loses nothing)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or start line")


def _peer_examples() -> str:
    from assocmem.conformance.peers import PEERS

    wanted = ("naive_chunk_gated_delta_rule", "delta_rule_chunkwise")
    return "\n".join(f"  assocmem conform {p.target} --rule {p.rule} --adapter {p.adapter.describe()}"
                     for p in PEERS if p.attr in wanted)


def _monte_carlo_options(p, *, trials: int, what: str, alpha: float, intervals: str) -> None:
    """--trials, --seed and --alpha, as every Monte Carlo command takes them."""
    p.add_argument("--trials", type=inputs.int_in(2), default=trials, metavar="T",
                   help=f"{what} (>= 2" + ("" if trials is None else "; default: %(default)s") + ")")
    p.add_argument("--seed", type=inputs.seed, default=0,
                   help=f"seed, an integer in [0, {inputs.SEED_MAX}] (default: %(default)s)")
    p.add_argument("--alpha", type=inputs.float_in(0, 0.5), default=alpha,
                   help=f"1 - level of {intervals}, in (0, 0.5) (default: %(default)g)")


def build_parser() -> argparse.ArgumentParser:
    from assocmem import catalogue, report
    from impl.estimators.snr_kernel import KERNELS
    from impl.memories.memory import CONVENTIONS, SAMPLERS as MODES
    from impl.memories.ffn import ACTIVATIONS
    from impl.tasks.models import MODELS
    from impl.tasks.train import TASKS

    p = _Parser(prog="assocmem", description=DESCRIPTION, epilog=environment.epilog())
    p.add_argument("--version", action="version", version=f"assocmem {__import__('assocmem').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    c = sub.add_parser("claims", help="list the claims the suite checks: tag, paper reference, kind, statement",
                       description="The claims catalogue, generated from the registry (docs/CLAIMS.md is its "
                                   "Markdown form).")
    c.add_argument("prefix", nargs="*", metavar="PREFIX", help="only claims whose id starts with one of these, e.g. C4 U2")
    c.add_argument("--format", choices=tuple(catalogue.FORMATS), default="text",
                   help="text (default), markdown (docs/CLAIMS.md) or json")
    c.set_defaults(func=cmd_claims)

    c = sub.add_parser("check", help="re-derive every formula with SymPy and print each claim with a pass/fail mark",
                       description="Re-derive every formula with SymPy: each claim's derivation steps and the moment "
                                   "engine's cross-checks against sympy.stats. Exit status 1 when a step fails.")
    c.add_argument("claim", nargs="*", metavar="CLAIM", help="only claims whose id starts with one of these, e.g. C4 U1")
    c.add_argument("-v", "--verbose", action="store_true", help="also list every moment cross-check and numeric claim")
    c.set_defaults(func=cmd_check)

    t = sub.add_parser("test", help="run the property tests (pytest; needs the test extra)",
                       description="Run the property tests with pytest. Any other arguments go to pytest, e.g. "
                                   "-k EXPR, -x, tests/test_linear.py.")
    t.add_argument("--profile", choices=("default", "ci", "nightly"), default="default",
                   help="Hypothesis profile: default (10 examples per test), ci (6, derandomised), nightly (200) "
                        "(default: %(default)s)")
    t.add_argument("--device", default="cpu", help="cpu, or cuda to run the CUDA-marked tests (default: %(default)s)")
    t.add_argument("--slow", action="store_true", help="include the slow tests (long sweeps)")
    t.set_defaults(func=cmd_test)

    r = sub.add_parser("report", help="regenerate the report: verdicts, tables, figures and data for every claim",
                       description="Regenerate the report: a verdict, table, figures and CSV data for every claim. "
                                   "The full report goes to reports/; a partial one (--quick or --only) goes to its own "
                                   "folder under reports/scratch/ (ignored by git) unless --out says otherwise, and "
                                   "never replaces a report of another subset. Results are cached (.cache/results).")
    r.add_argument("--quick", action="store_true", help="small grids and fewer Monte Carlo trials (under a minute)")
    r.add_argument("--only", nargs="+", default=None, metavar="PREFIX",
                   help="only claims whose id starts with one of these, e.g. C4 U2.deltanet")
    r.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: reports/ for the full report, reports/scratch/<subset>/ for a "
                        "partial one)")
    r.add_argument("--device", default="cpu", help=DEVICE_HELP)
    r.add_argument("--dtype", choices=DTYPES, default="float64", help="the numerics' dtype (default: %(default)s)")
    r.add_argument("--seed", type=inputs.seed, default=report.BASE_SEED,
                   help=f"base seed, an integer in [0, {inputs.SEED_MAX}]; each grid point's seed is derived from "
                        "it (default: %(default)s)")
    _backend_options(r, what="report")
    r.set_defaults(func=cmd_report)

    s = sub.add_parser("snr", help="Monte Carlo SNR⁻¹ of one memory configuration, every convention, beside its exact value",
                       description="Estimate the retrieval SNR⁻¹ of one memory configuration by Monte Carlo, in every "
                                   "convention (C3), with intervals, beside its exact value. The quantity:\n"
                                   "  SNR⁻¹ = E_others ||r||^2 / (c^2 ||v_i||^2), where S k_i = c v_i + r (paper Eq. 4); "
                                   "larger is worse.\n"
                                   "Kernel parameters have no defaults: the kernel you name needs its own (exp: --tau; "
                                   "poly: --p; rbf: --s; performer_*: --m and --tau).")
    s.add_argument("--memory", choices=("linear", "kernel", "ffn"), default="linear",
                   help="the memory: linear (S = sum v k^T), kernel (--kernel), ffn (--activation) (default: %(default)s)")
    s.add_argument("--n-pairs", type=inputs.int_in(1), required=True, metavar="N",
                   help="N, the number of stored pairs (>= 1; >= 2 for kernel and FFN memories)")
    s.add_argument("--d-k", type=inputs.int_in(1), required=True, metavar="D", help="key dimension d_k (>= 1)")
    s.add_argument("--d-v", type=inputs.int_in(1), default=None, metavar="D",
                   help="value dimension d_v (>= 1; default: d_k)")
    _monte_carlo_options(s, trials=1000, what="Monte Carlo trials", alpha=1e-6,
                         intervals="the two-sided intervals")
    s.add_argument("--convention", action="append", choices=CONVENTIONS, default=None,
                   help="estimate only this convention (repeatable; default: every convention that is finite here)")
    s.add_argument("--kernel", choices=KERNELS, default=None, help="with --memory kernel: the kernel (required)")
    s.add_argument("--tau", type=inputs.float_in(0), default=None,
                   help="exp and performer_* kernels: the temperature, > 0 (> 2 for performer_*)")
    s.add_argument("--p", type=inputs.int_in(1), default=None, help="poly kernel: the degree, >= 1")
    s.add_argument("--s", type=inputs.float_in(0), default=None, help="rbf kernel: the bandwidth, > 0")
    s.add_argument("--m", type=inputs.int_in(1), default=None, help="performer_* kernels: random features, >= 1")
    s.add_argument("--mode", choices=MODES, default=None,
                   help="kernel memories: how to estimate (default: auto, plain sampling where it resolves the value, "
                        "importance sampling or analytic moments where it cannot)")
    s.add_argument("--activation", choices=ACTIVATIONS, default=None, help="with --memory ffn: the activation (required)")
    s.add_argument("--device", default="cpu", help=DEVICE_HELP)
    s.add_argument("--dtype", choices=DTYPES, default="float64",
                   help="dtype of the memories (statistics are accumulated in float64) (default: %(default)s)")
    s.add_argument("--json", action="store_true", help="print JSON (one schema for every memory; see the README)")
    s.set_defaults(func=cmd_snr)

    cap = sub.add_parser("capacity", help="capacity of your own feature map, kernel or update rule, beside the linear "
                                          "memory and softmax attention",
                         description="Measure a memory you wrote, without training anything: for each N of a grid its "
                                     "retrieval SNR⁻¹ in every convention (C3) with its interval (exact where it can be "
                                     "derived), the recall predicted from it by C10's Gaussian-crosstalk model, the "
                                     "measured MQAR-style recall at a few N (nearest stored value, Clopper-Pearson "
                                     "interval), and the capacity, the largest N whose predicted recall is at least "
                                     "--level, with its interval; the linear memory and softmax attention (exp kernel, "
                                     "tau = sqrt(d_k)) at the same sizes as baselines. PATH is MODULE:ATTRIBUTE, "
                                     "importable from here (your own code: its folder on PYTHONPATH).\n"
                                     "  feature_map: phi(x [..., d_k]) -> [..., F], same dtype\n"
                                     "  kernel: k(x [..., d_k], y [..., d_k]) -> [...] (broadcasting), symmetric, "
                                     "k(x, x) > 0\n"
                                     "  memory: a class with write(K [T, N, d_k], V [T, N, d_v]) -> state and "
                                     "read(state, Q [T, M, d_k]) -> [T, M, d_v], linear in the values (constructed with "
                                     "d_k and d_v where its constructor takes them)\n"
                                     "docs/CAPACITY.md says what each convention means for choosing between maps.")
    cap.add_argument("path", metavar="PATH", help="MODULE:ATTRIBUTE of the feature map, kernel or memory class")
    cap.add_argument("--kind", choices=("feature_map", "kernel", "memory"), default="feature_map",
                     help="what PATH is (default: %(default)s)")
    cap.add_argument("--d-k", type=inputs.int_in(1), required=True, metavar="D", help="key dimension d_k (>= 1)")
    cap.add_argument("--d-v", type=inputs.int_in(3), default=None, metavar="D",
                     help="value dimension d_v (>= 3: the probe-averaged SNR⁻¹ needs E[1/chi^2_{d_v}]; default: "
                          "d_k, or 3 if d_k < 3)")
    cap.add_argument("--n-pairs", type=inputs.int_in(2), nargs="+", default=None, metavar="N",
                     help="the grid of N (each >= 2; default: eight N from d_k/8 to 16 d_k by factors of 2)")
    cap.add_argument("--measure-at", type=inputs.int_in(2), nargs="+", default=None, metavar="N",
                     help="the N of the grid at which recall is measured (default: the grid's first, middle and last)")
    _monte_carlo_options(cap, trials=None, what="Monte Carlo trials per SNR⁻¹ estimate; default: 2000, or 200 for "
                                                "--kind memory, which is simulated at every N", alpha=1e-3,
                         intervals="every interval")
    cap.add_argument("--recall-trials", type=inputs.int_in(1), default=1000, metavar="T",
                     help="memories (one query each) per measured recall (>= 1; default: %(default)s)")
    cap.add_argument("--level", type=inputs.float_in(0, 1), default=0.9,
                     help="the recall level that defines the capacity, in (0, 1) (default: %(default)g)")
    cap.add_argument("--convention", choices=CONVENTIONS, default="typical",
                     help="the SNR⁻¹ convention of the table and figure (the JSON has all four; default: %(default)s)")
    cap.add_argument("--json", action="store_true", help="print JSON (schema assocmem.capacity/1) instead of the table")
    cap.add_argument("--out", default=None, metavar="DIR",
                     help="also write DIR/capacity.json and the figure DIR/capacity.svg (nothing is written without it)")
    cap.set_defaults(func=cmd_capacity)

    k = sub.add_parser("task", help="train and evaluate one model on the swap or DAG task (D4, D5)")
    k.add_argument("task", choices=TASKS, help="swap (D4) or dag (D5)")
    k.add_argument("--model", choices=MODELS, required=True, help="the model to train")
    k.add_argument("--quick", action="store_true", help="a short curriculum (seconds instead of minutes)")
    k.add_argument("--seed", type=inputs.seed, default=0, help=f"in [0, {inputs.SEED_MAX}] (default: %(default)s)")
    k.add_argument("--device", default="cpu", help=DEVICE_HELP)
    k.add_argument("--json", action="store_true",
                   help="print the whole result as JSON (configuration, curriculum log, counts per length) instead "
                        "of the summary")
    k.set_defaults(func=cmd_task)

    e = sub.add_parser("evidence", help="list or run the expensive evidence jobs (calibration, trained grids, mutation)",
                       description="Expensive evidence runs as its own cached job and writes a fingerprinted record, "
                                   "reports/evidence/JOB.json, which the report reads: list shows each job with the "
                                   "state of its record (fresh, stale, missing or unreadable); run computes it.")
    e.add_argument("action", choices=("list", "status", "run"), help="list (or status): every job and its record; run: run jobs")
    e.add_argument("job", nargs="*", metavar="JOB", help="with run: job ids or prefixes, e.g. calibration or calibration/C4.typical")
    e.add_argument("--quick", action="store_true", help="a reduced run (its record says so)")
    e.add_argument("--seed", type=inputs.seed, default=None, help=f"base seed in [0, {inputs.SEED_MAX}] (default: 20250525)")
    _backend_options(e, what="evidence")
    e.set_defaults(func=cmd_evidence)

    from assocmem.conformance.adapter import keys_help

    f = sub.add_parser("conform", help="check another implementation of a rule against the float64 oracle",
                       description="Check another implementation of an update rule (or feature map) against the "
                                   "suite's float64 oracle over Hypothesis-drawn cases; exit status 1 when a dtype "
                                   "differs, with its minimal failing case. MODULE must be importable from here: "
                                   "your own code needs its folder on PYTHONPATH (e.g. PYTHONPATH=src assocmem "
                                   "conform mypkg.ops:fn ...), a package needs pip install. Hypothesis' data goes "
                                   "under the result cache ($ASSOCMEM_CACHE/hypothesis), not into this folder.",
                       epilog="Adapter SPEC: key=value pairs separated by commas (or a JSON object). Examples, "
                              "the adapters of two flash-linear-attention references (assocmem/conformance/peers.py "
                              "has them all):\n" + _peer_examples() + "\nKeys:\n" + keys_help())
    f.add_argument("function", metavar="MODULE:FUNCTION", help="the function (or feature-map class) to check")
    f.add_argument("--rule", default=None, help="the rule it implements (required; e.g. deltanet, gated_deltanet, gla, deltaformer)")
    f.add_argument("--adapter", default=None, metavar="SPEC", help="its conventions (default: the suite's own)")
    f.add_argument("--dtype", action="append", default=None, help="dtype to test (repeatable; default: the adapter's)")
    f.add_argument("--max-examples", type=int, default=60,
                   help="Hypothesis cases per dtype (default 60)")
    f.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    f.set_defaults(func=cmd_conform)

    b = sub.add_parser("bench", help="run the benchmarks and write BENCHMARKS.md",
                       description="Run benchmarks/bench_*.py. The full run writes reports/BENCHMARKS.md; --quick or "
                                   "--only write to reports/scratch/bench-<subset>/ unless --out says otherwise.")
    b.add_argument("--quick", action="store_true", help="small sizes")
    b.add_argument("--only", nargs="+", default=None, metavar="NAME", help="benchmark modules to run, e.g. linear (default: all)")
    b.add_argument("--out", default=None, metavar="FILE",
                   help="output Markdown file (default: reports/BENCHMARKS.md, or reports/scratch/bench-<subset>/ for a subset)")
    b.set_defaults(func=cmd_bench)
    return p


def _error_line(e: InputError) -> str:
    flag = FLAGS.get(e.parameter, e.parameter)
    message = str(e)
    body = message[len(e.parameter) + 2:] if message.startswith(e.parameter + ": ") else message
    return f"assocmem: error: {flag}: {body}"


def _main(argv) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "test":
        args.pytest_args = unknown
    try:
        return args.func(args)
    except InputError as e:
        print(_error_line(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(interrupted_line(e, sys.argv[1:] if argv is None else argv), file=sys.stderr)
        return 130


def interrupted_line(e: KeyboardInterrupt, argv) -> str:
    """What Ctrl-C leaves: how many results of this process's sweeps are in the result cache (the one it stopped
    and those that finished before) and the command that reuses them (the same one, without --fresh). Reports and
    evidence records are replaced whole or not at all, so none is half-written."""
    from assocmem.sweep import FINISHED, Interrupted

    done = sum(n for _, n in FINISHED)
    parts = []
    if isinstance(e, Interrupted):
        parts.append(f"{e.cached} of {e.total} {e.desc} results are cached")
    if done:
        parts.append(f"all {done} results of the finished {', '.join(dict.fromkeys(d for d, _ in FINISHED))} "
                     f"sweep{'s' if len(FINISHED) > 1 else ''} are cached")
    tail = "no report or record is half-written"
    if not parts or (isinstance(e, Interrupted) and e.cached == 0 and not done):
        return f"assocmem: interrupted; no result was cached, so a rerun starts again; {tail}"
    rerun = "assocmem " + shlex.join(a for a in argv if a != "--fresh")
    how = " (without --fresh)" if "--fresh" in argv else ""
    return f"assocmem: interrupted; {'; '.join(parts)}; `{rerun}`{how} reuses them; {tail}"


def main(argv=None) -> int:
    try:
        rc = _main(argv)
        sys.stdout.flush()
        return rc
    except BrokenPipeError:  # e.g. `assocmem evidence list | head -1`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
