"""A declarative description of another implementation's conventions, so that the suite can call it.

An ``Adapter`` says how to turn the suite's inputs (head-first [B, H, T, d], multiplicative gates a in (0, 1],
explicit ``scale``, state S [B, H, d_v, d_k] mapping keys to values) into the peer's, and back. ``KEYS`` below
lists every key with what it means and an example (``assocmem conform --help`` prints the same list).

``Adapter.parse(text)`` reads ``key=value,key=value`` (``names=q:query;k:key``, ``dtypes=float64|float32``) or a
JSON object; unknown keys or values are an InputError naming the key.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from impl.numerics.errors import InputError

CHOICES = {
    "layout": ("bhtd", "bthd"),
    "gates": ("a", "log"),
    "state": ("vk", "kv"),
    "normalise": ("none", "l2"),
    "w": ("k", "q"),
    "chunk": (None, "any", "multiple"),
    "returns": ("tuple", "o"),
}


DEFAULT_NAMES = {"chunk": "chunk_size"}

# key -> (what it says, an example in the --adapter syntax); a test checks that each example parses and that every
# field of Adapter is here.
KEYS = {
    "layout": ("bhtd (head-first, the default) or bthd (sequence-first: q [B, T, H, d], per-token inputs [B, T, H])",
               "layout=bthd"),
    "gates": ("a (multiplicative gates in (0, 1], the default) or log (the peer takes g = log a <= 0)", "gates=log"),
    "scale": ("arg (the peer takes a scale argument; default), rsqrt_dk (it applies d_k^-1/2 itself) or a number "
              "(its own fixed scale)", "scale=rsqrt_dk"),
    "state": ("vk (S [d_v, d_k], o = S q; default) or kv (h = S^T [d_k, d_v], o = q h)", "state=kv"),
    "initial_state": ("whether the peer accepts an initial state (default true)", "initial_state=false"),
    "final_state": ("whether it returns the final state (default true)", "final_state=false"),
    "normalise": ("none (default) or l2: the peer L2-normalises q and k itself, x / sqrt(|x|^2 + normalise_eps)",
                  "normalise=l2"),
    "normalise_eps": ("the eps of normalise=l2 (default 1e-6)", "normalise_eps=1e-5"),
    "beta_scales_v": ("DeltaFormer only: u_t = b_t v_t - ... (D2's variant) instead of v_t - ...",
                      "beta_scales_v=true"),
    "w": ("DeltaFormer only: k (the paper's kappa1(k_t, k_j); default) or q (flash-linear-attention's "
          "kappa1(q_t, k_j))", "w=q"),
    "chunk": ("none (default), any (takes a chunk size, any T) or multiple (needs T a multiple of the chunk size)",
              "chunk=any"),
    "chunk_sizes": ("the chunk sizes to draw, separated by | (default 4|8|16)", "chunk_sizes=16|32"),
    "names": ("renames of the suite's argument names, ours:theirs separated by ; (everything is passed by keyword; "
              "mapped to nothing: not passed, e.g. a final state the peer always returns)",
              "names=q:query;k:key;output_final_state:"),
    "kwargs": ("constant extra keyword arguments, name:value separated by ;",
               "kwargs=use_qk_l2norm_in_kernel:false"),
    "returns": ("tuple (o first, then the final state when final_state; default) or o", "returns=o"),
    "scalar_dim": ("per-token scalars carry a trailing axis of 1 ([B, T, H, 1]: Titans, TTT references)",
                   "scalar_dim=true"),
    "same_dims": ("the peer needs d_v = d_k", "same_dims=true"),
    "init": ("for a feature-map class: its constructor's keyword arguments (d stands for the head size)",
             "init=head_dim:d"),
    "dtypes": ("the dtypes to test, separated by | (each gets its own verdict; default float64|float32)",
               "dtypes=float64|bfloat16"),
    "max_T": ("the longest sequence drawn (default 24)", "max_T=40"),
    "max_d": ("the largest head size drawn (default 8)", "max_d=16"),
}


def keys_help() -> str:
    """Every adapter key with its meaning and an example, for ``assocmem conform --help``."""
    return "\n".join(f"  {key}: {what}; e.g. {example}" for key, (what, example) in KEYS.items())


@dataclass(frozen=True)
class Adapter:
    layout: str = "bhtd"
    gates: str = "a"
    scale: Any = "arg"
    state: str = "vk"
    initial_state: bool = True
    final_state: bool = True
    normalise: str = "none"
    normalise_eps: float = 1e-6
    beta_scales_v: bool = False
    w: str = "k"
    chunk: str | None = None
    chunk_sizes: tuple[int, ...] = (4, 8, 16)
    names: Mapping[str, str] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    returns: str = "tuple"
    scalar_dim: bool = False
    same_dims: bool = False
    init: Mapping[str, Any] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ("float64", "float32")
    max_T: int = 24
    max_d: int = 8

    def __post_init__(self):
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise InputError(f"adapter.{key}", f"must be one of {', '.join(map(str, allowed))}, got {getattr(self, key)!r}")
        if not (self.scale in ("arg", "rsqrt_dk") or (isinstance(self.scale, (int, float)) and not isinstance(self.scale, bool))):
            raise InputError("adapter.scale", f"must be 'arg', 'rsqrt_dk' or a number, got {self.scale!r}")
        from impl.numerics.device import resolve_dtype

        for dt in self.dtypes:
            resolve_dtype(dt)
        for key in ("max_T", "max_d"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise InputError(f"adapter.{key}", f"must be an integer >= 1, got {getattr(self, key)!r}")
        if not self.chunk_sizes or any(not isinstance(c, int) or c < 1 for c in self.chunk_sizes):
            raise InputError("adapter.chunk_sizes", f"must be integers >= 1, got {self.chunk_sizes!r}")

    def name(self, ours: str) -> str:
        """The peer's name for the suite's argument ``ours``."""
        return self.names.get(ours, DEFAULT_NAMES.get(ours, ours))

    def effective_scale(self, drawn: float, d_k: int) -> float:
        if self.scale == "arg":
            return drawn
        return d_k**-0.5 if self.scale == "rsqrt_dk" else float(self.scale)

    def describe(self) -> str:
        """The fields that differ from the defaults, ``key=value`` comma-separated (what ``parse`` reads back)."""
        out = []
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if val != default:
                if isinstance(val, Mapping):
                    val = ";".join(f"{k}:{v}" for k, v in val.items())
                elif isinstance(val, tuple):
                    val = "|".join(map(str, val))
                out.append(f"{f.name}={val}")
        return ",".join(out) or "(suite conventions)"

    @classmethod
    def parse(cls, text: str | Mapping | "Adapter" | None) -> "Adapter":
        if text is None:
            return cls()
        if isinstance(text, Adapter):
            return text
        if isinstance(text, Mapping):
            return cls(**_coerce(dict(text)))
        text = text.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as e:
                raise InputError("--adapter", f"is not valid JSON: {e}") from None
            return cls(**_coerce(data))
        data = {}
        for item in filter(None, (x.strip() for x in text.split(","))):
            if "=" not in item:
                raise InputError("--adapter", f"expected key=value, got {item!r}")
            key, val = (s.strip() for s in item.split("=", 1))
            data[key] = val
        return cls(**_coerce(data))


def _coerce(data: dict) -> dict:
    known = {f.name: f for f in dataclasses.fields(Adapter)}
    out = {}
    for key, val in data.items():
        if key not in known:
            raise InputError("--adapter", f"unknown key {key!r}; known: {', '.join(known)}")
        if isinstance(val, str):
            val = _from_text(key, val)
        elif isinstance(val, list):
            val = tuple(val)
        out[key] = val
    return out


def _from_text(key: str, val: str):
    default = next(f for f in dataclasses.fields(Adapter) if f.name == key)
    if key in ("names", "kwargs", "init"):
        pairs = [p.split(":", 1) for p in filter(None, val.split(";"))]
        if any(len(p) != 2 for p in pairs):
            raise InputError("--adapter", f"{key} must be name:value pairs separated by ';', got {val!r}")
        return {k: (_scalar(v) if key != "names" else v) for k, v in pairs}
    if key in ("dtypes",):
        return tuple(filter(None, val.split("|")))
    if key == "chunk_sizes":
        try:
            return tuple(int(x) for x in val.split("|"))
        except ValueError:
            raise InputError("--adapter", f"chunk_sizes must be integers separated by '|', got {val!r}") from None
    if default.type in ("bool",) or isinstance(default.default, bool):
        if val.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InputError("--adapter", f"{key} must be true or false, got {val!r}")
        return val.lower() in ("true", "1", "yes")
    if key in ("max_T", "max_d"):
        try:
            return int(val)
        except ValueError:
            raise InputError("--adapter", f"{key} must be an integer, got {val!r}") from None
    if key == "chunk" and val.lower() in ("none", ""):
        return None
    if key in ("scale", "normalise_eps"):
        return _scalar(val)
    return val


def _scalar(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
