"""docs/CLAIMS.md D1-D3: DeltaFormer's forms and identities, its reductions, and the exact state-tracking constructions.

Training experiments (D4, D5) live in ``assocmem/claims/deltaformer_tasks.py``.
"""

from __future__ import annotations

import functools
import math
import random

import sympy as sp
import torch

from assocmem.registry import Claim, Result, Step, register

MODULES = ("theory.deltaformer", "impl.deltaformer.recurrent", "impl.deltaformer.parallel",
           "impl.deltaformer.chunk", "impl.deltaformer.kernels", "impl.deltaformer.constructions",
           "impl.rules.deltanet.recurrent")


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


# ----------------------------------------------------------------------------------------------------------------
# D3 constructions


def _reflection_derivation(n_max=8):
    from theory.deltaformer import swap_reflection

    steps = []
    for n in range(2, n_max + 1):
        for i in range(n):
            for j in range(i + 1, n):
                R, P = swap_reflection(n, i, j)
                steps.append(Step(f"n={n}: I - 2 e e^T = P_({i} {j}), e = (e_{i} - e_{j})/sqrt(2)", R, P))
    return steps


register(Claim(
    id="D3.reflection", title="A swap is a delta-rule step with b = 2", tag="paper", ref="Appendix E (state tracking theorem)",
    statement="For every n in 2..8 and every pair i < j, I - 2 e e^T with e = (e_i - e_j)/sqrt(2) equals the "
              "permutation matrix of the transposition (i j) exactly (SymPy, exact sqrt(2)); hence one delta-rule "
              "step with b = 2, unit key e and value 0 right-multiplies the state by that permutation.",
    kind="symbolic", formula=lambda: sp.Eq(_nc("I") - 2 * _nc("e") * _nc("e^T"), _nc("P_(ij)")),
    derivation=_reflection_derivation, modules=MODULES,
))


def _bits(L, seed):
    rng = random.Random(seed)
    return [rng.randint(0, 1) for _ in range(L)]


def run_parity(p, seed, *, device="cpu", dtype="float64", b_one=2.0):
    """The b = 2 parity construction at length L: outputs must equal (-1)^{prefix parity} exactly, at every t.
    The scalar recurrence runs at any length; for L <= 512 also the delta-rule layer and DeltaFormer (float64)."""
    from impl.deltaformer.constructions import (
        parity_deltaformer,
        parity_layer,
        parity_scalar,
    )

    bits = _bits(p["L"], seed)
    truth, acc = [], 0
    for x in bits:
        acc ^= x
        truth.append(-1.0 if acc else 1.0)
    outs = [parity_scalar(bits, b_one=b_one)]
    if p["L"] <= 512 and b_one == 2.0:
        outs += [parity_layer(bits).tolist(), parity_deltaformer(bits).tolist()]
    err = max(max(abs(a - b) for a, b in zip(o, truth)) for o in outs)
    wrong = sum(1 for a, b in zip(outs[0], truth) if (a < 0) != (b < 0))
    return Result("D3.parity", dict(p), seed, passed=err == 0.0, error=err, tolerance=0.0,
                  extra={"wrong_bits": wrong, "forms": len(outs)},
                  note="exact: the outputs are +-1 with no rounding (products of exact -1 and 1)")


def _parity_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"L": st.integers(1, 10_000)})


register(Claim(
    id="D3.parity", title="b = 2 on a fixed unit key computes parity exactly", tag="paper", ref="Appendix E; Grazzi et al. 2024",
    statement="A start token (b = 1, v = 1) then one token per bit x_t with b_t = 2 x_t, v_t = 0 and the fixed unit "
              "key k = q = 1 give o_t = (-1)^{x_1+...+x_t} exactly (zero error, float64) at every prefix of every bit "
              "string tried (lengths 1..10^4; through the delta-rule layer and through DeltaFormer up to 512).",
    kind="identity", convention="d_k = d_v = 1, read after the update; parity = [o_t < 0]",
    formula=lambda: sp.Eq(sp.Symbol("S_t"), sp.Symbol("S_{t-1}") * (1 - 2 * sp.Symbol("x_t"))),
    derivation=lambda: [Step("1 - 2x = (-1)^x at x = 0", 1 - 2 * sp.Integer(0), (-1) ** sp.Integer(0)),
                        Step("1 - 2x = (-1)^x at x = 1", 1 - 2 * sp.Integer(1), (-1) ** sp.Integer(1))],
    run=run_parity, mutant=functools.partial(run_parity, b_one=1.0),
    mutant_says="b = 1 for a 1-bit (transition eigenvalue 0, inside [0, 1])",
    strategy=_parity_strategy,
    grid=[{"L": L} for L in (10, 100, 512, 1000, 10_000)], quick_grid=[{"L": 100}, {"L": 10_000}],
    power_grid=[{"L": L} for L in (16, 100, 1000)], devices=("cpu",), modules=MODULES,
))


def run_permutation(p, seed, *, device="cpu", dtype="float64", b_swap=2.0):
    """n start tokens write S = I, L random swaps (b = 2, k = e_ij, v = 0), n queries; all queries must return the
    right item and S must equal the permutation matrix within round-off."""
    from impl.deltaformer.constructions import (
        permutation_layer,
        permutation_matrix,
        permutation_truth,
    )
    from impl.numerics.device import unit_roundoff

    rng = random.Random(seed)
    n, L = p["n"], p["L"]
    swaps = [tuple(rng.sample(range(n), 2)) for _ in range(L)]
    items = permutation_truth(n, swaps)
    o, S = permutation_layer(n, swaps, b_swap=b_swap)
    answers = o.argmax(-1).tolist()
    wrong = sum(1 for a, b in zip(answers, items) if a != b)
    err = float((S - permutation_matrix(items)).abs().max())
    # Per swap, each entry of S(I - 2ee^T) = S - 2 (S e) e^T picks up at most ~6 u relative error (2ee^T rounded, the
    # two-term dot product, the product and the subtraction); entries stay bounded by 1 + O(t u), and the errors add
    # over the L swaps and the n writes: tol = 8 (L + n) u.
    tol = 8 * (L + n) * unit_roundoff(torch.float64)
    return Result("D3.permutation", dict(p), seed, passed=(wrong == 0 and err <= tol), error=err, tolerance=tol,
                  extra={"wrong_queries": wrong})


def _perm_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n": st.integers(2, 8), "L": st.integers(1, 200)})


register(Claim(
    id="D3.permutation", title="One delta-rule layer tracks permutations under swaps (S_n, n <= 8)", tag="paper",
    ref="Appendix E (state tracking theorem); word problem of S_5 is NC^1-complete (Barrington 1989)",
    statement="With S = I written by n start tokens (b = 1, k = v = e_s), each swap (i j) as one token b = 2, "
              "k = (e_i - e_j)/sqrt(2), v = 0, and queries q = e_x (b = 0), every query returns the item in slot x "
              "(argmax) and the state equals the permutation matrix within 8 (L + n) u, for n in 2..8 and every "
              "swap sequence tried (L up to 200; 1000 in the report grid).",
    kind="identity", convention="S [n, n], column s = one-hot of the item in slot s; read after the update",
    run=run_permutation, mutant=functools.partial(run_permutation, b_swap=1.0),
    mutant_says="b = 1 for a swap (projection I - e e^T, eigenvalue 0, instead of the reflection)",
    strategy=_perm_strategy,
    grid=[{"n": n, "L": L} for n in (3, 5, 8) for L in (10, 100, 1000)],
    quick_grid=[{"n": 5, "L": 100}, {"n": 8, "L": 1000}],
    power_grid=[{"n": n, "L": L} for n, L in ((3, 10), (5, 20), (8, 50))], devices=("cpu",), modules=MODULES,
))


def run_no_parity_01(p, seed, *, device="cpu", dtype="float64", rho=None):
    """Constant input 1, 11, 111, ... to a d-dimensional delta-rule layer with transition eigenvalue
    lambda = 1 - b ||k||^2 in [0, 1]: the readout r^T o_t - theta changes sign at most once."""
    from impl.deltaformer.constructions import (
        best_parity_accuracy_all_ones,
        sign_changes,
    )
    from impl.numerics.device import generator, unit_roundoff
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    g = generator(seed)
    d, L = p["d"], p["L"]
    k = torch.randn(d, generator=g, dtype=torch.float64)
    k = k / k.norm()  # unit key (the layer refuses b > 2)
    r_b = torch.rand((), generator=g, dtype=torch.float64) if rho is None else torch.tensor(rho, dtype=torch.float64)
    b = float(r_b)  # eigenvalue 1 - b ||k||^2 = 1 - rho in [0, 1]
    v = p["v_scale"] * torch.randn(d, generator=g, dtype=torch.float64)
    S0 = torch.randn(d, d, generator=g, dtype=torch.float64)
    q = torch.randn(d, generator=g, dtype=torch.float64)
    r = torch.randn(d, generator=g, dtype=torch.float64)
    theta = p["theta_scale"] * float(torch.randn((), generator=g, dtype=torch.float64))
    rep = lambda x: x.view(1, 1, 1, -1).expand(1, 1, L, -1).contiguous()  # noqa: E731
    beta = torch.full((1, 1, L), b, dtype=torch.float64)
    o, _ = delta_rule_recurrent(rep(q), rep(k), rep(v), beta, initial_state=S0.view(1, 1, d, d))
    readout = (o[0, 0] @ r - theta).tolist()
    # Each o_t carries at most ~(t + d + 2) u relative error in |S| |q| (t contracting updates of d-term sums); the
    # readout adds d terms: tol = 4 (L + 2 d + 2) u max_t |r|^T (|S_t| |q|) (+ |theta|).
    mag = float((o[0, 0].abs() @ r.abs()).max()) + abs(theta) + float(S0.abs().sum() * q.abs().max() * r.abs().max())
    tol = 4 * (L + 2 * d + 2) * unit_roundoff(torch.float64) * mag
    changes = sign_changes(readout, tol)
    acc = best_parity_accuracy_all_ones(readout)
    return Result("D3.no_parity_01", dict(p), seed, passed=changes <= 1, error=float(changes), tolerance=1.0,
                  extra={"best_threshold_accuracy": acc, "bound": (L // 2 + 1) / L, "eigenvalue": 1 - float(r_b)},
                  note="error = number of sign changes of the readout along 1^t, t = 1..L")


def _no_parity_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"d": st.integers(1, 6), "L": st.integers(2, 200),
                                  "v_scale": st.sampled_from((0.0, 1.0)), "theta_scale": st.sampled_from((0.0, 1.0))})


register(Claim(
    id="D3.no_parity_01", title="With transition eigenvalues in [0, 1] parity is impossible", tag="paper",
    ref="Appendix E; Grazzi et al. 2024 (Unlocking state-tracking in linear RNNs through negative eigenvalues), Thm 1",
    statement="For a delta-rule layer of any width d with unit key and b in [0, 1] (transition eigenvalues in [0, 1]), under "
              "the constant input 1, 11, 111, ... every linear readout r^T o_t - theta changes sign at most once "
              "(r(t) = gamma + beta lambda^t with lambda in [0, 1] is monotone), so a threshold readout's accuracy on "
              "the first L such strings, whose parity alternates, is at most (floor(L/2) + 1)/L -> 1/2.",
    kind="identity", convention="sign changes counted among readouts with |value| above the round-off bound",
    formula=lambda: sp.Eq(sp.Symbol("h_{t+1}") - sp.Symbol("h_t"), sp.Symbol("a") ** sp.Symbol("t") * (sp.Symbol("h_1") - sp.Symbol("h_0"))),
    derivation=lambda: [Step("h_t = a h_{t-1} + c: h_{t+1} - h_t = a^t (h_1 - h_0), one sign for a >= 0",
                             *__import__("theory.deltaformer", fromlist=["scalar_increment"]).scalar_increment())],
    run=run_no_parity_01, mutant=functools.partial(run_no_parity_01, rho=2.0),
    mutant_says="b ||k||^2 = 2 (eigenvalue -1, outside [0, 1]): the readout alternates",
    strategy=_no_parity_strategy,
    grid=[{"d": d, "L": L, "v_scale": 1.0, "theta_scale": 1.0} for d in (1, 4) for L in (10, 100, 1000)],
    power_grid=[{"d": 1, "L": L, "v_scale": 0.0, "theta_scale": 0.0} for L in (4, 20, 100)],
    devices=("cpu",), modules=MODULES,
))
