"""The peers: other projects' pure-PyTorch references for the rules, installed from PyPI as clients of the oracles
(``pip install "assocmem[peers]"``; never vendored), each with the adapter that states its conventions.

- flash-linear-attention's core package ``fla-core`` (its ``fla/ops/<rule>/naive.py`` references, its DPFP feature
  map): see ``FLA``.
- Hugging Face transformers' pure-torch fallbacks of the gated delta rule (Qwen3-Next): see ``HF``.

Importing fla on a machine without Triton. ``fla.ops/__init__`` imports every Triton kernel, so ``import
fla.ops.delta_rule.naive`` fails with ModuleNotFoundError: triton on a CPU-only machine, although the naive modules
themselves need only torch and einops. Where Triton is importable the modules are imported normally. Where it is not,
``load`` registers placeholder *package* entries in ``sys.modules`` for the parents of the wanted module (``fla.ops``,
``fla.ops.<rule>``: package objects whose ``__path__`` is the installed folder, without running their
``__init__``), so that Python imports the installed naive file itself and nothing else; the placeholders stay
registered (they say so: ``__assocmem_placeholder__``). The DPFP feature map lives in ``fla.modules.feature_map``,
which imports Triton-backed helpers at load time; for it the three modules it imports from are also placeholders:
``fla.utils.checkpoint`` an identity decorator (activation checkpointing; no effect on values) and the activation
and LayerNorm functions stand-ins that raise if called (``DPFPFeatureMap.forward`` calls none of them). No peer code
is copied; what runs is the installed file.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path

from assocmem.conformance.adapter import Adapter


@dataclass(frozen=True)
class Peer:
    id: str  # short name shown in the report
    package: str  # the PyPI distribution
    module: str
    attr: str
    rule: str
    adapter: Adapter
    note: str = ""
    placeholders: dict = field(default_factory=dict)  # extra placeholder modules {name: {attr: value}}

    @property
    def target(self) -> str:
        return f"{self.module}:{self.attr}"


def _triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def _unavailable(name):
    def stand_in(*args, **kwargs):
        raise RuntimeError(f"{name} needs Triton; it is a placeholder in assocmem's peer loader")

    return stand_in


def _placeholder_package(name: str, path: Path) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = ModuleSpec(name, loader=None, is_package=True)
    mod.__path__ = [str(path)]
    mod.__assocmem_placeholder__ = True
    return mod


def load(peer: Peer):
    """The peer's function or class, imported from the installed package (see the module docstring)."""
    return getattr(load_module(peer.module, peer.placeholders), peer.attr)


def load_module(module: str, placeholders: dict | None = None):
    """Import ``module``; for an fla module on a machine without Triton, through placeholder parent packages (and
    the given placeholder modules, or those of a known peer in the same module)."""
    if _triton_available() or not module.startswith("fla."):
        return importlib.import_module(module)
    if placeholders is None:
        placeholders = next((p.placeholders for p in PEERS if p.module == module), {})
    spec = importlib.util.find_spec("fla")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("fla-core is not installed", name="fla")
    root = Path(next(iter(spec.submodule_search_locations)))
    importlib.import_module("fla")  # its own __init__ imports layers/models only if they import (they do not here)
    parts = module.split(".")
    for i in range(2, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            sys.modules[name] = _placeholder_package(name, root.joinpath(*parts[1:i]))
    for name, attrs in placeholders.items():
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__assocmem_placeholder__ = True
            for key, value in attrs.items():
                setattr(mod, key, value)
            sys.modules[name] = mod
    return importlib.import_module(module)


def installed(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


_SEQ = dict(layout="bthd", state="kv")
_FLA_DPFP_PLACEHOLDERS = {
    "fla.utils": {"checkpoint": lambda fn: fn},
    "fla.modules.activations": {n: _unavailable(n) for n in ("fast_gelu_impl", "sigmoid", "sqrelu", "swish")},
    "fla.modules.layernorm": {"layer_norm": _unavailable("layer_norm")},
}


def _fla(rule_dir, attr, rule, note="", **adapter) -> Peer:
    return Peer(f"fla {rule_dir}.{attr}", "fla-core", f"fla.ops.{rule_dir}.naive", attr, rule, Adapter(**adapter), note)


FLA = [
    _fla("linear_attn", "naive_recurrent_linear_attn", "linear", **_SEQ),
    _fla("linear_attn", "naive_chunk_linear_attn", "linear", **_SEQ, initial_state=False, final_state=False,
         returns="o", chunk="multiple", chunk_sizes=(64,), names={"chunk": ""}, max_T=128,
         note="chunk size fixed at 64 inside; T a multiple of 64"),
    _fla("simple_gla", "naive_recurrent_simple_gla", "scalar_decay", **_SEQ, gates="log"),
    _fla("simple_gla", "naive_chunk_simple_gla", "scalar_decay", **_SEQ, gates="log", chunk="any"),
    _fla("simple_gla", "naive_parallel_simple_gla", "scalar_decay", **_SEQ, gates="log", initial_state=False,
         final_state=False),
    _fla("gla", "naive_recurrent_gla", "gla", **_SEQ, gates="log", scale="rsqrt_dk", names={"g": "gk"}),
    _fla("delta_rule", "delta_rule_recurrence", "deltanet", layout="bhtd", state="kv", scale="rsqrt_dk"),
    _fla("delta_rule", "delta_rule_chunkwise", "deltanet", layout="bhtd", state="kv", scale="rsqrt_dk",
         initial_state=False, chunk="multiple", names={"output_final_state": ""}),
    _fla("gated_delta_rule", "naive_recurrent_gated_delta_rule", "gated_deltanet", **_SEQ, gates="log"),
    _fla("gated_delta_rule", "naive_chunk_gated_delta_rule", "gated_deltanet", **_SEQ, gates="log", chunk="any"),
    _fla("attn", "naive_parallel_attn", "softmax", layout="bthd", initial_state=False, final_state=False),
    _fla("deltaformer", "naive_deltaformer_attn", "deltaformer", layout="bthd", scale="rsqrt_dk", w="q",
         same_dims=True, returns="o", note="kappa1(q_t, k_j): fla's variant (adapter w=q)"),
    _fla("ttt", "chunk_ttt_linear_ref", "ttt_ln", layout="bthd", scalar_dim=True,
         names={"ln_w": "w", "ln_b": "b", "mini_batch": "mini_batch_size"}, same_dims=True),
    Peer("fla titans.chunk_titans_linear_ref (use_chunk=False)", "fla-core", "fla.ops.titans.naive",
         "chunk_titans_linear_ref", "titans_ln",
         Adapter(layout="bthd", scale=1.0, scalar_dim=True, same_dims=True, kwargs={"use_chunk": False},
                 names={"ln_w": "w", "ln_b": "b", "mini_batch": "chunk_size"})),
    Peer("fla titans.chunk_titans_linear_ref (use_chunk=True)", "fla-core", "fla.ops.titans.naive",
         "chunk_titans_linear_ref", "titans_ln",
         Adapter(layout="bthd", scale=1.0, scalar_dim=True, same_dims=True, kwargs={"use_chunk": True},
                 names={"ln_w": "w", "ln_b": "b", "mini_batch": "chunk_size"})),
    Peer("fla modules.feature_map.DPFPFeatureMap (nu=1)", "fla-core", "fla.modules.feature_map", "DPFPFeatureMap",
         "feature_map:dpfp", Adapter(init={"head_dim": "d", "nu": 1}), placeholders=_FLA_DPFP_PLACEHOLDERS),
]

_HF_MODULE = "transformers.models.qwen3_next.modeling_qwen3_next"
_HF = dict(layout="bthd", state="kv", gates="log", scale="rsqrt_dk",
           names={"q": "query", "k": "key", "v": "value"})
HF = [
    Peer("hf torch_chunk_gated_delta_rule", "transformers", _HF_MODULE, "torch_chunk_gated_delta_rule", "gated_deltanet",
         Adapter(**_HF, chunk="any", kwargs={"use_qk_l2norm_in_kernel": False})),
    Peer("hf torch_chunk_gated_delta_rule (l2norm)", "transformers", _HF_MODULE, "torch_chunk_gated_delta_rule",
         "gated_deltanet", Adapter(**_HF, chunk="any", normalise="l2", kwargs={"use_qk_l2norm_in_kernel": True})),
    Peer("hf torch_recurrent_gated_delta_rule", "transformers", _HF_MODULE, "torch_recurrent_gated_delta_rule",
         "gated_deltanet", Adapter(**_HF, kwargs={"use_qk_l2norm_in_kernel": False})),
]

PEERS = FLA + HF
PACKAGES = ("fla-core", "transformers")
