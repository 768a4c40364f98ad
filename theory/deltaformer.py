"""Exact symbolic facts behind DeltaFormer and its expressiveness (docs/CLAIMS.md D1-D3), in SymPy.

* D1, nilpotent Neumann series: for a strictly lower triangular T x T matrix B, B^T = 0 and
  (I + B)^{-1} = sum_{n<T} (-B)^n. Entry (t, j) of (-B)^n is the sum over chains t > j_1 > ... > j_{n-1} > j of
  n backward hops, each weighted -B: the "multi-hop" reading of DeltaFormer's (I + B)^{-1}.
* D2, reduction to DeltaNet: with the linear kernel, w = k and b-scaled values, u_t = b_t (v_t - sum_{j<t}
  (k_t^T k_j) u_j) and S_t = sum_{j<=t} u_j k_j^T obeys S_t = S_{t-1}(I - b_t k_t k_t^T) + b_t v_t k_t^T.
* D3, swap as reflection: with e = (e_i - e_j)/sqrt(2), I - 2 e e^T is the permutation matrix of (i j); so one
  delta-rule step with b = 2, unit key e and value 0 right-multiplies the state by that permutation.
* D3, parity: with b_t = 2 x_t (x_t in {0, 1}) and a fixed unit key, the scalar transition 1 - b_t = (-1)^{x_t},
  so the state after L bits is S_0 (-1)^{x_1 + ... + x_L}.
* D3, the [0, 1] obstruction: a scalar recurrence h_t = a h_{t-1} + c with a >= 0 has
  h_{t+1} - h_t = a^t (h_1 - h_0): the increments never change sign, so h_t is monotone in t and a threshold
  readout changes its answer at most once along the strings 1, 11, 111, ... whose parity alternates.
* D3, obstruction for token-keyed positive kernels: the transpositions of S_3 obey (01)(12)(01) = (02); a product of
  three rank-one updates T_x = I - c_x k_x^T with the outer keys equal, T_a T_b T_a - I, has every row in
  span(k_a^T, k_b^T), while T_02 - I = -c_02 k_02^T has rows along k_02; the linear construction's keys are
  additive, e_02 = e_01 + e_12 (unnormalised e_ij = e_i - e_j).
* D3, dilution of a normalised layer under a constant input: m_t = m_{t-1}(1 - b/(t-1)) + v has the solution
  t v/(1 + b) plus a homogeneous part with the factors (1 - b/(j-1)), the factor at j = 3 vanishing at b = 2.
"""

from __future__ import annotations

import sympy as sp


def strictly_lower(T: int, name: str = "B") -> sp.Matrix:
    """A generic strictly lower triangular T x T matrix of symbols B_t_j (t > j)."""
    return sp.Matrix(T, T, lambda t, j: sp.Symbol(f"{name}_{t}_{j}") if t > j else 0)


def neumann_sum(B: sp.Matrix) -> sp.Matrix:
    """sum_{n=0}^{T-1} (-B)^n."""
    T = B.shape[0]
    out, term = sp.eye(T), sp.eye(T)
    for _ in range(1, T):
        term = term * (-B)
        out = out + term
    return out


def hop_paths(B: sp.Matrix, t: int, j: int):
    """Entry (t, j) of (I + B)^{-1} as the sum over all strictly decreasing chains t = p_0 > p_1 > ... > p_n = j
    of prod_m (-B_{p_m, p_{m+1}}) (n hops; the empty chain, n = 0, when t = j)."""
    if t == j:
        return sp.Integer(1)
    if t < j:
        return sp.Integer(0)
    from itertools import combinations

    total = sp.Integer(0)
    inner = list(range(j + 1, t))
    for r in range(len(inner) + 1):
        for mids in combinations(inner, r):
            chain = [t, *sorted(mids, reverse=True), j]
            term = sp.Integer(1)
            for a, b in zip(chain, chain[1:]):
                term *= -B[a, b]
            total += term
    return total


def swap_reflection(n: int, i: int, j: int):
    """(I - 2 e e^T, permutation matrix of the transposition (i j)) with e = (e_i - e_j)/sqrt(2), exact."""
    e = sp.zeros(n, 1)
    e[i], e[j] = 1 / sp.sqrt(2), -1 / sp.sqrt(2)
    reflection = sp.eye(n) - 2 * e * e.T
    perm = sp.eye(n)
    perm[i, i] = perm[j, j] = 0
    perm[i, j] = perm[j, i] = 1
    return reflection, perm


def deltanet_from_u(T: int, d_k: int):
    """(S_T from the D2 recurrence u_t = b_t (v_t - sum_{j<t} (k_t.k_j) u_j), S_T from the delta rule), d_v = 1."""
    ks = [sp.Matrix(d_k, 1, lambda a, _: sp.Symbol(f"k_{t}_{a}")) for t in range(T)]
    vs = [sp.Symbol(f"v_{t}") for t in range(T)]
    bs = [sp.Symbol(f"b_{t}") for t in range(T)]
    us = []
    for t in range(T):
        acc = sum(((ks[t].T * ks[j])[0, 0] * us[j] for j in range(t)), sp.Integer(0))
        us.append(bs[t] * (vs[t] - acc))
    S_u = sum((us[j] * ks[j].T for j in range(T)), sp.zeros(1, d_k))
    S = sp.zeros(1, d_k)
    for t in range(T):
        S = S * (sp.eye(d_k) - bs[t] * ks[t] * ks[t].T) + bs[t] * vs[t] * ks[t].T
    return sp.expand(S_u), sp.expand(S)


def scalar_increment(t: sp.Symbol | int = None):
    """(h_{t+1} - h_t from the closed form, a^t (h_1 - h_0)) for h_t = a h_{t-1} + c."""
    a, c, h0 = sp.symbols("a c h_0", real=True)
    t = sp.Symbol("t", integer=True, nonnegative=True) if t is None else t
    h = lambda s: a**s * h0 + c * (1 - a**s) / (1 - a)  # noqa: E731  closed form for a != 1
    return sp.simplify(h(t + 1) - h(t)), a**t * ((a * h0 + c) - h0)


def transposition(n: int, i: int, j: int) -> sp.Matrix:
    """The n x n permutation matrix of the transposition (i j)."""
    P = sp.eye(n)
    P[i, i] = P[j, j] = 0
    P[i, j] = P[j, i] = 1
    return P


def transposition_relation(n: int):
    """(P_(01) P_(12) P_(01), P_(02)): the group relation (01)(12)(01) = (02) in S_n."""
    return transposition(n, 0, 1) * transposition(n, 1, 2) * transposition(n, 0, 1), transposition(n, 0, 2)


def rank_one_triple(d: int):
    """(T_a T_b T_a - I, X k_a^T + Y k_b^T) with T_x = I - c_x k_x^T for generic column vectors c_a, c_b, c_a', k_a,
    k_b in R^d (the first and third factor share the key k_a, not necessarily c): the product's departure from I
    has every row in span(k_a^T, k_b^T), with
    X = -c_a - c_a' + c_a (k_a.c_a') + c_b (k_b.c_a') - c_a (k_a.c_b)(k_b.c_a') and Y = -c_b + c_a (k_a.c_b)."""
    vec = lambda name: sp.Matrix(d, 1, lambda r, _: sp.Symbol(f"{name}_{r}"))  # noqa: E731
    ca, cb, cc, ka, kb = vec("c_a"), vec("c_b"), vec("c_c"), vec("k_a"), vec("k_b")
    T = lambda c, k: sp.eye(d) - c * k.T  # noqa: E731
    dot = lambda x, y: (x.T * y)[0, 0]  # noqa: E731
    lhs = T(ca, ka) * T(cb, kb) * T(cc, ka) - sp.eye(d)
    X = -ca - cc + ca * dot(ka, cc) + cb * dot(kb, cc) - ca * dot(ka, cb) * dot(kb, cc)
    Y = -cb + ca * dot(ka, cb)
    return sp.expand(lhs), sp.expand(X * ka.T + Y * kb.T)


def swap_key_additivity(n: int):
    """(e_0 - e_2, (e_0 - e_1) + (e_1 - e_2)): the linear kernel's keys of (02), (01), (12) are additive."""
    e = lambda i: sp.eye(n)[:, i]  # noqa: E731
    return e(0) - e(2), (e(0) - e(1)) + (e(1) - e(2))


def dilution_particular(b=None):
    """(one step of m_t = m_{t-1}(1 - b/(t-1)) + v applied to m_{t-1} = (t-1) v/(1+b), t v/(1+b)): the ratio
    v/(1+b) is a fixed point of o_t = m_t / t."""
    b = sp.Symbol("b", positive=True) if b is None else b
    t, v = sp.symbols("t v", positive=True)
    prev = (t - 1) * v / (1 + b)
    return sp.simplify(prev * (1 - b / (t - 1)) + v), t * v / (1 + b)


def dilution_deviation(b=None):
    """(e_2 from the recursion, e_1 (1 - b)) for the deviation e_t = m_t - t v/(1+b): m_1 = v, m_2 = m_1(1 - b) + v."""
    b = sp.Symbol("b", positive=True) if b is None else b
    v = sp.Symbol("v", positive=True)
    e1 = v - v / (1 + b)
    m2 = v * (1 - b) + v
    return sp.simplify(m2 - 2 * v / (1 + b)), sp.simplify(e1 * (1 - b))
