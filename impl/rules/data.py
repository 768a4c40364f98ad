"""Seeded inputs for the update rules of ``impl/rules/registry.py``: queries, keys, values, per-token extras, state.

Drawn on the CPU in float64 (house rule), then moved. ``keys`` picks the key distribution:

- ``unit``: Gaussian directions, ||k|| = 1 (what fla's ``use_qk_l2norm`` gives; the delta rule's eigenvalue facts
  assume it);
- ``gauss``: k ~ N(0, I / d_k) (norm about 1, not exactly);
- ``zero``: unit keys with about a third of them set to 0 (a token that writes nothing for the delta rule);
- ``repeated``: unit keys that repeat with period 2 (k_t = k_{t mod 2}): the same slot written again and again.

``extras`` places the per-token inputs in their allowed range: ``mid`` (uniform over the range, gates in
[0.05, 1]), ``low`` / ``high`` (within 1 % of the lower / upper end; open gates as small as 1e-4), ``ends``
(exactly at the ends where they are closed, e.g. b in {0, 2}, gate 1).
"""

from __future__ import annotations

import torch

from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError
from impl.rules.registry import Rule

KEY_MODES = ("unit", "gauss", "zero", "repeated")
EXTRA_MODES = ("mid", "low", "high", "ends")


def draw_keys(shape, mode, gen):
    B, H, T, d = shape
    if mode not in KEY_MODES:
        raise InputError("keys", f"must be one of {KEY_MODES}, got {mode!r}")
    k = torch.randn(shape, generator=gen, dtype=torch.float64)
    if mode == "gauss":
        return k / d**0.5
    k = k / k.norm(dim=-1, keepdim=True)
    if mode == "zero":
        keep = torch.rand((B, H, T, 1), generator=gen, dtype=torch.float64) > 1 / 3
        k = k * keep
    elif mode == "repeated":
        k = k[:, :, :2].repeat(1, 1, (T + 1) // 2, 1)[:, :, :T]
    return k


def draw_extra(extra, shape, mode, gen):
    if mode not in EXTRA_MODES:
        raise InputError("extras", f"must be one of {EXTRA_MODES}, got {mode!r}")
    lo, hi = extra.low, extra.high
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    if extra.low_open:
        lo_eff = 1e-4 if mode == "low" else 0.05
    else:
        lo_eff = lo
    if mode == "mid":
        return lo_eff + (hi - lo_eff) * u
    if mode == "low":
        return lo_eff + (hi - lo) * 1e-2 * u
    if mode == "high":
        return hi - (hi - lo) * 1e-2 * u
    ends = torch.where(u < 0.5, torch.full_like(u, hi), torch.full_like(u, lo))
    return ends if not extra.low_open else torch.full_like(u, hi)  # an open end is never hit


def draw_inputs(rule: Rule, params, seed, *, device="cpu", dtype="float64"):
    """(args, kwargs) for ``rule.forms[...]``: args = (q, k, v, *extras), kwargs = scale, initial_state, rule kwargs."""
    gen = generator(seed)
    B, H, T, d_k, d_v = (params[x] for x in ("B", "H", "T", "d_k", "d_v"))
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    q = torch.randn((B, H, T, d_k), generator=gen, dtype=torch.float64)
    k = draw_keys((B, H, T, d_k), params.get("keys", "unit"), gen)
    v = torch.randn((B, H, T, d_v), generator=gen, dtype=torch.float64)
    extras = []
    for e in rule.extras:
        shape = (B, H, T, d_k) if e.per_channel else (B, H, T)
        extras.append(draw_extra(e, shape, params.get("extras", "mid"), gen))
    state = None
    if params.get("state", False):
        if rule.state == "matrix":
            state = torch.randn((B, H, d_v, d_k), generator=gen, dtype=torch.float64)
        elif rule.name == "ttt":
            state = (torch.randn((B, H, d_v, d_k), generator=gen, dtype=torch.float64),
                     0.1 * torch.randn((B, H, d_v, d_k), generator=gen, dtype=torch.float64))
        elif rule.name == "rls":
            X = torch.randn((B, H, d_k, d_k), generator=gen, dtype=torch.float64)
            P = torch.linalg.inv(X @ X.transpose(-1, -2) / d_k + torch.eye(d_k, dtype=torch.float64))
            state = (torch.randn((B, H, d_v, d_k), generator=gen, dtype=torch.float64), P)
        elif rule.state == "cache":
            T0 = 1 + int(torch.randint(0, 4, (1,), generator=gen))
            state = (draw_keys((B, H, T0, d_k), params.get("keys", "unit"), gen) if params.get("keys") != "repeated"
                     else draw_keys((B, H, T0, d_k), "unit", gen),
                     torch.randn((B, H, T0, d_v), generator=gen, dtype=torch.float64))
    move = lambda x: None if x is None else (tuple(move(y) for y in x) if isinstance(x, tuple) else x.to(dev, dt))
    kwargs = {"scale": float(params.get("scale", 1.0)), "initial_state": move(state)}
    kwargs.update(rule.kwargs)
    return [move(x) for x in (q, k, v, *extras)], kwargs
