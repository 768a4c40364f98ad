"""What the conformance run draws: a *case* is a small dict of structure (shapes, key and input regimes, state on
or off, scale, chunk size, dtype, seed), drawn and shrunk by Hypothesis; the tensors are derived from it with a
seeded float64 generator (``make_inputs``), so a case printed in a report replays exactly.

Regimes (the awkward inputs fla's fixed-seed tests miss): T = 1 and T not a multiple of the chunk size, odd d,
keys ``unit`` / ``gauss`` (N(0, I/d)) / ``zero`` (a third of them 0) / ``repeated`` (period 2) / ``tiny`` (unit keys
times 1e-6); per-token inputs ``mid`` / ``low`` / ``high`` (within 1 % of an end) / ``ends`` (exactly at the closed
ends: b in {0, max}, a = 1) and, for log-gate peers, ``tiny`` gates a = exp(-120 .. -60) that underflow in float32;
initial state on and off.
"""

from __future__ import annotations

import torch

from assocmem.conformance.adapter import Adapter
from assocmem.conformance.rules import ConformanceRule

INPUT_MODES = ("mid", "low", "high", "ends")


def strategy(rule: ConformanceRule, adapter: Adapter, dtype: str):
    """A Hypothesis strategy of cases for ``rule`` as the ``adapter``'s peer accepts them, in ``dtype``."""
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        case = {"dtype": dtype, "B": draw(st.integers(1, 2)), "H": draw(st.integers(1, 2))}
        if adapter.chunk == "multiple":
            chunk = draw(st.sampled_from(adapter.chunk_sizes))
            case["T"] = chunk * draw(st.integers(1, max(1, adapter.max_T // chunk)))
            case["chunk"] = chunk
        else:
            case["T"] = draw(st.integers(1, adapter.max_T))
            if adapter.chunk:
                case["chunk"] = draw(st.sampled_from(adapter.chunk_sizes))
        case["d_k"] = draw(st.integers(1, adapter.max_d))
        case["d_v"] = case["d_k"] if (rule.same_dims or adapter.same_dims or rule.feature_map) else draw(st.integers(1, adapter.max_d))
        case["keys"] = draw(st.sampled_from(rule.key_modes))
        if rule.inputs:
            modes = INPUT_MODES
            if any(i.kind == "gate" for i in rule.inputs) and (adapter.gates == "log" or dtype == "float64"):
                modes = modes + ("tiny",)
            case["inputs"] = draw(st.sampled_from(modes))
        if rule.state and adapter.initial_state:
            case["state"] = draw(st.booleans())
        if adapter.scale == "arg" and not rule.feature_map:
            case["scale"] = draw(st.sampled_from((1.0, 0.5, 0.25)))
        if rule.block:
            case["block"] = draw(st.integers(1, 4))
        case["seed"] = draw(st.integers(0, 2**16))
        return case

    return cases()


def _keys(shape, mode, gen):
    from impl.rules.data import draw_keys

    if mode == "tiny":
        return 1e-6 * draw_keys(shape, "unit", gen)
    return draw_keys(shape, mode, gen)


def _input(spec, shape, mode, gen):
    """Float64 values of one per-token input; a gate is returned as its log (log a <= 0)."""
    if spec.kind == "gate":
        u = torch.rand(shape, generator=gen, dtype=torch.float64)
        lo = {"mid": 0.05, "low": 1e-4, "high": 0.99}.get(mode)
        if mode == "ends":
            return torch.zeros(shape, dtype=torch.float64)
        if mode == "tiny":
            return -60.0 - 60.0 * u
        hi = 1e-2 if mode == "low" else 1.0
        return torch.log(lo + (hi - lo) * u)
    from impl.rules.data import draw_extra

    return draw_extra(spec, shape, "mid" if mode == "tiny" else mode, gen)  # "tiny" is for the gates


def make_inputs(rule: ConformanceRule, case: dict) -> dict:
    """The case's tensors in float64 (suite conventions; gates as log a under ``log_<name>``)."""
    gen = torch.Generator().manual_seed(int(case["seed"]))
    B, H, T, d_k, d_v = (case[x] for x in ("B", "H", "T", "d_k", "d_v"))
    x = {"q": torch.randn((B, H, T, d_k), generator=gen, dtype=torch.float64)}
    if rule.feature_map:
        x["k"] = torch.randn((B, H, T, d_k), generator=gen, dtype=torch.float64)
        return x
    x["k"] = _keys((B, H, T, d_k), case["keys"], gen)
    x["v"] = torch.randn((B, H, T, d_v), generator=gen, dtype=torch.float64)
    for spec in rule.inputs:
        shape = (B, H, T, d_k) if spec.per_channel else (B, H, T)
        val = _input(spec, shape, case["inputs"], gen)
        x[("log_" if spec.kind == "gate" else "") + spec.name] = val
    for p in rule.params:
        x[p] = torch.randn((H, d_k), generator=gen, dtype=torch.float64)
    if case.get("state"):
        x["initial_state"] = torch.randn((B, H, d_v, d_k), generator=gen, dtype=torch.float64)
    return x


def n_terms(rule: ConformanceRule, case: dict) -> int:
    """Terms per output entry (sequence, key and value contractions): the n of the gamma_n round-off bound."""
    if rule.feature_map:
        return 4 * case["d_k"]
    return case["T"] + case["d_k"] + case["d_v"]


def describe(case: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in case.items())


__all__ = ["strategy", "make_inputs", "n_terms", "describe"]
