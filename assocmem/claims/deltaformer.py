"""docs/CLAIMS.md D1-D2: DeltaFormer's forms and identities, and its reductions.

The D3 constructions and obstructions (per kernel) live in ``assocmem/claims/deltaformer_constructions.py``, the
training experiments (D4, D5) and the DeltaFormer section of the report in ``assocmem/claims/deltaformer_tasks.py``.
"""

from __future__ import annotations

import functools
import math

import sympy as sp
import torch

from assocmem.registry import Claim, Result, Step, register

MODULES = ("theory.deltaformer", "impl.deltaformer.recurrent", "impl.deltaformer.parallel",
           "impl.deltaformer.chunk", "impl.deltaformer.kernels", "impl.deltaformer._inputs",
           "impl.rules.deltanet.recurrent",
            "impl.rules.inputs", "impl.numerics.solves")  # closed under imports: tests/test_report.py


# ----------------------------------------------------------------------------------------------------------------
# shared helpers


def _inputs(p, seed, device, dtype):
    """q, k, w, v, beta drawn on the CPU in float64 from ``seed``, then moved (house rule)."""
    from impl.numerics.device import generator, resolve_device, resolve_dtype

    g = generator(seed)
    B, H, T, dk, dv = p["batch"], p["heads"], p["T"], p["d_k"], p["d_v"]
    q, k, w = (torch.randn(B, H, T, dk, generator=g, dtype=torch.float64) for _ in range(3))
    v = torch.randn(B, H, T, dv, generator=g, dtype=torch.float64)
    beta = p["b_max"] * torch.rand(B, H, T, generator=g, dtype=torch.float64)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    return [x.to(device=dev, dtype=dt) for x in (q, k, w, v, beta)]


def _nc(name):
    """A non-commuting symbol (matrices in the report's formulas)."""
    return sp.Symbol(name, commutative=False)


def _w_of(mode, q, k, w):
    return {"k": None, "q": q, "separate": w}[mode]


def forward_error_bound(A, B, rhs, d, dtype, s_max: float = 0.0) -> float:
    """Round-off bound for O = A (I + B)^{-1} V' computed by any of the forms, from the float64 CPU matrices.

    Higham (Accuracy and Stability, Thm 8.5): a triangular solve returns U + dU with
    |dU| <= gamma_T |L^{-1}| |L| |U|, L = I + B. The kernel entries themselves carry a relative error of about
    (d + 4 + s_max) u (a d-term dot product, a logsumexp, and exp's amplification of the score error s_max u),
    which enters through the same |L^{-1}| |L| |U| term; the product with A adds gamma_T |A| |U|. Two forms are
    compared, so the bound on their difference is twice one form's; a further factor 2 covers the constants
    dropped from gamma_n = n u / (1 - n u) and from the chunked form's extra summation order. Hence
    tol = 4 (T + d + 4 + s_max) u max(|A| (|L^{-1}| |L| |U| + |U|)).
    """
    from impl.numerics.device import unit_roundoff

    A, B, rhs = (x.detach().to("cpu", torch.float64) for x in (A, B, rhs))
    T = B.shape[-1]
    eye = torch.eye(T, dtype=torch.float64)
    L = eye + B
    Linv = torch.linalg.solve_triangular(L, eye.expand_as(L).contiguous(), upper=False, unitriangular=True)
    U = Linv @ rhs
    mag = A.abs() @ (Linv.abs() @ (L.abs() @ U.abs()) + U.abs())
    return 4 * (T + d + 4 + s_max) * unit_roundoff(dtype) * float(mag.max()) if mag.numel() else 0.0


def _score_max(x, y, scale) -> float:
    """max |scale x^T y| over all pairs: the exponent whose round-off exp amplifies."""
    return float((scale * (x @ y.transpose(-1, -2))).abs().max()) if x.numel() else 0.0


def _forms_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "batch": st.integers(1, 2), "heads": st.integers(1, 2), "T": st.integers(1, 40),
        "d_k": st.integers(1, 8), "d_v": st.integers(1, 6),
        "kernel": st.sampled_from(("softmax", "exp", "linear")),
        "kernel_w": st.sampled_from(("softmax", "exp", "linear")),
        "w": st.sampled_from(("k", "q", "separate")), "beta_scales_v": st.booleans(),
        "chunk": st.integers(1, 16), "b_max": st.sampled_from((1.0, 2.0)),
    })


def _scale(kernel, d):
    # exponential kernels: the usual 1/sqrt(d); linear: a smaller scale keeps the unnormalised solve well scaled
    return 1.0 / math.sqrt(d) if kernel != "linear" else 0.5 / math.sqrt(d)


# ----------------------------------------------------------------------------------------------------------------
# D1.forms


def run_forms(p, seed, *, device="cpu", dtype="float64", mutant=False):
    """Recurrent (ground truth) against parallel and chunked forms at one point; max abs difference vs the bound."""
    from impl.deltaformer import (
        deltaformer_chunk,
        deltaformer_parallel,
        deltaformer_recurrent,
        kernel_matrices,
    )
    from impl.numerics.device import resolve_dtype

    q, k, w, v, beta = _inputs(p, seed, device, dtype)
    kw = dict(w=_w_of(p["w"], q, k, w), kernel=p["kernel"], kernel_w=p["kernel_w"], scale=_scale(p["kernel"], p["d_k"]),
              scale_w=_scale(p["kernel_w"], p["d_k"]), beta_scales_v=p["beta_scales_v"])
    ref = deltaformer_recurrent(q, k, v, beta, **kw)
    if mutant:
        # wrong convention: kappa1's causal set j <= t (B with its diagonal) instead of j < t
        from impl.deltaformer.kernels import causal_kernel_matrix

        wk = k if kw["w"] is None else kw["w"]
        A = causal_kernel_matrix(q, k, p["kernel"], kw["scale"], strict=False)
        Bm = beta.unsqueeze(-1) * causal_kernel_matrix(wk, k, p["kernel_w"], kw["scale_w"], strict=False)
        rhs = beta.unsqueeze(-1) * v if p["beta_scales_v"] else v
        others = [A @ torch.linalg.solve(torch.eye(p["T"], dtype=A.dtype, device=A.device) + Bm, rhs)]
    else:
        others = [deltaformer_parallel(q, k, v, beta, **kw), deltaformer_chunk(q, k, v, beta, chunk_size=p["chunk"], **kw)]
    A, B = kernel_matrices(q, k, v, beta, w=kw["w"], kernel=p["kernel"], kernel_w=p["kernel_w"], scale=kw["scale"],
                           scale_w=kw["scale_w"])
    rhs = beta.unsqueeze(-1) * v if p["beta_scales_v"] else v
    wk = k if kw["w"] is None else kw["w"]
    s_max = max(_score_max(q, k, kw["scale"]), _score_max(wk, k, kw["scale_w"]))
    tol = forward_error_bound(A, B, rhs, p["d_k"], resolve_dtype(dtype), s_max)
    err = max(float((o - ref).abs().max()) for o in others)
    finite = all(bool(torch.isfinite(o).all()) for o in [ref, *others])
    return Result("D1.forms", dict(p), seed, passed=finite and err <= tol, error=err, tolerance=tol,
                  note="" if finite else "non-finite output")


FORMS_POWER = [
    {"batch": 1, "heads": 1, "T": T, "d_k": 4, "d_v": 3, "kernel": kern, "kernel_w": kern, "w": "k",
     "beta_scales_v": False, "chunk": 4, "b_max": 1.0}
    for T, kern in ((8, "softmax"), (16, "softmax"), (12, "linear"))
]

register(Claim(
    id="D1.forms", title="DeltaFormer: recurrence, matrix form and chunked form agree", tag="paper",
    ref="§2.2.1, Appendix D (chunk-wise computation with triangular matrix inversion)",
    statement="For every kernel pair (softmax normalised over the causal prefix, unnormalised exp, linear), "
              "w in {k, q, separate}, values plain or b-scaled, b in [0, b_max], any T and any chunk size, the "
              "recurrence u_t = v_t - b_t sum_{j<t} kappa1(w_t,k_j) u_j, o_t = sum_{j<=t} kappa2(q_t,k_j) u_j, the "
              "matrix form O = A (I + B)^{-1} V and the chunked form (one triangular solve per chunk) agree within "
              "the round-off bound 4 (T + d + 4 + s_max) u max(|A|(|L^-1||L||U| + |U|)).",
    kind="identity",
    convention="B strictly lower triangular, rows scaled by b and (softmax) normalised over j < t; A lower "
               "triangular, rows normalised over j <= t; row 0 of B is empty (u_0 = v_0).",
    formula=lambda: sp.Eq(_nc("O"), _nc("A") * (_nc("I") + _nc("B")) ** -1 * _nc("V")),
    run=run_forms, mutant=functools.partial(run_forms, mutant=True),
    mutant_says="kappa1 normalised over j <= t (B with its diagonal) instead of j < t",
    strategy=_forms_strategy,
    grid=[{"batch": 2, "heads": 2, "T": T, "d_k": 16, "d_v": 16, "kernel": kern, "kernel_w": kern, "w": wm,
           "beta_scales_v": False, "chunk": 16, "b_max": 1.0}
          for T in (64, 257) for kern in ("softmax", "linear") for wm in ("k", "q")],
    quick_grid=[{"batch": 1, "heads": 2, "T": 65, "d_k": 8, "d_v": 8, "kernel": "softmax", "kernel_w": "softmax",
                 "w": "k", "beta_scales_v": False, "chunk": 16, "b_max": 1.0}],
    power_grid=FORMS_POWER, modules=MODULES,
))


# ----------------------------------------------------------------------------------------------------------------
# D1.neumann


def _neumann_derivation(T=4):
    from theory.deltaformer import hop_paths, neumann_sum, strictly_lower

    B = strictly_lower(T)
    I = sp.eye(T)
    inv = (I + B).inv()
    steps = [Step(f"B is nilpotent: B^{T} = 0 for a strictly lower triangular {T}x{T} B", B**T, sp.zeros(T)),
             Step(f"(I + B) sum_(n<{T}) (-B)^n = I", sp.expand((I + B) * neumann_sum(B)), I)]
    hops = sp.Matrix(T, T, lambda a, b: hop_paths(B, a, b))
    steps.append(Step("each entry of (I + B)^{-1} is the sum over backward hop chains of prod(-B)", inv, hops))
    return steps


def run_neumann(p, seed, *, device="cpu", dtype="float64", drop_last=False):
    """(I + B)^{-1} V by a triangular solve against sum_{n<T} (-B)^n V (optionally dropping the last hop)."""
    from impl.deltaformer import kernel_matrices, neumann_apply
    from impl.numerics.device import resolve_dtype, unit_roundoff

    q, k, w, v, beta = _inputs(p, seed, device, dtype)
    A, B = kernel_matrices(q, k, v, beta, kernel=p["kernel"], scale=_scale(p["kernel"], p["d_k"]))
    T = p["T"]
    eye = torch.eye(T, dtype=B.dtype, device=B.device)
    U = torch.linalg.solve_triangular(eye + B, v, upper=False, unitriangular=True)
    total, terms = neumann_apply(B, v)
    if drop_last and T > 1:
        total = total - terms[-1]
    # Each hop term is a product of n <= T-1 matrices of T-term sums: relative error <= n T u in |B|^n |V|; summing
    # T terms adds T u. The solve's own error is bounded the same way (|L^-1||L||U| <= sum_n |B|^n |V| here, as
    # |L^-1| <= sum_n |B|^n entrywise). Factor 2 for the two computations: tol = 2 T (T + 1) u max(sum_n |B|^n |V|).
    absB = B.abs().to("cpu", torch.float64)
    term, mag = v.abs().to("cpu", torch.float64), v.abs().to("cpu", torch.float64).clone()
    for _ in range(1, T):
        term = absB @ term
        mag = mag + term
    tol = 2 * T * (T + 1) * unit_roundoff(resolve_dtype(dtype)) * float(mag.max())
    err = float((total - U).abs().max())
    last = float(terms[-1].abs().max()) if T > 1 else 0.0
    return Result("D1.neumann", dict(p), seed, passed=err <= tol, error=err, tolerance=tol,
                  extra={"last_hop_max": last})


def _neumann_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"batch": st.integers(1, 2), "heads": st.just(1), "T": st.integers(1, 48),
                                  "d_k": st.integers(1, 8), "d_v": st.integers(1, 4),
                                  "kernel": st.sampled_from(("softmax", "linear")), "b_max": st.sampled_from((1.0, 2.0))})


register(Claim(
    id="D1.neumann", title="(I + B)^{-1} is a finite multi-hop sum", tag="paper", ref="§2.2.1 (multi-hop reading), Appendix D",
    statement="B strictly lower triangular T x T is nilpotent, so (I + B)^{-1} = sum_{n<T} (-B)^n exactly; entry "
              "(t, j) is the sum over chains t > j_1 > ... > j (n hops) of prod(-B). Numerically, the triangular "
              "solve and the T-term series agree within 2 T (T+1) u max(sum_n |B|^n |V|).",
    kind="identity", convention="B = diag(b) * causal kernel matrix over j < t (softmax or linear), V plain",
    formula=lambda: sp.Eq(sp.Symbol("(I+B)^{-1}"), sp.Sum((-sp.Symbol("B")) ** sp.Symbol("n"), (sp.Symbol("n"), 0, sp.Symbol("T") - 1))),
    derivation=_neumann_derivation, run=run_neumann, mutant=functools.partial(run_neumann, drop_last=True),
    mutant_says="series truncated before the last hop (n = T-1 dropped)",
    strategy=_neumann_strategy,
    grid=[{"batch": 1, "heads": 1, "T": T, "d_k": 8, "d_v": 4, "kernel": kern, "b_max": 2.0}
          for T in (16, 64) for kern in ("softmax", "linear")],
    power_grid=[{"batch": 1, "heads": 1, "T": T, "d_k": 4, "d_v": 3, "kernel": "linear", "b_max": 2.0} for T in (3, 6, 10)],
    modules=MODULES,
))


# ----------------------------------------------------------------------------------------------------------------
# D2 reductions


def run_reduction_deltanet(p, seed, *, device="cpu", dtype="float64", plain_v=False):
    """DeltaFormer (linear kernel, w = k, scale_w = 1, b-scaled values) against issue-4's delta rule."""
    from impl.deltaformer import (
        deltaformer_parallel,
        deltaformer_recurrent,
        kernel_matrices,
    )
    from impl.numerics.device import resolve_dtype
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    q, k, w, v, beta = _inputs(p, seed, device, dtype)
    k = k / k.norm(dim=-1, keepdim=True) if p["unit_keys"] else k / math.sqrt(p["d_k"])
    ref, _ = delta_rule_recurrent(q, k, v, beta, scale=p["scale"])
    kw = dict(kernel="linear", scale=p["scale"], scale_w=1.0, beta_scales_v=not plain_v)
    outs = [deltaformer_recurrent(q, k, v, beta, **kw), deltaformer_parallel(q, k, v, beta, **kw)]
    A, B = kernel_matrices(q, k, v, beta, kernel="linear", scale=p["scale"], scale_w=1.0)
    s_max = max(_score_max(q, k, p["scale"]), _score_max(k, k, 1.0))
    tol = forward_error_bound(A, B, beta.unsqueeze(-1) * v, p["d_k"], resolve_dtype(dtype), s_max)
    err = max(float((o - ref).abs().max()) for o in outs)
    return Result("D2.deltanet", dict(p), seed, passed=err <= tol, error=err, tolerance=tol)


def _deltanet_derivation():
    from theory.deltaformer import deltanet_from_u

    return [Step("T = 3, d_k = 2: sum_j u_j k_j^T from the D2 recurrence equals the delta-rule state", *deltanet_from_u(3, 2))]


def _deltanet_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"batch": st.integers(1, 2), "heads": st.integers(1, 2), "T": st.integers(1, 40),
                                  "d_k": st.integers(1, 8), "d_v": st.integers(1, 6), "b_max": st.sampled_from((1.0, 2.0)),
                                  "scale": st.sampled_from((1.0, 0.25)), "unit_keys": st.booleans()})


register(Claim(
    id="D2.deltanet", title="Linear-kernel DeltaFormer with w = k and b-scaled values is DeltaNet", tag="suite",
    ref="docs/CLAIMS.md D2; DeltaNet as in U1 (Schlag et al. 2021; Yang et al. 2024)",
    statement="With kappa1(w,k) = w^T k, kappa2(q,k) = scale q^T k (both unnormalised), w = k and "
              "u_t = b_t v_t - b_t sum_{j<t} (k_t^T k_j) u_j, DeltaFormer's output equals the delta rule "
              "S_t = S_{t-1}(I - b_t k_t k_t^T) + b_t v_t k_t^T, o_t = S_t (scale q_t), within the round-off bound; "
              "symbolically S_t = sum_{j<=t} u_j k_j^T.",
    kind="identity", convention="state S [d_v, d_k], read after the update; keys unit or scaled by 1/sqrt(d_k)",
    formula=lambda: sp.Eq(_nc("S_t"), _nc("S_{t-1}") * (_nc("I") - sp.Symbol("b_t") * _nc("k_t") * _nc("k_t^T"))
                          + sp.Symbol("b_t") * _nc("v_t") * _nc("k_t^T")),
    derivation=_deltanet_derivation,
    run=run_reduction_deltanet, mutant=functools.partial(run_reduction_deltanet, plain_v=True),
    mutant_says="values not scaled by b (u_t = v_t - b_t sum ...): the paper's DeltaFormer update, not DeltaNet's",
    strategy=_deltanet_strategy,
    grid=[{"batch": 2, "heads": 2, "T": T, "d_k": 16, "d_v": 16, "b_max": 2.0, "scale": 0.25, "unit_keys": True} for T in (64, 256)],
    power_grid=[{"batch": 1, "heads": 1, "T": T, "d_k": 4, "d_v": 3, "b_max": 1.0, "scale": 1.0, "unit_keys": True} for T in (4, 9, 20)],
    modules=MODULES,
))


def run_reduction_softmax(p, seed, *, device="cpu", dtype="float64", unnormalised=False):
    """b = 0: DeltaFormer against torch's causal scaled_dot_product_attention (an independent implementation)."""
    from impl.deltaformer import (
        deltaformer_chunk,
        deltaformer_parallel,
        deltaformer_recurrent,
    )
    from impl.numerics.device import resolve_dtype, unit_roundoff

    q, k, w, v, beta = _inputs(p, seed, device, dtype)
    beta = torch.zeros_like(beta)
    scale = 1.0 / math.sqrt(p["d_k"])
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
    kern = "exp" if unnormalised else "softmax"
    outs = [f(q, k, v, beta, w=w, kernel=kern, scale=scale) for f in (deltaformer_recurrent, deltaformer_parallel)]
    outs.append(deltaformer_chunk(q, k, v, beta, w=w, kernel=kern, scale=scale, chunk_size=p["chunk"]))
    # softmax weights carry relative error (d + 4 + |s|max) u each (dot product, logsumexp, exp); the weighted sum of
    # T values adds T u; two implementations, factor 2: tol = 2 (T + d + 4 + s_max) u max|V|.
    s_max = float((q @ k.transpose(-1, -2)).abs().max()) * scale
    tol = 2 * (p["T"] + p["d_k"] + 4 + s_max) * unit_roundoff(resolve_dtype(dtype)) * float(v.abs().max())
    err = max(float((o - ref).abs().max()) for o in outs)
    return Result("D2.softmax", dict(p), seed, passed=err <= tol, error=err, tolerance=tol)


def _softmax_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"batch": st.integers(1, 2), "heads": st.integers(1, 2), "T": st.integers(1, 40),
                                  "d_k": st.integers(1, 8), "d_v": st.integers(1, 6), "b_max": st.just(0.0),
                                  "chunk": st.integers(1, 16)})


register(Claim(
    id="D2.softmax", title="DeltaFormer with b = 0 is causal softmax attention", tag="suite", ref="docs/CLAIMS.md D2",
    statement="With b = 0 (any w), u = v and DeltaFormer's output equals causal softmax attention "
              "softmax(q k^T / sqrt(d_k)) v (torch.nn.functional.scaled_dot_product_attention, is_causal=True) in "
              "all three forms, within 2 (T + d + 4 + s_max) u max|V|.",
    kind="identity", convention="kappa2 softmax over j <= t with scale 1/sqrt(d_k)",
    run=run_reduction_softmax, mutant=functools.partial(run_reduction_softmax, unnormalised=True),
    mutant_says="kappa2 unnormalised (exp without the softmax denominator)",
    strategy=_softmax_strategy,
    grid=[{"batch": 2, "heads": 2, "T": T, "d_k": 16, "d_v": 16, "b_max": 0.0, "chunk": 32} for T in (64, 300)],
    power_grid=[{"batch": 1, "heads": 1, "T": T, "d_k": 4, "d_v": 3, "b_max": 0.0, "chunk": 4} for T in (2, 8, 20)],
    modules=MODULES,
))
