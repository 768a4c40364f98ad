"""The update rules by name: name -> its forms (recurrent ground truth, parallel, chunked) and its extra inputs.

    RULES["deltanet"].forms["chunk"](q, k, v, beta, scale=..., initial_state=..., output_final_state=..., chunk_size=...)

``extras`` names the per-token inputs after (q, k, v) in call order, with their allowed range, so that checks can
draw valid inputs for any rule; ``kwargs`` names extra keyword parameters (RLS's ridge ``lam``).
``get_rule(name)`` raises InputError("rule", ...) for an unknown name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from impl.numerics.errors import InputError
from impl.rules.decay.chunk import decay_chunk
from impl.rules.decay.parallel import decay_parallel
from impl.rules.decay.recurrent import decay_recurrent
from impl.rules.deltanet.chunk import delta_rule_chunk
from impl.rules.deltanet.parallel import delta_rule_parallel
from impl.rules.deltanet.recurrent import delta_rule_recurrent
from impl.rules.gated_deltanet.chunk import gated_delta_rule_chunk
from impl.rules.gated_deltanet.parallel import gated_delta_rule_parallel
from impl.rules.gated_deltanet.recurrent import gated_delta_rule_recurrent
from impl.rules.linear_attention.chunk import linear_attention_chunk
from impl.rules.linear_attention.parallel import linear_attention_parallel
from impl.rules.linear_attention.recurrent import linear_attention_recurrent
from impl.rules.longhorn.chunk import longhorn_chunk
from impl.rules.longhorn.parallel import longhorn_parallel
from impl.rules.longhorn.recurrent import longhorn_recurrent
from impl.rules.rls.chunk import rls_chunk
from impl.rules.rls.parallel import rls_parallel
from impl.rules.rls.recurrent import rls_recurrent
from impl.rules.softmax_attention.chunk import softmax_attention_chunk
from impl.rules.softmax_attention.parallel import softmax_attention_parallel
from impl.rules.softmax_attention.recurrent import softmax_attention_recurrent
from impl.rules.ttt.chunk import ttt_chunk
from impl.rules.ttt.parallel import ttt_parallel
from impl.rules.ttt.recurrent import ttt_recurrent


@dataclass(frozen=True)
class Extra:
    """A per-token input [B, H, T] (or [B, H, T, d_k] when ``per_channel``) and its allowed closed/open range."""

    name: str
    low: float
    high: float
    low_open: bool = False
    per_channel: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    forms: Mapping[str, Callable]
    extras: tuple[Extra, ...] = ()
    kwargs: Mapping[str, float] = field(default_factory=dict)
    state: str = "matrix"  # "matrix": S [B,H,d_v,d_k]; "pair": a tuple (see the rule's docstring); "cache": KV cache
    module: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.forms)


def _forms(r, p, c):
    return {"recurrent": r, "parallel": p, "chunk": c}


BETA = Extra("beta", 0.0, 2.0)
GATE = Extra("g", 0.0, 1.0, low_open=True)

RULES: dict[str, Rule] = {
    "linear": Rule("linear", "linear attention", _forms(linear_attention_recurrent, linear_attention_parallel, linear_attention_chunk), module="impl.rules.linear_attention"),
    "retnet": Rule("retnet", "RetNet / Mamba2 (scalar decay gate)", _forms(decay_recurrent, decay_parallel, decay_chunk), (GATE,), module="impl.rules.decay"),
    "gla": Rule("gla", "GLA (per-channel decay gate)", _forms(decay_recurrent, decay_parallel, decay_chunk), (Extra("g", 0.0, 1.0, low_open=True, per_channel=True),), module="impl.rules.decay"),
    "deltanet": Rule("deltanet", "DeltaNet", _forms(delta_rule_recurrent, delta_rule_parallel, delta_rule_chunk), (BETA,), module="impl.rules.deltanet"),
    "gated_deltanet": Rule("gated_deltanet", "Gated DeltaNet", _forms(gated_delta_rule_recurrent, gated_delta_rule_parallel, gated_delta_rule_chunk), (BETA, GATE), module="impl.rules.gated_deltanet"),
    "longhorn": Rule("longhorn", "Longhorn / implicit delta rule", _forms(longhorn_recurrent, longhorn_parallel, longhorn_chunk), (Extra("beta", 0.0, 10.0),), module="impl.rules.longhorn"),
    "ttt": Rule("ttt", "TTT-linear / Titans (momentum, weight decay)", _forms(ttt_recurrent, ttt_parallel, ttt_chunk),
                (Extra("theta", 0.0, 2.0), Extra("eta", 0.0, 1.0), Extra("alpha", 0.0, 1.0)), state="pair", module="impl.rules.ttt"),
    "rls": Rule("rls", "RLS / MesaNet (ridge regression)", _forms(rls_recurrent, rls_parallel, rls_chunk), kwargs={"lam": 1.0}, state="pair", module="impl.rules.rls"),
    "softmax": Rule("softmax", "softmax attention (Nadaraya-Watson)", _forms(softmax_attention_recurrent, softmax_attention_parallel, softmax_attention_chunk), state="cache", module="impl.rules.softmax_attention"),
}


def get_rule(name: str) -> Rule:
    if not isinstance(name, str) or name not in RULES:
        raise InputError("rule", f"unknown update rule {name!r}; known: {', '.join(RULES)}")
    return RULES[name]
