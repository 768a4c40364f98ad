"""Numerical comparisons between the forms of an update rule (docs/CLAIMS.md U2), values and gradients.

``compare_forms`` runs every form of a rule on the same inputs and returns, per form, the largest absolute
difference from the recurrent ground truth in the outputs, the final state and (optionally) the gradients of a
fixed random linear functional of (outputs, final state) with respect to every input; together with the
magnitudes those differences should be measured against.
"""

from __future__ import annotations

import torch

from impl.numerics.device import generator
from impl.rules.data import draw_inputs
from impl.rules.registry import Rule


def _flat(x):
    if x is None:
        return []
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in _flat(z)]
    return [x]


def _run(form, args, kwargs, chunk, weights_seed, grads):
    args = [a.detach().clone().requires_grad_(grads) for a in args]
    state = kwargs["initial_state"]
    state_leaves = [s.detach().clone().requires_grad_(grads) for s in _flat(state)]
    if isinstance(state, tuple):
        state = tuple(state_leaves)
    elif state is not None:
        state = state_leaves[0]
    kw = dict(kwargs, initial_state=state, output_final_state=True)
    if chunk is not None:
        kw["chunk_size"] = chunk
    o, final = form(*args, **kw)
    outs = [o] + _flat(final)
    if not grads:
        return [x.detach() for x in outs], []
    gen = generator(weights_seed)
    loss = sum((x * torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x)).sum() for x in outs)
    leaves = args + state_leaves
    gs = torch.autograd.grad(loss, leaves, allow_unused=True)
    gs = [torch.zeros_like(l) if g is None else g for g, l in zip(gs, leaves)]
    return [x.detach() for x in outs], list(gs)


def compare_forms(rule: Rule, params, seed, *, device="cpu", dtype="float64", grads=True, forms=None,
                  reference_dtype=None):
    """Returns {form: {"value_err", "grad_err", "value_mag", "grad_mag", "value_rel_rms", "grad_rel_rms"}}
    (``*_rel_rms`` = RMS of the difference / max(RMS of the reference, 1)).

    The reference is the recurrent form in ``reference_dtype`` (default: ``dtype``) on the inputs rounded to
    ``dtype`` (so input rounding is not counted as a form's error). ``forms`` maps names to callables
    (default: the rule's parallel and chunk forms)."""
    args, kwargs = draw_inputs(rule, params, seed, device=device, dtype=dtype)
    chunk = params.get("chunk", 4)
    forms = forms or {n: f for n, f in rule.forms.items() if n != "recurrent"}
    ref_dtype = reference_dtype or args[0].dtype
    cast = lambda x: None if x is None else (tuple(cast(y) for y in x) if isinstance(x, tuple) else x.to(ref_dtype))
    ref_out, ref_grad = _run(rule.forms["recurrent"], [a.to(ref_dtype) for a in args],
                             dict(kwargs, initial_state=cast(kwargs["initial_state"])), None, seed + 1, grads)
    report = {}
    for name, form in forms.items():
        out, gr = _run(form, args, kwargs, chunk if "chunk" in name else None, seed + 1, grads)
        entry = {}
        for kind, a_list, r_list in (("value", out, ref_out), ("grad", gr, ref_grad)):
            if not r_list:
                continue
            if any(a.shape != r.shape for a, r in zip(a_list, r_list)):
                entry.update({f"{kind}_err": float("inf"), f"{kind}_mag": 0.0, f"{kind}_rel_rms": float("inf"),
                              f"{kind}_finite": True})
                continue
            diffs = [(a.to(torch.float64) - r.to(torch.float64)) for a, r in zip(a_list, r_list)]
            entry[f"{kind}_err"] = max(float(d.abs().max()) if d.numel() else 0.0 for d in diffs)
            entry[f"{kind}_mag"] = max(float(r.abs().max()) if r.numel() else 0.0 for r in r_list)
            count = max(1, sum(d.numel() for d in diffs))
            rms_diff = (sum(float((d**2).sum()) for d in diffs) / count) ** 0.5
            rms_ref = (sum(float((r.to(torch.float64) ** 2).sum()) for r in r_list) / count) ** 0.5
            # relative to max(RMS of the reference, 1): inputs are O(1), so 1 is the scale of the terms that may
            # cancel in a small result (e.g. a gradient that happens to be 0.04); the float64 check floors the same way
            entry[f"{kind}_rel_rms"] = rms_diff / max(rms_ref, 1.0)
            entry[f"{kind}_finite"] = all(bool(torch.isfinite(a).all()) for a in a_list)
        report[name] = entry
    return report


def conditioning(rule: Rule, params, seed, *, dtype="float64"):
    """Factors by which round-off is amplified for this rule on these inputs, {"value": f, "grad": f} (each >= 1):

    - gated rules form decays as exp(L_t - L_j) from cumulative log-gates L. An absolute error u x in the exponent
      x = |L_t - L_j| is an absolute error u x e^{-x} <= u / e in the decay itself, so values need no factor; but
      the gradient with respect to a gate, G_tj / a_s per term, keeps the RELATIVE error u x: gradient factor
      1 + max_t sum_{s<=t} |log a_s|;
    - RLS solves with R_t = P_0^{-1} + sum k k^T: factor cond_2(R_T) * cond_2(P_0) (bounds every cond_2(R_t)),
      values and gradients.
    """
    args, kwargs = draw_inputs(rule, params, seed, dtype="float64")
    value, grad = 1.0, 1.0
    for extra, x in zip(rule.extras, args[3:]):
        if extra.name == "g":
            grad = max(grad, 1.0 + float(torch.log(x).abs().cumsum(2).max()))
    if rule.name == "rls":
        k = args[1]
        P0 = kwargs["initial_state"][1] if kwargs["initial_state"] is not None else \
            torch.eye(k.shape[-1], dtype=torch.float64) / rule.kwargs["lam"]
        R = torch.linalg.inv(P0) + (k.transpose(-1, -2) @ k)
        value = grad = float(torch.linalg.cond(R).max() * torch.linalg.cond(P0).max())
    return {"value": value, "grad": grad}
