"""docs/CLAIMS.md D3 per kernel: exact state-tracking constructions and obstructions, no training; and the D5
reachability construction.

Every claim names its kernel in its title and statement: the linear-kernel (delta-rule) constructions are never
evidence for the exponential or softmax kernels, which have their own claims here. All checks run in float64
through the ``impl.deltaformer`` forms themselves (and the delta-rule layer where the claim is about it).
"""

from __future__ import annotations

import functools
import math
import random
from fractions import Fraction

import sympy as sp
import torch

from assocmem.claims.deltaformer import forward_error_bound
from assocmem.registry import Claim, Result, Step, register

MODULES = ("theory.deltaformer", "impl.deltaformer.recurrent", "impl.deltaformer.parallel",
           "impl.deltaformer.chunk", "impl.deltaformer.kernels", "impl.deltaformer._inputs",
           "impl.deltaformer.constructions", "impl.rules.deltanet.recurrent", "assocmem.claims.deltaformer",
            "impl.deltaformer", "impl.rules.inputs", "impl.numerics.solves")  # closed under imports: tests/test_report.py
U64 = torch.finfo(torch.float64).eps / 2


def _nc(name):
    return sp.Symbol(name, commutative=False)


def _bits(L, seed):
    rng = random.Random(seed)
    return [rng.randint(0, 1) for _ in range(L)]


def _prefix_signs(bits):
    acc, out = 0, []
    for x in bits:
        acc ^= x
        out.append(-1.0 if acc else 1.0)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Linear kernel (the delta rule): reflection, parity, permutations, the [0, 1] obstruction


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
    id="D3.reflection", title="Linear kernel: a swap is a delta-rule step with b = 2", tag="paper",
    ref="Appendix E (state tracking theorem)",
    statement="Linear kernel (the delta rule). For every n in 2..8 and every pair i < j, I - 2 e e^T with "
              "e = (e_i - e_j)/sqrt(2) equals the permutation matrix of the transposition (i j) exactly (SymPy, exact "
              "sqrt(2)); hence one delta-rule step with b = 2, unit key e and value 0 right-multiplies the state by "
              "that permutation.",
    kind="symbolic", formula=lambda: sp.Eq(_nc("I") - 2 * _nc("e") * _nc("e^T"), _nc("P_(ij)")),
    derivation=_reflection_derivation, modules=MODULES,
))


def run_parity(p, seed, *, device="cpu", dtype="float64", b_one=2.0):
    """The b = 2 parity construction at length L: outputs must equal (-1)^{prefix parity} exactly, at every t.
    The scalar recurrence runs at any length; for L <= 512 also the delta-rule layer and DeltaFormer (float64)."""
    from impl.deltaformer.constructions import (
        parity_deltaformer,
        parity_layer,
        parity_scalar,
    )

    bits = _bits(p["L"], seed)
    truth = _prefix_signs(bits)
    outs = [parity_scalar(bits, b_one=b_one)]
    if p["L"] <= 512 and b_one == 2.0:
        outs += [parity_layer(bits).tolist(), parity_deltaformer(bits).tolist()]
    err = max(max(abs(a - b) for a, b in zip(o, truth)) for o in outs)
    wrong = sum(1 for a, b in zip(outs[0], truth) if (a < 0) != (b < 0))
    return Result("D3.parity", dict(p), seed, passed=err == 0.0, error=err, tolerance=0.0,
                  extra={"wrong_bits": wrong, "forms": len(outs)},
                  note="exact: the outputs are +-1 with no rounding (products of exact -1 and 1)")


register(Claim(
    id="D3.parity", title="Linear kernel: b = 2 on a fixed unit key computes parity exactly", tag="paper",
    ref="Appendix E; Grazzi et al. 2024",
    statement="Linear kernel (the delta rule; DeltaFormer with the linear kernel). A start token (b = 1, v = 1) then "
              "one token per bit x_t with b_t = 2 x_t, v_t = 0 and the fixed unit key k = q = 1 give "
              "o_t = (-1)^{x_1+...+x_t} exactly (zero error, float64) at every prefix of every bit string tried "
              "(lengths 1..10^4; through the delta-rule layer and through linear-kernel DeltaFormer up to 512). For "
              "the exponential kernel see D3.parity_exp, for softmax kernels D3.dilution.",
    kind="identity", convention="d_k = d_v = 1, read after the update; parity = [o_t < 0]",
    formula=lambda: sp.Eq(sp.Symbol("S_t"), sp.Symbol("S_{t-1}") * (1 - 2 * sp.Symbol("x_t"))),
    derivation=lambda: [Step("1 - 2x = (-1)^x at x = 0", 1 - 2 * sp.Integer(0), (-1) ** sp.Integer(0)),
                        Step("1 - 2x = (-1)^x at x = 1", 1 - 2 * sp.Integer(1), (-1) ** sp.Integer(1))],
    run=run_parity, mutant=functools.partial(run_parity, b_one=1.0),
    mutant_says="b = 1 for a 1-bit (transition eigenvalue 0, inside [0, 1])",
    strategy=lambda: __import__("hypothesis").strategies.fixed_dictionaries(
        {"L": __import__("hypothesis").strategies.integers(1, 10_000)}),
    grid=[{"L": L} for L in (10, 100, 512, 1000, 10_000)], quick_grid=[{"L": 100}, {"L": 10_000}],
    power_grid=[{"L": L} for L in (16, 100, 1000)], devices=("cpu",), modules=MODULES,
))


def run_permutation(p, seed, *, device="cpu", dtype="float64", b_swap=2.0):
    """n start tokens write S = I, L random swaps (b = 2, k = e_ij, v = 0), n queries, through the delta-rule layer
    and the DeltaFormer forms (linear kernel): every query must return the right item, the delta rule's state must
    equal the permutation matrix and DeltaFormer's query outputs its columns, within round-off."""
    from impl.deltaformer.constructions import (
        permutation_deltaformer,
        permutation_layer,
        permutation_matrix,
        permutation_truth,
    )

    rng = random.Random(seed)
    n, L = p["n"], p["L"]
    swaps = [tuple(rng.sample(range(n), 2)) for _ in range(L)]
    items = permutation_truth(n, swaps)
    P = permutation_matrix(items)
    o, S = permutation_layer(n, swaps, b_swap=b_swap)
    outs = [o] + [permutation_deltaformer(n, swaps, form=f, b_swap=b_swap) for f in p["forms"]]
    wrong = sum(sum(1 for a, b in zip(x.argmax(-1).tolist(), items) if a != b) for x in outs)
    # o_x = S e_x is column x of S, i.e. row x of o is P[:, x]
    err = max([float((S - P).abs().max())] + [float((x - P.T).abs().max()) for x in outs])
    # Per swap, each entry of S(I - 2ee^T) = S - 2 (S e) e^T picks up at most ~6 u relative error (2ee^T rounded, the
    # two-term dot product, the product and the subtraction); entries stay bounded by 1 + O(t u), and the errors add
    # over the L swaps and the n writes: 8 (L + n) u for the delta rule. DeltaFormer's u_t sums t terms of size <= 2
    # (the Neumann series of the same recurrence): a further gamma_T 2 T per step, summed over T = L + 2n steps:
    # tol = 8 (L + n) u + 4 T^2 u.
    T = L + 2 * n
    tol = 8 * (L + n) * U64 + (4 * T * T * U64 if p["forms"] else 0.0)
    return Result("D3.permutation", dict(p), seed, passed=(wrong == 0 and err <= tol), error=err, tolerance=tol,
                  extra={"wrong_queries": wrong, "forms": 1 + len(p["forms"])})


def _perm_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n": st.integers(2, 8), "L": st.integers(1, 200),
                                  "forms": st.sampled_from(((), ("parallel",), ("parallel", "chunk")))})


register(Claim(
    id="D3.permutation", title="Linear kernel: one delta-rule layer tracks permutations under swaps (S_n, n <= 8)",
    tag="paper", ref="Appendix E (state tracking theorem); word problem of S_5 is NC^1-complete (Barrington 1989)",
    statement="Linear kernel (the delta rule, and DeltaFormer with the linear kernel, w = k, b-scaled values). With "
              "S = I written by n start tokens (b = 1, k = v = e_s), each swap (i j) as one token b = 2, "
              "k = (e_i - e_j)/sqrt(2), v = 0, and queries q = e_x (b = 0), every query returns the item in slot x "
              "(argmax) and the state equals the permutation matrix within 8 (L + n) u (+ 4 (L + 2n)^2 u through the "
              "DeltaFormer forms), for n in 2..8 and every swap sequence tried (L up to 200; 1000 in the report grid). "
              "The construction uses the linear kernel's additivity e_02 = e_01 + e_12; for positive kernels see "
              "D3.obstruction.",
    kind="identity", convention="S [n, n], column s = one-hot of the item in slot s; read after the update",
    run=run_permutation, mutant=functools.partial(run_permutation, b_swap=1.0),
    mutant_says="b = 1 for a swap (projection I - e e^T, eigenvalue 0, instead of the reflection)",
    strategy=_perm_strategy,
    grid=[{"n": n, "L": L, "forms": ("parallel", "chunk") if L <= 100 else ("chunk",)}
          for n in (3, 5, 8) for L in (10, 100, 1000)],
    quick_grid=[{"n": 5, "L": 100, "forms": ("parallel", "chunk")}, {"n": 8, "L": 1000, "forms": ("chunk",)}],
    power_grid=[{"n": n, "L": L, "forms": ("parallel",)} for n, L in ((3, 10), (5, 20), (8, 50))], devices=("cpu",),
    modules=MODULES,
))


def run_no_parity_01(p, seed, *, device="cpu", dtype="float64", rho=None):
    """Constant input 1, 11, 111, ... to a d-dimensional delta-rule layer with transition eigenvalue
    lambda = 1 - b ||k||^2 in [0, 1]: the readout r^T o_t - theta changes sign at most once."""
    from impl.deltaformer.constructions import (
        best_parity_accuracy_all_ones,
        sign_changes,
    )
    from impl.numerics.device import generator
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
    tol = 4 * (L + 2 * d + 2) * U64 * mag
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
    id="D3.no_parity_01", title="Linear kernel: with transition eigenvalues in [0, 1] parity is impossible", tag="paper",
    ref="Appendix E; Grazzi et al. 2024 (Unlocking state-tracking in linear RNNs through negative eigenvalues), Thm 1",
    statement="Linear kernel (the delta rule). For a delta-rule layer of any width d with unit key and b in [0, 1] "
              "(transition eigenvalues in [0, 1]), under the constant input 1, 11, 111, ... every linear readout "
              "r^T o_t - theta changes sign at most once (r(t) = gamma + beta lambda^t with lambda in [0, 1] is "
              "monotone), so a threshold readout's accuracy on the first L such strings, whose parity alternates, is "
              "at most (floor(L/2) + 1)/L -> 1/2.",
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


# ----------------------------------------------------------------------------------------------------------------
# Unnormalised exponential kernel: parity (and the softmax readout's 1/t margin)


def run_parity_exp(p, seed, *, device="cpu", dtype="float64", b_one=2.0):
    """Parity through DeltaFormer with an unnormalised exponential kappa1 (and kappa2 = exp or softmax): every
    output within the round-off bound of its exact value, so its sign is the parity at every prefix."""
    from impl.deltaformer.constructions import _form, parity_exp_tokens, parity_exp_tolerance

    L, s = p["L"], p["scale"]
    bits = _bits(L, seed)
    signs = torch.tensor(_prefix_signs(bits), dtype=torch.float64)
    if p["readout"] == "exp":
        truth = math.exp(s) * signs  # o_t = e^s (-1)^{p_t}
    else:
        truth = signs / torch.arange(2, L + 2, dtype=torch.float64)  # softmax over the t + 1 positions j <= t
    forms = ("chunk",) if L > 512 else ("recurrent", "parallel", "chunk")
    q, k, v, beta = parity_exp_tokens(bits, scale=s, b_one=b_one)
    outs = [_form(f)(q, k, v, beta, kernel=p["readout"], kernel_w="exp", scale=float(s))[0, 0, 1:, 0] for f in forms]
    err = max(float((o - truth).abs().max()) for o in outs)
    tol = parity_exp_tolerance(L, s)
    wrong = sum(int(((o < 0) != (truth < 0)).sum()) for o in outs)
    margin = float(truth.abs().min())
    return Result("D3.parity_exp", dict(p), seed, passed=err <= tol and wrong == 0, error=err, tolerance=tol,
                  extra={"wrong_signs": wrong, "forms": len(forms), "margin": margin})


def _parity_exp_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"L": st.integers(1, 600), "scale": st.sampled_from((-1.0, 0.0, 0.5, 1.0, 2.0)),
                                  "readout": st.sampled_from(("exp", "softmax"))})


register(Claim(
    id="D3.parity_exp", title="Exponential kernel: b kappa(k, k) = 2 computes parity (unnormalised kappa1)", tag="suite",
    ref="docs/CLAIMS.md D3 scope; this project's construction",
    statement="Unnormalised exponential kappa1 (DeltaFormer with kernel_w = exp). d = 1, q = k = w = 1, scale s: a "
              "start token (b = 0, v = 1) then one token per bit x_t with b_t = 2 x_t / e^s, v_t = 0 "
              "(b kappa1(k, k) = 2, transition eigenvalue -1). With the unnormalised exponential readout, "
              "o_t = e^s (-1)^{x_1+...+x_t}; with a softmax readout (kappa2 normalised over j <= t), "
              "o_t = (-1)^{x_1+...+x_t}/(t + 1): the sign is still the parity but the margin shrinks as 1/t. Every "
              "output is within the derived round-off bound c (5 L^3 + 2 L^2 + 5 L + 2) 2u (1 + 2u) of its exact "
              "value, every sign right, at lengths 1..10^4 (recurrent, matrix and chunked forms up to 512, chunked "
              "beyond). Scope: one head, constant key; a softmax kappa1 dilutes instead (D3.dilution).",
    kind="identity", convention="start token at position 0, outputs o_1..o_L; parity = [o_t < 0]",
    formula=lambda: sp.Eq(sp.Symbol("m_t"), sp.Symbol("m_{t-1}") * (1 - sp.Symbol("b_t") * sp.exp(sp.Symbol("s")))),
    run=run_parity_exp, mutant=functools.partial(run_parity_exp, b_one=1.9),
    mutant_says="b kappa(k, k) = 1.9 (eigenvalue -0.9): the values decay instead of staying +-e^s",
    strategy=_parity_exp_strategy,
    grid=[{"L": L, "scale": 1.0, "readout": r} for r in ("exp", "softmax") for L in (10, 100, 1000, 10_000)],
    quick_grid=[{"L": 100, "scale": 1.0, "readout": "exp"}, {"L": 2000, "scale": 1.0, "readout": "softmax"}],
    power_grid=[{"L": L, "scale": 1.0, "readout": "exp"} for L in (16, 100, 1000)], devices=("cpu",), modules=MODULES,
))


# ----------------------------------------------------------------------------------------------------------------
# Softmax kernels: dilution under a constant input, and the step b_t / Z_t


def run_dilution(p, seed, *, device="cpu", dtype="float64", normaliser_shift=0):
    """One DeltaFormer layer with softmax kappa1 and kappa2 on a constant input: the forms against the exact
    recursion m_t = m_{t-1}(1 - b/(t-1)) + 1, o_t = (m_t / t) v, and the number of sign changes from t = 2 on of a
    random linear readout (at most one)."""
    from impl.deltaformer import kernel_matrices
    from impl.deltaformer.constructions import _form, constant_input, normalised_constant_input, sign_changes
    from impl.numerics.device import generator

    T, d, b = p["T"], p["d"], p["b"]
    q, k, v, beta = constant_input(T, d, b, seed=seed)
    law = normalised_constant_input(T, Fraction(b)) if not normaliser_shift else [
        (None, o) for _, o in _shifted_law(T, Fraction(b))]
    ratio = torch.tensor([float(o) for _, o in law], dtype=torch.float64)
    truth = ratio[:, None] * v[0, 0]
    outs = [_form(f)(q, k, v, beta, kernel="softmax")[0, 0] for f in p["forms"]]
    err = max(float((o - truth).abs().max()) for o in outs)
    A, B = kernel_matrices(q, k, v, beta, kernel="softmax")
    tol = forward_error_bound(A, B, v, d, torch.float64, s_max=float((k[0, 0, 0] @ k[0, 0, 0]).abs()) / math.sqrt(d))
    tol += 2 * U64 * float(truth.abs().max())  # the exact value rounded once to float64
    g = generator(seed + 1)
    r = torch.randn(d, generator=g, dtype=torch.float64)
    theta = float((truth[-1] @ r)) + float(torch.randn((), generator=g, dtype=torch.float64)) * 0.01
    readout = (outs[0] @ r - theta)[1:].tolist()  # t = 2..T
    changes = sign_changes(readout, tol * float(r.abs().sum()))
    return Result("D3.dilution", dict(p), seed, passed=err <= tol and changes <= 1, error=err, tolerance=tol,
                  extra={"sign_changes_from_t2": changes, "o_T_over_v": float(ratio[-1]), "limit": 1 / (1 + b)})


def _shifted_law(T, b):
    """The mutant: the normaliser t instead of t - 1 in kappa1 (j <= t instead of j < t)."""
    m, out = None, []
    for t in range(1, T + 1):
        m = 1 + 0 * b if t == 1 else m * (1 - b / t) + 1
        out.append((m, m / t))
    return out


def _dilution_derivation():
    from theory.deltaformer import dilution_deviation, dilution_particular

    b = sp.Integer(2)
    return [Step("m_{t-1} = (t-1) v/(1+b) gives m_t = t v/(1+b): o_t = m_t/t = v/(1+b) is a fixed point",
                 *dilution_particular()),
            Step("the deviation e_t = m_t - t v/(1+b) starts as e_2 = e_1 (1 - b)", *dilution_deviation()),
            Step("at b = 2 the factor 1 - b/(t-1) vanishes at t = 3, so o_t = v/3 from t = 3", 1 - b / 2, 0)]


def _dilution_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"T": st.integers(3, 120), "d": st.integers(1, 8),
                                  "b": st.sampled_from((0.25, 0.5, 1.0, 1.5, 2.0)),
                                  "forms": st.sampled_from((("recurrent", "parallel"), ("parallel", "chunk")))})


register(Claim(
    id="D3.dilution", title="Softmax kernels: a normalised layer stops alternating (dilution law)", tag="suite",
    ref="docs/CLAIMS.md D3 scope; this project's derivation",
    statement="Softmax kappa1 and kappa2 (the paper's DeltaFormer), one layer, any width d, constant input (one token "
              "repeated, no start token; every score equal), b in [0, 2]: m_t = sum_{j<=t} u_j obeys "
              "m_t = m_{t-1}(1 - b/(t-1)) + v, o_t = m_t/t, so o_t -> v/(1 + b) (exactly v/3 from t = 3 at b = 2). "
              "The recurrent, matrix and chunked forms equal the exact (rational) recursion within the round-off "
              "bound, and a random linear readout r^T o_t - theta changes sign at most once from t = 2 on: one "
              "normalised layer cannot keep alternating along 1, 11, 111, ... (parity). Scope: one layer, constant "
              "input; with an unnormalised exponential kappa1 the softmax readout keeps parity's sign (D3.parity_exp).",
    kind="identity", convention="1-indexed t: kappa1 = 1/(t-1) over j < t, kappa2 = 1/t over j <= t; m_1 = v",
    formula=lambda: sp.Eq(sp.Symbol("m_t"), sp.Symbol("m_{t-1}") * (1 - sp.Symbol("b") / (sp.Symbol("t") - 1)) + sp.Symbol("v")),
    derivation=_dilution_derivation,
    run=run_dilution, mutant=functools.partial(run_dilution, normaliser_shift=1),
    mutant_says="kappa1 normalised over j <= t: the law m_t = m_{t-1}(1 - b/t) + v",
    strategy=_dilution_strategy,
    grid=[{"T": T, "d": d, "b": b, "forms": ("recurrent", "parallel", "chunk") if T <= 200 else ("parallel", "chunk")}
          for T, d in ((50, 1), (200, 8), (1000, 16)) for b in (0.5, 1.0, 2.0)],
    quick_grid=[{"T": 60, "d": 4, "b": 2.0, "forms": ("recurrent", "parallel", "chunk")},
                {"T": 300, "d": 8, "b": 1.0, "forms": ("parallel", "chunk")}],
    power_grid=[{"T": T, "d": 2, "b": 1.0, "forms": ("parallel",)} for T in (5, 20, 100)],
    devices=("cpu",), modules=MODULES,
))


def run_softmax_step(p, seed, *, device="cpu", dtype="float64", include_self=False):
    """Softmax kappa1 equals the exponential kappa1 with step b_t / Z_t (through the forms), and a token whose key
    occurred m times before has transition eigenvalue >= 1 - b_t / m."""
    from impl.deltaformer import deltaformer_parallel, deltaformer_recurrent, kernel_matrices
    from impl.deltaformer.constructions import softmax_eigenvalues, softmax_steps
    from impl.numerics.device import generator

    g = generator(seed)
    T, d, V = p["T"], p["d"], p["vocab"]
    table = torch.randn(V, d, generator=g, dtype=torch.float64)
    ids = torch.randint(0, V, (T,), generator=g)
    k = table[ids].view(1, 1, T, d)
    q = torch.randn(1, 1, T, d, generator=g, dtype=torch.float64)
    v = torch.randn(1, 1, T, 2, generator=g, dtype=torch.float64)
    b_tok = p["b_max"] * torch.rand(V, generator=g, dtype=torch.float64)
    beta = b_tok[ids].view(1, 1, T)
    scale = 1 / math.sqrt(d)
    steps = softmax_steps(k, k, beta, scale)
    if include_self:  # the mutant: Z_t summed over j <= t
        scores = (scale * (k @ k.transpose(-1, -2))).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        steps = beta * torch.exp(-torch.logsumexp(scores, -1))
    ref = deltaformer_recurrent(q, k, v, beta, kernel="softmax", kernel_w="softmax", scale=scale)
    outs = [f(q, k, v, steps, kernel="softmax", kernel_w="exp", scale=scale)
            for f in (deltaformer_recurrent, deltaformer_parallel)]
    err = max(float((o - ref).abs().max()) for o in outs)
    A, B = kernel_matrices(q, k, v, beta, kernel="softmax", kernel_w="softmax", scale=scale)
    s_max = float((scale * (k @ k.transpose(-1, -2))).abs().max())
    tol = forward_error_bound(A, B, v, d, torch.float64, s_max)
    lam = softmax_eigenvalues(k, k, beta, scale)[0, 0]
    seen = [int((ids[:t] == ids[t]).sum()) for t in range(T)]
    bound_tol = 4 * (T + d + 4 + s_max) * U64 * 2  # the eigenvalue's own round-off (relative to b <= b_max <= 2)
    violations = sum(1 for t in range(T) if seen[t] > 0 and float(lam[t]) < 1 - float(beta[0, 0, t]) / seen[t] - bound_tol)
    return Result("D3.softmax_step", dict(p), seed, passed=err <= tol and violations == 0, error=err, tolerance=tol,
                  extra={"eigenvalue_bound_violations": violations, "min_eigenvalue_repeated": min(
                      (float(lam[t]) for t in range(T) if seen[t] > 0), default=None)})


def _softmax_step_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"T": st.integers(2, 60), "d": st.integers(1, 8), "vocab": st.integers(1, 6),
                                  "b_max": st.sampled_from((1.0, 2.0))})


register(Claim(
    id="D3.softmax_step", title="Softmax kappa1 is the exponential kappa1 with step b_t / Z_t", tag="suite",
    ref="docs/CLAIMS.md D3 scope; this project's derivation",
    statement="For any keys, values and b (w = k, scale d^-1/2): DeltaFormer with a softmax kappa1 equals DeltaFormer "
              "with the unnormalised exponential kappa1 and step b_t / Z_t, Z_t = sum_{j<t} exp(k_t^T k_j / sqrt(d)), "
              "within the round-off bound (recurrent and matrix forms). Hence a token whose key already occurred m "
              "times before position t has transition eigenvalue 1 - b_t exp(k_t^T k_t/sqrt(d))/Z_t >= 1 - b_t/m "
              "(>= 0 for b_t <= 2 once m >= 2): a repeated token cannot flip the memory's sign, checked at every "
              "repeated position of sequences drawn from a small vocabulary.",
    kind="identity", convention="kappa1 normalised over j < t; the eigenvalue along phi(k_t) of I - step phi(k_t) phi(k_t)^T",
    run=run_softmax_step, mutant=functools.partial(run_softmax_step, include_self=True),
    mutant_says="Z_t summed over j <= t (the token's own key included)",
    strategy=_softmax_step_strategy,
    grid=[{"T": T, "d": d, "vocab": V, "b_max": 2.0} for T, d, V in ((64, 8, 4), (256, 16, 8), (256, 4, 2))],
    power_grid=[{"T": T, "d": 4, "vocab": 3, "b_max": 2.0} for T in (8, 20, 40)], devices=("cpu",), modules=MODULES,
))


# ----------------------------------------------------------------------------------------------------------------
# Positive kernels: the obstruction for token-keyed S_n, n >= 3


def _obstruction_derivation():
    from theory.deltaformer import rank_one_triple, swap_key_additivity, transposition_relation

    steps = [Step(f"S_{n}: P_(01) P_(12) P_(01) = P_(02)", *transposition_relation(n)) for n in (3, 4, 5)]
    steps.append(Step("T_a T_b T_a' - I = X k_a^T + Y k_b^T for T_x = I - c_x k_x^T (rows in span(k_a, k_b))",
                      *rank_one_triple(3)))
    steps.append(Step("linear kernel: e_0 - e_2 = (e_0 - e_1) + (e_1 - e_2) (the keys are additive)",
                      *swap_key_additivity(3)))
    return steps


def run_obstruction(p, seed, *, device="cpu", dtype="float64", kernel=None):
    """Gram eigenvalues of phi(k_01), phi(k_12), phi(k_02) and the span residual of phi(k_02), for the construction's
    keys or random keys: both must exceed their round-off bound (the features are linearly independent)."""
    from impl.deltaformer.constructions import cosine_gram, span_residual, swap_keys
    from impl.numerics.device import generator

    kern = kernel or p["kernel"]
    if p["keys"] == "construction":
        k01, k12, k02 = swap_keys(p["n"], 0, 1, 2)
    else:
        g = generator(seed)
        k01, k12, k02 = torch.randn(3, p["n"], generator=g, dtype=torch.float64)
    C = cosine_gram(torch.stack([k01, k12, k02]), kern, p["scale"])
    lam = torch.linalg.eigvalsh(C)
    res = span_residual(k01, k12, k02, kern, p["scale"])
    # Round-off: each cosine entry carries (n + 4) u relative error (a squared distance or dot products, exp, a
    # square root); eigvalsh adds ~ 3 * 3 u ||C|| with ||C|| <= 3; the Schur complement 1 - c^T C2^-1 c loses about
    # 3 (n + 4) u (1 + ||c||^2 / lambda_min(C2)). Entries are at most 1 in size.
    tol_eig = 3 * (p["n"] + 4 + 9) * U64 * 3
    lam2 = float(torch.linalg.eigvalsh(C[:2, :2]).min())
    cnorm2 = float((C[:2, 2] ** 2).sum())
    tol_res = 3 * (p["n"] + 4) * U64 * (1 + cnorm2 / max(lam2, U64))
    lam_min = float(lam.min())
    return Result("D3.obstruction", dict(p), seed, passed=lam_min > tol_eig and res > tol_res, estimate=res,
                  error=lam_min, tolerance=max(tol_eig, tol_res),
                  extra={"gram_eigenvalues": [float(x) for x in lam], "span_residual": res,
                         "tol_eigenvalue": tol_eig, "tol_residual": tol_res},
                  note="error = smallest eigenvalue of the cosine Gram, estimate = span residual of the unit feature "
                       "phi(k02); both must exceed round-off")


def _obstruction_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"kernel": st.just("exp"), "keys": st.sampled_from(("construction", "random")),
                                  "n": st.integers(3, 8), "scale": st.sampled_from((0.5, 1.0, 2.0, 4.0))})


register(Claim(
    id="D3.obstruction", title="Exponential and softmax kernels: no token-keyed one-layer construction of S_n, n >= 3",
    tag="suite", ref="docs/CLAIMS.md D3 scope; this project's derivation",
    statement="Scope: one DeltaFormer layer (any number of heads), keys that depend only on the swap token and are "
              "pairwise distinct for (01), (12), (02), and a memory S = sum_j u_j phi(k_j)^T (phi: the readout "
              "kernel's features, the same for softmax and unnormalised exp) that depends only on the permutation "
              "reached. Since S_t - S_{t-1} = u_t phi(k_t)^T whatever kappa1, b, w and v are, the relation "
              "(01)(12)(01) = (02) (SymPy, in S_3..S_5) and the row space of a product of rank-one updates (SymPy) "
              "force phi(k_02) into span(phi(k_01), phi(k_12)) unless (02) never changes the memory. The linear "
              "kernel satisfies this (e_02 = e_01 + e_12: D3.permutation). For the exponential kernel the 3 x 3 "
              "Gram matrix of the unit features (exactly the Gaussian kernel exp(-s ||k_i - k_j||^2 / 2)) has all "
              "eigenvalues, and the unit feature of k_02 a squared distance from the span, above their round-off "
              "bounds, for the linear construction's keys and for random keys, n = 3..8, scales 0.5..4: the "
              "features are independent and no such construction exists. Not covered: context-dependent keys, "
              "several layers, equal keys for two transpositions, memories that differ between words composing to "
              "the same permutation (the report's search over trained two-layer models is the evidence there).",
    kind="identity", convention="kappa(x, y) = exp(scale x^T y); cosine Gram C_ij = kappa_ij / sqrt(kappa_ii kappa_jj); "
                                "span residual = 1 - c^T C^-1 c",
    derivation=_obstruction_derivation,
    run=run_obstruction, mutant=functools.partial(run_obstruction, kernel="linear"),
    mutant_says="the linear kernel at the construction's keys (additive features: residual 0)",
    strategy=_obstruction_strategy,
    grid=[{"kernel": "exp", "keys": keys, "n": n, "scale": s} for keys in ("construction", "random")
          for n in (3, 5) for s in (0.5, 1.0, 4.0)],
    power_grid=[{"kernel": "exp", "keys": "construction", "n": n, "scale": 1.0} for n in (3, 5, 8)],
    devices=("cpu",), modules=MODULES,
))


# ----------------------------------------------------------------------------------------------------------------
# D5: the reachability construction (linear kernel) and the one-pass reference


def increasing_path_count(edges, s: int, t: int) -> int:
    """The number of paths s -> t whose edges appear in increasing position (dynamic programming over the list)."""
    ways = {s: 1}
    for x, y in edges:
        if x in ways:
            ways[y] = ways.get(y, 0) + ways[x]
    return ways.get(t, 0) if t != s else 1


def one_pass_accuracy(k: int) -> float:
    """The one-pass forward closure's accuracy on balanced queries of the shuffled DAG task: 1/2 + 1/(2 k!) (the k
    chain edges are in increasing position with probability 1/k!; an unreachable target is never found)."""
    return 0.5 + 0.5 / math.factorial(k)


def run_reachability(p, seed, *, device="cpu", dtype="float64", b_edge=-1.0):
    """The construction on ``instances`` random DAG instances: its path counts must equal the increasing-path
    counts, be > 0 exactly when the one-pass closure reaches t, and (in order) answer every query."""
    import numpy as np

    from impl.deltaformer.constructions import _form, reachability_tokens
    from impl.tasks.dag import dag_instance, one_pass_reachable

    rng = np.random.default_rng(seed)
    mismatch = wrong = total = 0
    for _ in range(p["instances"]):
        inst = dag_instance(p["k"], p["n_nodes"], p["extra"] * p["k"], rng, order=p["order"])
        q, k, w, v, beta = reachability_tokens(inst.edges, inst.queries, p["n_nodes"])
        beta = beta * (-b_edge)
        o = _form(p["form"])(q, k, v, beta, w=w, kernel="linear", scale=1.0, scale_w=1.0)[0, 0]
        E = len(inst.edges)
        for r, ((s, t), ans) in enumerate(zip(inst.queries, inst.answers)):
            count = float(o[E + r, s])
            mismatch += count != increasing_path_count(inst.edges, s, t) or (count > 0) != one_pass_reachable(
                inst.edges, s, t)
            wrong += (count > 0) != ans
            total += 1
    acc = 1 - wrong / total
    ok = mismatch == 0 and (wrong == 0 if p["order"] == "in_order" else True)
    return Result("D5.construction", dict(p), seed, passed=ok, estimate=acc, n=total, error=float(mismatch),
                  tolerance=0.0, theory=1.0 if p["order"] == "in_order" else one_pass_accuracy(p["k"]),
                  extra={"wrong_answers": wrong, "one_pass_reference": one_pass_accuracy(p["k"])},
                  note="error = queries whose count differs from the increasing-path count or the one-pass closure")


def _reach_strategy():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"k": st.integers(1, 6), "n_nodes": st.just(27), "extra": st.integers(0, 2),
                                  "order": st.sampled_from(("in_order", "shuffled")), "instances": st.just(5),
                                  "form": st.sampled_from(("recurrent", "parallel", "chunk"))})


register(Claim(
    id="D5.construction", title="Linear kernel: one DeltaFormer layer solves in-order DAG reachability exactly",
    tag="suite", ref="docs/CLAIMS.md D5; this project's construction",
    statement="Linear kernel, one layer, node one-hots e_x. Edge (x, y): k = e_y, w = e_x, v = e_x, b = -1; query "
              "(s, t) after the edges: q = e_t, k = w = v = 0, b = 0. Coordinate s of the query's output equals, "
              "exactly in float64, the number of paths s -> t whose edges appear in increasing position (a "
              "dynamic program over the list); it is > 0 exactly when the one-pass forward closure reaches t. On "
              "edge lists in topological order every query is answered right (k = 1..8, distractors included); on "
              "shuffled lists the construction is the one-pass rule, whose accuracy on balanced queries is "
              "1/2 + 1/(2 k!) — the reference line of D5. Scope: the linear kernel; b = -1 (fla's unbounded b allows "
              "it); the readout compares coordinate s with 0.",
    kind="identity", convention="one instance = the task's edge list and its four queries; counts read at the queries",
    run=run_reachability, mutant=functools.partial(run_reachability, b_edge=1.0),
    mutant_says="b = +1 on edges: path counts with alternating signs (no longer the number of paths)",
    strategy=_reach_strategy,
    grid=[{"k": k, "n_nodes": 27, "extra": 1, "order": o, "instances": 50, "form": "parallel"}
          for o in ("in_order", "shuffled") for k in (1, 2, 4, 8)],
    quick_grid=[{"k": 4, "n_nodes": 27, "extra": 1, "order": o, "instances": 20, "form": "chunk"}
                for o in ("in_order", "shuffled")],
    power_grid=[{"k": k, "n_nodes": 27, "extra": 1, "order": "in_order", "instances": 20, "form": "parallel"}
                for k in (2, 4, 8)],
    devices=("cpu",), modules=MODULES + ("impl.tasks.dag",),
))
