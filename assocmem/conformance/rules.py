"""The rules another implementation can be checked against, each with its float64 oracle (the recurrent ground
truth of ``impl/rules/<family>/recurrent.py``, DeltaFormer's recurrence, or an exact feature map).

An oracle takes the drawn inputs in the suite's conventions (float64, head-first, gates a in (0, 1], state
S [B, H, d_v, d_k]) as one dict and returns (o, final state or None). ``inputs`` lists the per-token inputs in the
order the rule defines them, with their ranges; ``params`` the per-head parameters [H, d] (a LayerNorm's weight and
bias); ``block`` names a semantic block size (TTT's mini-batch), drawn and passed to both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from impl.numerics.errors import InputError


@dataclass(frozen=True)
class Input:
    """A per-token input [B, H, T] (or [B, H, T, d_k] when ``per_channel``) in [low, high]; kind "gate" is a decay
    gate a in (0, high] (drawn in log space: a peer may take log a), kind "rate" a learning rate or similar."""

    name: str
    low: float
    high: float
    kind: str = "rate"
    per_channel: bool = False
    low_open: bool = False  # (rates are closed ranges; read by impl.rules.data.draw_extra)


@dataclass(frozen=True)
class ConformanceRule:
    name: str
    title: str
    oracle: Callable[[dict], tuple]
    inputs: tuple[Input, ...] = ()
    params: tuple[str, ...] = ()
    state: bool = True
    same_dims: bool = False
    block: str | None = None
    key_modes: tuple[str, ...] = ("unit", "gauss", "zero", "repeated", "tiny")
    feature_map: str | None = None  # for feature-map rules: the exact map of impl.memories.kernels
    reference: str = ""
    notes: str = ""


def _matrix(fn):
    def oracle(x):
        extras = [x[i.name] for i in x["rule"].inputs]
        return fn(x["q"], x["k"], x["v"], *extras, scale=x["scale"], initial_state=x.get("initial_state"),
                  output_final_state=True)

    return oracle


def _deltaformer(x):
    from impl.deltaformer.recurrent import deltaformer_recurrent

    w = x["q"] if x["options"].get("w") == "q" else None
    o = deltaformer_recurrent(x["q"], x["k"], x["v"], x["beta"], w=w, kernel="softmax", scale=x["scale"],
                              beta_scales_v=bool(x["options"].get("beta_scales_v")))
    return o, None


def _softmax(x):
    from impl.rules.softmax_attention.recurrent import softmax_attention_recurrent

    o, _ = softmax_attention_recurrent(x["q"], x["k"], x["v"], scale=x["scale"])
    return o, None


def _ttt_ln(x):
    from impl.rules.ttt.layernorm import ttt_linear_ln_recurrent

    o, _ = ttt_linear_ln_recurrent(x["q"], x["k"], x["v"], x["eta"], x["ln_w"], x["ln_b"], scale=x["scale"],
                                   mini_batch=x["block"])
    return o, None


def _titans_ln(x):
    from impl.rules.ttt.layernorm import titans_ln_recurrent

    o, _ = titans_ln_recurrent(x["q"], x["k"], x["v"], x["theta"], x["alpha"], x["eta"], x["ln_w"], x["ln_b"],
                               mini_batch=x["block"])
    return o, None


def _feature_map(name):
    def oracle(x):
        from impl.memories.kernels import features

        return features(name, x["q"]), None

    return oracle


def _rules() -> dict[str, ConformanceRule]:
    from impl.rules.decay.recurrent import decay_recurrent
    from impl.rules.deltanet.recurrent import delta_rule_recurrent
    from impl.rules.gated_deltanet.recurrent import gated_delta_rule_recurrent
    from impl.rules.linear_attention.recurrent import linear_attention_recurrent

    beta = Input("beta", 0.0, 2.0)
    gate = Input("g", 0.0, 1.0, kind="gate")
    delta_keys = ("unit", "zero", "repeated", "tiny")  # ||k|| <= 1: b in [0, 2] keeps the transition a contraction
    rules = [
        ConformanceRule("linear", "linear attention", _matrix(linear_attention_recurrent),
                        reference="impl/rules/linear_attention/recurrent.py"),
        ConformanceRule("scalar_decay", "scalar decay (RetNet, Mamba2, simple GLA)", _matrix(decay_recurrent), (gate,),
                        reference="impl/rules/decay/recurrent.py"),
        ConformanceRule("gla", "per-channel decay (GLA)", _matrix(decay_recurrent),
                        (Input("g", 0.0, 1.0, kind="gate", per_channel=True),), reference="impl/rules/decay/recurrent.py"),
        ConformanceRule("deltanet", "DeltaNet", _matrix(delta_rule_recurrent), (beta,), key_modes=delta_keys,
                        reference="impl/rules/deltanet/recurrent.py"),
        ConformanceRule("gated_deltanet", "Gated DeltaNet", _matrix(gated_delta_rule_recurrent), (beta, gate),
                        key_modes=delta_keys, reference="impl/rules/gated_deltanet/recurrent.py"),
        ConformanceRule("softmax", "causal softmax attention", _softmax, state=False,
                        reference="impl/rules/softmax_attention/recurrent.py"),
        ConformanceRule("deltaformer", "DeltaFormer (softmax kernels)", _deltaformer, (Input("beta", 0.0, 1.0),),
                        state=False, reference="impl/deltaformer/recurrent.py",
                        notes="adapter w=k (the paper's kappa1(k_t, k_j)) or w=q (flash-linear-attention's)"),
        ConformanceRule("ttt_ln", "TTT-Linear with LayerNorm (mini-batch gradient descent)", _ttt_ln,
                        (Input("eta", 0.0, 1.0),), params=("ln_w", "ln_b"), state=False, same_dims=True,
                        block="mini_batch", reference="impl/rules/ttt/layernorm.py (gradients by autograd)"),
        ConformanceRule("titans_ln", "Titans with LayerNorm (momentum, weight decay)", _titans_ln,
                        (Input("theta", 0.0, 0.5), Input("alpha", 0.0, 1.0), Input("eta", 0.0, 1.0)),
                        params=("ln_w", "ln_b"), state=False, same_dims=True, block="mini_batch",
                        reference="impl/rules/ttt/layernorm.py (gradients by autograd)"),
    ]
    for fm in ("dpfp", "elu1", "taylor"):
        rules.append(ConformanceRule(f"feature_map:{fm}", f"feature map {fm} (compared through its kernel)",
                                     _feature_map(fm), state=False, feature_map=fm, key_modes=("gauss",),
                                     reference="impl/memories/kernels.py"))
    return {r.name: r for r in rules}


_RULES: dict[str, ConformanceRule] = {}


def rules() -> dict[str, ConformanceRule]:
    if not _RULES:
        _RULES.update(_rules())
    return _RULES


def get(name: str) -> ConformanceRule:
    if not isinstance(name, str) or name not in rules():
        raise InputError("--rule", f"unknown rule {name!r}; known: {', '.join(rules())}")
    return rules()[name]


__all__ = ["ConformanceRule", "Input", "rules", "get"]
