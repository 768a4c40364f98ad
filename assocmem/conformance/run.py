"""Run someone else's function against a rule's float64 oracle over Hypothesis-drawn cases.

For each case (``cases.py``) the inputs are rounded to the case's dtype, converted to the peer's conventions
(``Adapter``), passed to the peer, and its outputs converted back; the oracle runs in float64 on the same rounded
inputs (input rounding is never counted as the peer's error). A case fails on any of:

- ``error``:  the peer raised on inputs inside the rule's domain;
- ``shape``:  an output of the wrong shape (or not a tensor);
- ``dtype``:  an output whose dtype is not the input's (e.g. float32 returned for float64 input);
- ``inputs``: the peer changed one of its input tensors in place;
- ``values`` / ``state``: max |peer - oracle| / max(1, max |oracle|) above C n u, with u the unit round-off of the
  case's dtype and n = T + d_k + d_v the terms per output entry (Higham's gamma_n; C = 16 as in the suite's own U2
  identity checks: a factor 2 for two computations, 2 for products of bounded factors, 4 margin). A peer that
  computes float64 input in float32 therefore fails the float64 check, by about 1e7 times.

``check`` asks Hypothesis (``find``, derandomised, no example database) for a failing case and shrinks it to a
minimal one, which the verdict reports with every failure it shows. No failure within ``max_examples`` draws gives
the verdict *conforms*, with the worst error seen as a multiple of its tolerance.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from dataclasses import dataclass, field

import torch

from assocmem.conformance import cases as _cases
from assocmem.conformance.adapter import Adapter
from assocmem.conformance.rules import ConformanceRule, get
from impl.numerics.device import resolve_dtype, unit_roundoff
from impl.numerics.errors import InputError

C_ROUNDOFF = 16.0


@dataclass
class Verdict:
    function: str
    rule: str
    dtype: str
    adapter: str
    verdict: str  # "conforms" | "differs"
    examples: int
    worst: float  # worst error / tolerance among the conforming cases evaluated
    minimal: dict | None = None  # the minimal failing case
    failures: list = field(default_factory=list)  # [(kind, message)] on the minimal case
    typical: list = field(default_factory=list)  # [(kind, message)] on a typical case (``typical_case``), if it fails
    hint: str = ""  # a one-key adapter change under which the function matches the oracle (``diagnose``), if any

    @property
    def ok(self) -> bool:
        return self.verdict == "conforms"

    def line(self) -> str:
        head = f"{self.function} [{self.rule}, {self.dtype}]: {self.verdict}"
        if self.ok:
            return f"{head} ({self.examples} cases; worst error {self.worst:.3g} x tolerance)"
        what = "; ".join(f"{k}: {m}" for k, m in self.failures)
        line = f"{head} — minimal failing case {{{_cases.describe(self.minimal)}}}: {what}"
        if self.typical:
            line += "; at a typical case (T = 16, d = 8): " + "; ".join(f"{k}: {m}" for k, m in self.typical)
        if self.hint:
            line += f" — hint: {self.hint}"
        return line

    def as_dict(self) -> dict:
        return {"function": self.function, "rule": self.rule, "dtype": self.dtype, "adapter": self.adapter,
                "verdict": self.verdict, "examples": self.examples, "worst": self.worst, "minimal": self.minimal,
                "failures": [list(f) for f in self.failures], "typical": [list(f) for f in self.typical],
                "hint": self.hint}


def load_function(path: str, *, flag: str = "FUNCTION", command: str = "conform", what: str = "FUNCTION"):
    """``package.module:attribute`` (attribute may be dotted) -> the object; InputError naming ``flag`` otherwise
    (``command`` is the subcommand the hints show, ``what`` the metavar: MODULE:``what``)."""
    if not isinstance(path, str) or ":" not in path:
        raise InputError(flag, f"must be MODULE:{what} (e.g. mypkg.ops:chunk_delta_rule), got {path!r}")
    mod_name, attr = path.split(":", 1)
    if "/" in mod_name or mod_name.endswith(".py"):
        parts = [p for p in mod_name.removesuffix(".py").split("/") if p not in ("", ".")]
        folder, dotted = ("/".join(parts[:1]), ".".join(parts[1:])) if len(parts) > 1 else (".", parts[0])
        raise InputError(flag, f"{mod_name!r} is a file path; give the module's dotted import path and put the "
                               f"folder above its top package on PYTHONPATH, e.g. PYTHONPATH={folder} assocmem "
                               f"{command} {dotted}:{attr} (if {folder}/ holds the package)")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as e:
        if not (mod_name.startswith("fla.") and str(getattr(e, "name", "")).startswith("triton")):
            raise InputError(flag, import_hint(mod_name, e, command)) from None
        from assocmem.conformance.peers import load_module  # fla without Triton: its naive modules still load

        obj = load_module(mod_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(flag, f"{mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(flag, f"{path!r} is not callable")
    return obj


def import_hint(mod_name: str, e: ImportError, command: str = "conform") -> str:
    """Why ``mod_name`` did not import, and the fix: the module itself not found (PYTHONPATH for your own code, pip
    for a package), or a module it imports missing (install that)."""
    missing = getattr(e, "name", None) or ""
    top = mod_name.split(".")[0]
    if missing and (mod_name == missing or mod_name.startswith(missing + ".")):
        return (f"cannot import {mod_name!r} (no module named {missing!r}): for your own code, add the folder that "
                f"holds {top}/ to PYTHONPATH (e.g. PYTHONPATH=/path/to/src assocmem {command} ...); for a package, "
                f"install it into this Python ({sys.executable} -m pip install <its distribution>)")
    if missing:
        return (f"cannot import {mod_name!r}: it imports {missing!r}, which is not installed in this Python "
                f"({sys.executable} -m pip install <the distribution that provides {missing.split('.')[0]}>)")
    return f"cannot import {mod_name!r}: {type(e).__name__}: {e}"


# ------------------------------------------------------------------------------------------ one case ------
def _to_layout(x, adapter):
    return x.transpose(1, 2).contiguous() if adapter.layout == "bthd" else x.contiguous()


def _from_layout(x, adapter):
    return x.transpose(1, 2) if adapter.layout == "bthd" else x


def _l2(x, eps):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


def prepare(rule: ConformanceRule, adapter: Adapter, case: dict):
    """(peer kwargs, oracle inputs): the case's tensors rounded to its dtype, in each side's conventions."""
    dt = resolve_dtype(case["dtype"])
    raw = _cases.make_inputs(rule, case)
    rounded = {k: v.to(dt) for k, v in raw.items()}
    up = {k: v.to(torch.float64) for k, v in rounded.items()}
    if rule.feature_map:
        return {"x": rounded["q"], "y": rounded["k"]}, {"q": up["q"], "k": up["k"], "rule": rule}
    peer, ref = {}, {"rule": rule, "options": {"w": adapter.w, "beta_scales_v": adapter.beta_scales_v}}

    def put(ours, value):
        if adapter.name(ours):
            peer[adapter.name(ours)] = value

    for name in ("q", "k", "v"):
        put(name, _to_layout(rounded[name], adapter))
    ref["q"], ref["k"], ref["v"] = up["q"], up["k"], up["v"]
    if adapter.normalise == "l2":
        ref["q"], ref["k"] = _l2(ref["q"], adapter.normalise_eps), _l2(ref["k"], adapter.normalise_eps)
    for spec in rule.inputs:
        if spec.kind == "gate":
            loga = raw["log_" + spec.name]
            val = loga.to(dt) if adapter.gates == "log" else torch.exp(loga).to(dt)
            ref[spec.name] = torch.exp(val.to(torch.float64)) if adapter.gates == "log" else val.to(torch.float64)
        else:
            val = rounded[spec.name]
            ref[spec.name] = up[spec.name]
        val = _to_layout(val, adapter)
        put(spec.name, val.unsqueeze(-1) if (adapter.scalar_dim and not spec.per_channel) else val)
    for p in rule.params:
        put(p, rounded[p].clone())
        ref[p] = up[p]
    ref["scale"] = adapter.effective_scale(case.get("scale", 1.0), case["d_k"])
    if adapter.scale == "arg":
        put("scale", case["scale"])
    if "initial_state" in rounded:
        S = rounded["initial_state"]
        put("initial_state", (S.transpose(-1, -2) if adapter.state == "kv" else S).contiguous())
        ref["initial_state"] = up["initial_state"]
    if rule.state and adapter.final_state:
        put("output_final_state", True)
    if adapter.chunk:
        put("chunk", case["chunk"])
    if rule.block:
        put(rule.block, case["block"])
        ref["block"] = case["block"]
    peer.update(adapter.kwargs)
    return peer, ref


def _call_feature_map(fn, adapter, case, peer):
    if isinstance(fn, type):
        init = {k: (case["d_k"] if v == "d" else v) for k, v in adapter.init.items()}
        fn = fn(**init)
    return fn(peer["x"]), fn(peer["y"])


def _err(a, ref):
    a = a.to(torch.float64)
    if a.shape != ref.shape:
        return float("inf")
    if not bool(torch.isfinite(a).all()):
        return float("inf")
    return float((a - ref).abs().max()) / max(1.0, float(ref.abs().max())) if ref.numel() else 0.0


def evaluate(fn, rule: ConformanceRule, adapter: Adapter, case: dict) -> tuple[list, float]:
    """Failures [(kind, message)] of one case and its worst error as a multiple of the tolerance."""
    dt = resolve_dtype(case["dtype"])
    peer, ref = prepare(rule, adapter, case)
    before = {k: v.clone() for k, v in peer.items() if isinstance(v, torch.Tensor)}
    if rule.feature_map:
        X, Y = ref["q"], ref["k"]
        from impl.memories.kernels import features

        ref_out = features(rule.feature_map, X) @ features(rule.feature_map, Y).transpose(-1, -2)
    else:
        ref_out, ref_state = rule.oracle(ref)
    try:
        if rule.feature_map:
            fx, fy = _call_feature_map(fn, adapter, case, peer)
            outs = [fx.to(torch.float64) @ fy.to(torch.float64).transpose(-1, -2)]
            dtypes = [fx.dtype, fy.dtype]
        else:
            ret = fn(**peer)
            outs, dtypes = _unpack(ret, rule, adapter)
    except Exception as e:  # noqa: BLE001 - any exception on valid input is the finding
        return [("error", f"raised {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")], float("inf")
    fails = []
    for k, v in before.items():
        if not torch.equal(v, peer[k]):
            fails.append(("inputs", f"changed its input {k!r} in place (max change {float((v - peer[k]).abs().max()):.3g})"))
    bad_dtypes = sorted({str(d).replace("torch.", "") for d in dtypes if d != dt})
    if bad_dtypes:
        fails.append(("dtype", f"returned {', '.join(bad_dtypes)} for {case['dtype']} input"))
    tol = C_ROUNDOFF * _cases.n_terms(rule, case) * unit_roundoff(dt)
    worst = 0.0
    targets = [("values", ref_out)] + ([("state", ref_state)] if (not rule.feature_map and len(outs) > 1) else [])
    for (kind, r), out in zip(targets, outs):
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(r.shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            fails.append(("shape", f"{kind}: shape {got}, expected {tuple(r.shape)}"))
            worst = float("inf")
            continue
        e = _err(out, r)
        worst = max(worst, e / tol)
        if not e <= tol:
            fails.append((kind, f"relative max error {e:.3g} > tolerance {tol:.3g} (x{e / tol:.3g})"))
    return fails, worst


def _unpack(ret, rule, adapter):
    """[o, final state?] in the suite's conventions (float tensors as returned, layout/orientation undone)."""
    if isinstance(ret, torch.Tensor):
        items = [ret]
    elif isinstance(ret, (tuple, list)) and ret and isinstance(ret[0], torch.Tensor):
        items = list(ret)
    else:
        raise TypeError(f"returned {type(ret).__name__}, expected a tensor or a tuple starting with one")
    o = _from_layout(items[0], adapter)
    outs, dtypes = [o], [o.dtype]
    if rule.state and adapter.final_state and adapter.returns == "tuple":
        S = items[1] if len(items) > 1 else None
        if not isinstance(S, torch.Tensor):
            raise TypeError("returned no final state although asked for one (output_final_state=True)")
        outs.append(S.transpose(-1, -2) if adapter.state == "kv" else S)
        dtypes.append(S.dtype)
    return outs, dtypes


def typical_case(rule: ConformanceRule, adapter: Adapter, dtype: str) -> dict:
    """A representative case (T = 16, d = 8, unit keys, mid-range inputs): how large a difference is away from the
    degenerate shapes a minimal case shrinks to."""
    chunk = adapter.chunk_sizes[0]
    T = max(chunk, 16 // chunk * chunk) if adapter.chunk == "multiple" else 16
    case = {"dtype": dtype, "B": 1, "H": 1, "T": T, "d_k": 8, "d_v": 8, "keys": rule.key_modes[0]}
    if adapter.chunk:
        case["chunk"] = chunk
    if rule.inputs:
        case["inputs"] = "mid"
    if rule.state and adapter.initial_state:
        case["state"] = False
    if adapter.scale == "arg" and not rule.feature_map:
        case["scale"] = 0.5
    if rule.block:
        case["block"] = 4
    case["seed"] = 1
    return case


# ------------------------------------------------------------------------------------------ diagnosis -----
WHY = {
    "gates": {"log": "the function takes log-gates g = log a", "a": "the function takes multiplicative gates a"},
    "scale": {"arg": "the function takes the scale as an argument", "rsqrt_dk": "the function applies its own scale "
              "d_k^-1/2", 1.0: "the function applies no scale (1)"},
    "state": {"kv": "the function keeps the state as h = S^T [d_k, d_v]", "vk": "the function keeps the state as S "
              "[d_v, d_k]"},
    "layout": {"bthd": "the function takes sequence-first tensors [B, T, H, d]", "bhtd": "the function takes "
               "head-first tensors [B, H, T, d]"},
}


def alternatives(rule: ConformanceRule, adapter: Adapter) -> list[tuple[str, object, Adapter]]:
    """The one-key changes of convention that a mismatched adapter most often needs: the other gate convention,
    another scale, the other state orientation, the other layout (those that apply to the rule)."""
    out = []
    if any(spec.kind == "gate" for spec in rule.inputs):
        out.append(("gates", "log" if adapter.gates == "a" else "a"))
    if not rule.feature_map:
        out += [("scale", s) for s in ("arg", "rsqrt_dk", 1.0) if s != adapter.scale]
        out.append(("layout", "bthd" if adapter.layout == "bhtd" else "bhtd"))
    if rule.state:
        out.append(("state", "kv" if adapter.state == "vk" else "vk"))
    return [(key, val, dataclasses.replace(adapter, **{key: val})) for key, val in out]


def diagnose(fn, rule: ConformanceRule, adapter: Adapter, dtype: str) -> str:
    """When the function differs: is there one adapter key whose other value makes it match the oracle at two
    typical cases (seeds 1 and 2)? Then the error is most likely a convention mismatch, and the hint names the key
    to set. Empty when no single change helps (a real difference, or several conventions off at once)."""
    for key, val, alt in alternatives(rule, adapter):
        cases = [typical_case(rule, alt, dtype), {**typical_case(rule, alt, dtype), "seed": 2}]
        try:
            if all(not evaluate(fn, rule, alt, case)[0] for case in cases):
                return (f"with {key}={val} (instead of {key}={getattr(adapter, key)}) it matches the oracle at two "
                        f"typical cases: {WHY[key][val]}, so this looks like a convention mismatch; add {key}={val} "
                        "to --adapter")
        except Exception:  # noqa: BLE001 - an alternative the function cannot even be called with is no hint
            continue
    return ""


# ------------------------------------------------------------------------------------------ search --------
def check(fn, rule: str | ConformanceRule, adapter=None, *, dtypes=None, max_examples: int = 60,
          name: str | None = None) -> list[Verdict]:
    """One verdict per dtype: ``fn`` (a callable or ``"module:function"``) against ``rule``'s oracle."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    rule = get(rule) if isinstance(rule, str) else rule
    adapter = Adapter.parse(adapter)
    if isinstance(fn, str):
        name, fn = name or fn, load_function(fn)
    name = name or f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise InputError("--max-examples", f"must be an integer >= 1, got {max_examples!r}")
    verdicts = []
    for dtype in dtypes or adapter.dtypes:
        resolve_dtype(dtype)
        seen = {"worst": 0.0, "n": 0}

        def fails(case):
            f, w = evaluate(fn, rule, adapter, case)
            if not f:
                seen["worst"] = max(seen["worst"], w)
            seen["n"] += 1
            return bool(f)

        cfg = settings(max_examples=max_examples, database=None, derandomize=True, deadline=None,
                       suppress_health_check=list(HealthCheck), print_blob=False)
        try:
            minimal = find(_cases.strategy(rule, adapter, dtype), fails, settings=cfg)
        except NoSuchExample:
            verdicts.append(Verdict(name, rule.name, dtype, adapter.describe(), "conforms", max_examples, seen["worst"]))
            continue
        failures, _ = evaluate(fn, rule, adapter, minimal)
        typical, _ = evaluate(fn, rule, adapter, typical_case(rule, adapter, dtype))
        verdicts.append(Verdict(name, rule.name, dtype, adapter.describe(), "differs", seen["n"], seen["worst"],
                                minimal, failures, typical, diagnose(fn, rule, adapter, dtype)))
    return verdicts


def assert_conforms(fn, rule, adapter=None, **kw) -> list[Verdict]:
    """``check`` that raises AssertionError naming the minimal failing case of every dtype that differs."""
    verdicts = check(fn, rule, adapter, **kw)
    bad = [v for v in verdicts if not v.ok]
    if bad:
        raise AssertionError("\n".join(v.line() for v in bad))
    return verdicts
