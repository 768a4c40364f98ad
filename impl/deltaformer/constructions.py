"""Exact constructions and obstructions of docs/CLAIMS.md D3 (paper Appendix E), per kernel, no training.

Every construction here is scoped to the kernel it is built with; none is evidence for another kernel.

Linear kernel (the delta rule; DeltaFormer with ``kernel="linear"``, w = k, b-scaled values, which is DeltaNet by D2).
* Parity. One unit key k = 1 (d_k = d_v = 1). A start token writes the state, b = 1, v = 1: S_0 = 1. Bit x_t is the
  token b_t = 2 x_t, v_t = 0, so S_t = S_{t-1} (1 - b_t k^2) = S_{t-1} (-1)^{x_t}, and the read o_t = S_t q with
  q = 1 is (-1)^{x_1 + ... + x_t}: parity is o_t < 0, at every length (exactly +-1 in floating point).
  ``parity_scalar`` runs the scalar recurrence in plain floats; ``parity_layer`` feeds the same tokens through the
  delta-rule layer (``impl.rules.deltanet.recurrent``) and ``parity_deltaformer`` through DeltaFormer.
* Permutations. State S in R^{n x n} with column s = one-hot of the item in slot s. n start tokens write S = I
  (b = 1, orthonormal keys k = v = e_s). A swap of slots i, j is the token b = 2, k = e = (e_i - e_j)/sqrt(2),
  v = 0: S_t = S_{t-1}(I - 2 e e^T) = S_{t-1} P_(ij). Query tokens b = 0, q = e_x read o = S e_x, the one-hot of the
  item in slot x. ``permutation_layer`` (delta rule) and ``permutation_deltaformer`` (DeltaFormer forms).
  It relies on the linear kernel's additivity e_02 = e_01 + e_12 (see the obstruction below).

Unnormalised exponential kernel (``kernel="exp"``), parity (``parity_exp``). d = 1, q = k = w = 1, scale s, so
kappa(k, k) = e^s for every pair. Start token b = 0, v = 1; bit x_t is b_t = 2 x_t / e^s, v_t = 0. With
m_t = sum_{j<=t} u_j: u_t = -b_t e^s m_{t-1}, so m_t = m_{t-1}(1 - b_t e^s) = m_{t-1} (-1)^{x_t} and
o_t = e^s m_t = e^s (-1)^{x_1+...+x_t}. The product b_t e^s equals 2 up to one rounding of b_t, so the values carry
round-off (bounded in ``parity_exp_tolerance``) but the sign is parity at every length.

Normalised (softmax) kernels dilute (``normalised_constant_input``). For a constant input (every position the same
token, so every score equal) kappa1 = 1/(t-1) over j < t and kappa2 = 1/t over j <= t (1-indexed t), at any width:
    m_t = m_{t-1} (1 - b/(t-1)) + v,      o_t = m_t / t          (m_t = sum_{j<=t} u_j, m_1 = v)
so the deviation e_t = m_t - t v/(1 + b) obeys e_t = e_{t-1} (1 - b/(t-1)), e_1 = b v/(1 + b):
e_t = e_1 prod_{j=2}^{t} (1 - b/(j-1)). For b <= 2 every factor from j = 3 on is >= 0, so from t = 2 on
o_t - v/(1+b) = e_t / t keeps one direction and shrinks; at b = 2 the factor at j = 3 is 0 and o_t = v/3 exactly from
t = 3. Any linear readout of one normalised layer therefore changes sign at most once from t = 2 on along
1, 11, 111, .... A softmax kappa1 is the exponential kappa1 with step b_t / Z_t, Z_t = sum_{j<t} exp(s(w_t, k_j))
(``softmax_steps``): a token whose key already occurred m times before t (with w_t = k_t) has
Z_t >= m exp(s(k_t, k_t)), hence transition eigenvalue 1 - b_t exp(s(k_t, k_t))/Z_t >= 1 - b_t/m.

Obstruction for token-keyed positive kernels, S_n with n >= 3 (``cosine_gram``, ``span_residual``). DeltaFormer's
memory is S_t = sum_{j<=t} u_j phi(k_j)^T (phi: the readout kernel's features), so S_t - S_{t-1} = u_t phi(k_t)^T
whatever kappa1, b, w and v are. Suppose each swap token has its own key (keys depend on the token only, pairwise
distinct for (01), (12), (02)) and the memory after a word depends only on the permutation it composes to. The
relation (01)(12)(01) = (02) then makes S(pi (02)) - S(pi), whose rows lie along phi(k_02), equal to a sum of three
increments whose rows lie along phi(k_01) or phi(k_12): phi(k_02) must lie in span(phi(k_01), phi(k_12)), or (02)
never changes the memory. The linear kernel allows it (e_02 = e_01 + e_12: the construction above); for a strictly
positive-definite kernel such as exp, features of distinct keys are linearly independent (positive Gram
eigenvalues, positive span residual), so no such one-layer construction exists. Not covered: keys that depend on
context, several layers, equal keys for two transpositions, memories that differ between words composing to the
same permutation.

DAG reachability, linear kernel (``reachability_deltaformer``). Node one-hots e_x. Edge (x, y): k = e_y, w = e_x,
v = e_x, b = -1; query (s, t) after the edges: q = e_t, k = w = v = 0, b = 0. Then u_p = e_x + sum_{j<p, y_j = x} u_j
sums e_(origin) over every position-decreasing chain of edges ending in edge p, and the query reads
o = sum_{j: y_j = t} u_j, whose coordinate s counts the paths s -> t with edges in increasing position: on an
edge list in topological order that is the number of paths (> 0 iff t is reachable); on any order it is > 0 iff
the one-pass forward closure (``impl.tasks.dag.one_pass_reachable``) reaches t.

The [0, 1] obstruction (Grazzi et al. 2024). With a constant input the delta rule's transition I - b k k^T is
fixed; its eigenvalue along k is lambda = 1 - b ||k||^2 and 1 elsewhere, and the written term b v k^T lies along
k, so any linear readout is r(t) = gamma + beta lambda^t. For lambda in [0, 1] this is monotone in t: a threshold
readout changes its answer at most once along 1, 11, 111, ..., whose parity alternates, so its accuracy on the
first L such strings is at most (floor(L/2) + 1)/L -> 1/2. With lambda = -1 (b ||k||^2 = 2) it alternates.
"""

from __future__ import annotations

import math

import torch

from impl.numerics.errors import InputError, require_positive_int


def _check_bits(bits) -> list[int]:
    bits = [int(b) for b in bits]
    if any(b not in (0, 1) for b in bits):
        raise InputError("bits", "must all be 0 or 1")
    return bits


def parity_scalar(bits, *, b_one: float = 2.0) -> list[float]:
    """Outputs o_t (t = 1..L) of the scalar delta rule S_t = S_{t-1}(1 - b_t) + b_t v_t with k = q = 1,
    after the start token (b = 1, v = 1); bit x is (b, v) = (b_one x, 0), b_one = 2 for the construction.
    o_t = (-1)^{x_1+...+x_t} exactly. (``b_one = 1`` is the eigenvalue-0 version, which cannot count.)"""
    S = 0.0
    S = S * (1.0 - 1.0) + 1.0 * 1.0  # start token: b = 1, v = 1
    out = []
    for x in _check_bits(bits):
        b = b_one * x
        S = S * (1.0 - b) + b * 0.0
        out.append(S)
    return out


def parity_tokens(bits, *, dtype=torch.float64):
    """(q, k, v, beta) of shape [1, 1, L+1, 1] / [1, 1, L+1]: the start token then one token per bit."""
    bits = _check_bits(bits)
    L = len(bits)
    ones = torch.ones(1, 1, L + 1, 1, dtype=dtype)
    v = torch.zeros(1, 1, L + 1, 1, dtype=dtype)
    v[0, 0, 0, 0] = 1.0
    beta = torch.tensor([1.0] + [2.0 * x for x in bits], dtype=dtype).view(1, 1, L + 1)
    return ones, ones.clone(), v, beta


def parity_layer(bits, *, dtype=torch.float64) -> torch.Tensor:
    """The construction through the general delta-rule layer: outputs o_t for t = 1..L (start token dropped)."""
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    q, k, v, beta = parity_tokens(bits, dtype=dtype)
    o, _ = delta_rule_recurrent(q, k, v, beta)
    return o[0, 0, 1:, 0]


def parity_deltaformer(bits, *, dtype=torch.float64) -> torch.Tensor:
    """The construction through DeltaFormer (linear kernel, w = k, b-scaled values = DeltaNet by D2)."""
    from impl.deltaformer.parallel import deltaformer_parallel

    q, k, v, beta = parity_tokens(bits, dtype=dtype)
    o = deltaformer_parallel(q, k, v, beta, kernel="linear", scale=1.0, beta_scales_v=True)
    return o[0, 0, 1:, 0]


def swap_key(n: int, i: int, j: int, *, dtype=torch.float64) -> torch.Tensor:
    """e = (e_i - e_j)/sqrt(2) in R^n."""
    n = require_positive_int("n", n, 2)
    if not (0 <= i < n and 0 <= j < n and i != j):
        raise InputError("i, j", f"the swapped slots must be two distinct integers in [0, {n - 1}], got ({i}, {j})")
    e = torch.zeros(n, dtype=dtype)
    e[i], e[j] = 1 / math.sqrt(2), -1 / math.sqrt(2)
    return e


def permutation_tokens(n: int, swaps, *, dtype=torch.float64, b_swap: float = 2.0):
    """(q, k, v, beta) [1, 1, T, n] / [1, 1, T] with T = n + len(swaps) + n: n start tokens (write S = I), one token
    per swap (b = 2, k = e_ij, v = 0), then n query tokens (b = 0, q = e_x for x = 0..n-1)."""
    n = require_positive_int("n", n, 2)
    swaps = [(int(i), int(j)) for i, j in swaps]
    eye = torch.eye(n, dtype=dtype)
    keys = [eye[s] for s in range(n)] + [swap_key(n, i, j, dtype=dtype) for i, j in swaps] + [eye[0]] * n
    vals = [eye[s] for s in range(n)] + [torch.zeros(n, dtype=dtype)] * (len(swaps) + n)
    qs = [eye[0]] * (n + len(swaps)) + [eye[x] for x in range(n)]
    beta = [1.0] * n + [b_swap] * len(swaps) + [0.0] * n
    stack = lambda rows: torch.stack(rows).view(1, 1, len(rows), n)  # noqa: E731
    return stack(qs), stack(keys), stack(vals), torch.tensor(beta, dtype=dtype).view(1, 1, -1)


def permutation_layer(n: int, swaps, *, dtype=torch.float64, b_swap: float = 2.0):
    """Run the construction through the delta-rule layer. Returns (query outputs [n slots, n items], final state)."""
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    q, k, v, beta = permutation_tokens(n, swaps, dtype=dtype, b_swap=b_swap)
    o, S = delta_rule_recurrent(q, k, v, beta, output_final_state=True)
    return o[0, 0, -n:], S[0, 0]


def permutation_truth(n: int, swaps) -> list[int]:
    """item[s] after applying the swaps to the identity arrangement (item s in slot s)."""
    item = list(range(n))
    for i, j in swaps:
        item[i], item[j] = item[j], item[i]
    return item


def permutation_matrix(items) -> torch.Tensor:
    """The state the construction should hold: column s = one-hot of items[s]."""
    n = len(items)
    P = torch.zeros(n, n, dtype=torch.float64)
    for s, it in enumerate(items):
        P[it, s] = 1.0
    return P


def constant_input_readout(lam: float, gamma: float, beta: float, L: int) -> list[float]:
    """r(t) = gamma + beta lam^t, t = 1..L: any linear readout of the delta rule under a constant input."""
    return [gamma + beta * lam**t for t in range(1, L + 1)]


def sign_changes(values, tol: float = 0.0) -> int:
    """Number of sign changes in ``values``, ignoring entries with |x| <= tol (undetermined at round-off)."""
    signs = [1 if x > tol else -1 for x in values if abs(x) > tol]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def best_parity_accuracy_all_ones(outputs) -> float:
    """Best accuracy of any threshold readout, 'parity = [o_t > theta]' or '[o_t < theta]', on the strings 1^t,
    t = 1..L, given the readout values o_t: exhaustive over all thresholds (sort, then prefix counts)."""
    import numpy as np

    o = np.asarray(outputs, dtype=np.float64)
    L = o.size
    truth = (np.arange(1, L + 1) % 2).astype(np.int64)  # parity of 1^t
    order = np.argsort(o, kind="stable")
    o_sorted, t_sorted = o[order], truth[order]
    # threshold after position i (predict 1 above it): hits = zeros at or below + ones above
    zeros_below = np.concatenate([[0], np.cumsum(1 - t_sorted)])
    ones_above = t_sorted.sum() - np.concatenate([[0], np.cumsum(t_sorted)])
    cut_ok = np.concatenate([[True], o_sorted[1:] > o_sorted[:-1], [True]])  # only cut between distinct values
    hits = (zeros_below + ones_above)[cut_ok]
    best = max(hits.max(), L - hits.min())
    return float(best) / L


# ----------------------------------------------------------------------------------------------------------------
# The forms of impl.deltaformer, by name (constructions are checked through each of them)


def _form(name: str, chunk_size: int = 256):
    from impl.deltaformer import deltaformer_chunk, deltaformer_parallel, deltaformer_recurrent

    forms = {"recurrent": deltaformer_recurrent, "parallel": deltaformer_parallel,
             "chunk": lambda *a, **kw: deltaformer_chunk(*a, chunk_size=chunk_size, **kw)}
    if name not in forms:
        raise InputError("form", f"must be one of {', '.join(forms)}, got {name!r}")
    return forms[name]


# ----------------------------------------------------------------------------------------------------------------
# Unnormalised exponential kernel: parity


def parity_exp_tokens(bits, *, scale: float = 1.0, b_one: float = 2.0, dtype=torch.float64):
    """(q, k, v, beta) [1, 1, L+1, 1] / [1, 1, L+1]: q = k = w = 1; start token b = 0, v = 1; bit x: b = b_one x / e^s,
    v = 0 (b_one = 2: b kappa(k, k) = 2, transition eigenvalue -1)."""
    bits = _check_bits(bits)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and abs(scale) <= 30):
        raise InputError("scale", f"must be a finite number in [-30, 30] (exp(scale) must not overflow), got {scale!r}")
    L = len(bits)
    ones = torch.ones(1, 1, L + 1, 1, dtype=dtype)
    v = torch.zeros(1, 1, L + 1, 1, dtype=dtype)
    v[0, 0, 0, 0] = 1.0
    step = b_one / math.exp(scale)
    beta = torch.tensor([0.0] + [step * x for x in bits], dtype=dtype).view(1, 1, L + 1)
    return ones, ones.clone(), v, beta


def parity_exp(bits, *, scale: float = 1.0, form: str = "chunk", b_one: float = 2.0, dtype=torch.float64):
    """o_t (t = 1..L) of DeltaFormer with unnormalised exponential kernels (kappa1 = kappa2 = exp(s x^T y)) on the
    parity tokens: e^s (-1)^{x_1+...+x_t} up to round-off (``parity_exp_tolerance``)."""
    q, k, v, beta = parity_exp_tokens(bits, scale=scale, b_one=b_one, dtype=dtype)
    o = _form(form)(q, k, v, beta, kernel="exp", scale=float(scale))
    return o[0, 0, 1:, 0]


def parity_exp_tolerance(L: int, scale: float, dtype=torch.float64) -> float:
    """Round-off bound on |o_t - e^s (-1)^{p_t}|, t <= L, for ``parity_exp``.

    Exact arithmetic with the rounded inputs: c = fl(e^s), beta = fl(2/e^s), rho = beta c = 2(1 + d), |d| <= 2u, so
    |m_t| = |1 - rho|^{#ones} <= (1 + 4u)^L (drift (1 + 4u)^L - 1 <= 5 L u while L u < 0.1). Round-off: u_t is
    v_t - beta sum_{j<t} c u_j, a sum of t terms of size <= 2|m| <= 2 (1 + 5Lu); its error is <= gamma_t 2 t c'
    with c' = c (1 + 2u) and gamma_t = t u / (1 - t u). The accumulated error E_t = sum_{j<=t} e_j obeys
    E_t = E_{t-1}(1 - rho x_t) + e_t, |1 - rho| <= 1 + 4u, so |E_t| <= (1 + 4u)^L sum_t gamma_t 2 t rho c' <= 5 L^3 u c'
    (sum t^2 <= L^3/2 + L^2, times 4 for rho; slack for gamma_t's denominator); the readout c sum_{j<=t} u_j adds
    gamma_t c 2 t. Total: c (5 L^3 + 2 L^2 + 5 L + 2) u (1 + 2u), times 2 for the dropped second-order terms."""
    u = torch.finfo(dtype).eps / 2
    c = math.exp(scale)
    return 2 * c * (1 + 2 * u) * (5 * L**3 + 2 * L**2 + 5 * L + 2) * u


# ----------------------------------------------------------------------------------------------------------------
# Linear kernel: permutations through the DeltaFormer forms


def permutation_deltaformer(n: int, swaps, *, form: str = "parallel", dtype=torch.float64, b_swap: float = 2.0):
    """The permutation construction through DeltaFormer with the linear kernel, w = k, b-scaled values (DeltaNet by
    D2): the n query outputs [n slots, n items] (o_x = S e_x, read after the update)."""
    q, k, v, beta = permutation_tokens(n, swaps, dtype=dtype, b_swap=b_swap)
    o = _form(form)(q, k, v, beta, kernel="linear", scale=1.0, beta_scales_v=True)
    return o[0, 0, -n:]


# ----------------------------------------------------------------------------------------------------------------
# Normalised kernels: dilution


def normalised_constant_input(T: int, b) -> list:
    """(m_t, o_t / v) for t = 1..T of one DeltaFormer layer with softmax kappa1 and kappa2 under a constant input:
    m_1 = 1, m_t = m_{t-1} (1 - b/(t-1)) + 1, o_t = m_t / t (in units of v). Exact when ``b`` is a Fraction or int."""
    T = require_positive_int("T", T, 1)
    m, out = None, []
    for t in range(1, T + 1):
        m = 1 + 0 * b if t == 1 else m * (1 - b / (t - 1)) + 1
        out.append((m, m / t))
    return out


def constant_input(T: int, d: int, b: float, *, seed: int = 0, dtype=torch.float64):
    """(q, k, v, beta) [1, 1, T, d] / [1, 1, T]: one random token (q, k, v drawn once, from ``seed``) repeated T
    times, constant step b."""
    T = require_positive_int("T", T, 1)
    d = require_positive_int("d", d, 1)
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(3, d, generator=g, dtype=torch.float64).to(dtype)
    rep = lambda r: r.view(1, 1, 1, d).expand(1, 1, T, d).contiguous()  # noqa: E731
    return rep(x[0]), rep(x[1]), rep(x[2]), torch.full((1, 1, T), float(b), dtype=dtype)


def softmax_steps(w, k, beta, scale: float):
    """The steps b_t / Z_t, Z_t = sum_{j<t} exp(scale w_t^T k_j) (0 at t = 0), that make the exponential kappa1
    equal the softmax kappa1: b_t softmax_j(scale w_t^T k_j) = (b_t / Z_t) exp(scale w_t^T k_j). Shapes as for the
    forms ([B, H, T, d] and [B, H, T]); computed in log space."""
    T = w.shape[-2]
    s = scale * (w @ k.transpose(-1, -2))
    mask = torch.ones(T, T, dtype=torch.bool, device=w.device).tril(-1)
    logz = torch.logsumexp(s.masked_fill(~mask, float("-inf")), dim=-1)
    return torch.where(torch.isfinite(logz), beta * torch.exp(-torch.where(torch.isfinite(logz), logz,
                                                                             torch.zeros_like(logz))),
                       torch.zeros_like(beta))


def softmax_eigenvalues(w, k, beta, scale: float):
    """The transition eigenvalue along phi(k_t), 1 - (b_t / Z_t) exp(scale w_t^T k_t), of the softmax-kappa1
    DeltaFormer seen as the exponential one with step b_t / Z_t (1 at t = 0)."""
    own = torch.exp(scale * (w * k).sum(-1))
    return 1 - softmax_steps(w, k, beta, scale) * own


# ----------------------------------------------------------------------------------------------------------------
# Obstruction for token-keyed positive kernels


def kernel_value(x, y, kernel: str, scale: float):
    """kappa(x, y) for vectors (last dimension): exp(scale x^T y) or scale x^T y."""
    s = scale * (x * y).sum(-1)
    if kernel == "exp":
        return torch.exp(s)
    if kernel == "linear":
        return s
    raise InputError("kernel", f"must be 'exp' or 'linear' (unnormalised feature kernels), got {kernel!r}")


def feature_gram(keys, kernel: str, scale: float):
    """G_ij = kappa(k_i, k_j) = phi(k_i)^T phi(k_j) for keys [m, d] (float64)."""
    keys = torch.as_tensor(keys, dtype=torch.float64)
    return kernel_value(keys[:, None, :], keys[None, :, :], kernel, scale)


def cosine_gram(keys, kernel: str, scale: float):
    """C_ij = G_ij / sqrt(G_ii G_jj): the Gram matrix of the unit features phi(k)/||phi(k)|| (the same linear
    (in)dependence as G, entries in [-1, 1]). For the exponential kernel exactly exp(-scale ||k_i - k_j||^2 / 2),
    the Gaussian kernel (computed in that form: no overflow)."""
    keys = torch.as_tensor(keys, dtype=torch.float64)
    if kernel == "exp":
        return torch.exp(-scale * ((keys[:, None, :] - keys[None, :, :]) ** 2).sum(-1) / 2)
    G = feature_gram(keys, kernel, scale)
    d = G.diagonal().sqrt()
    return G / (d[:, None] * d[None, :])


def span_residual(k01, k12, k02, kernel: str, scale: float) -> float:
    """Squared distance of the unit feature phi(k02)/||phi(k02)|| from span(phi(k01), phi(k12)): the Schur
    complement 1 - c^T C^-1 c of the cosine Gram (C of (k01, k12), c_i = its cosine with k02), by least squares (a
    singular C is handled). 0 exactly when phi(k02) lies in the span."""
    C = cosine_gram(torch.stack([torch.as_tensor(x, dtype=torch.float64) for x in (k01, k12, k02)]), kernel, scale)
    coef = torch.linalg.lstsq(C[:2, :2], C[:2, 2:]).solution.squeeze(-1)
    return float(C[2, 2] - C[:2, 2] @ coef)


def swap_keys(n: int, i: int, j: int, l: int, dtype=torch.float64):
    """The linear construction's keys e_ij, e_jl, e_il for the transpositions (i j), (j l), (i l)."""
    return swap_key(n, i, j, dtype=dtype), swap_key(n, j, l, dtype=dtype), swap_key(n, i, l, dtype=dtype)


# ----------------------------------------------------------------------------------------------------------------
# DAG reachability (linear kernel)


def reachability_tokens(edges, queries, n_nodes: int, *, dtype=torch.float64):
    """(q, k, w, v, beta) of the reachability construction: edges then queries (module docstring)."""
    n_nodes = require_positive_int("n_nodes", n_nodes, 1)
    T = len(edges) + len(queries)
    q, k, w, v = (torch.zeros(1, 1, T, n_nodes, dtype=dtype) for _ in range(4))
    beta = torch.zeros(1, 1, T, dtype=dtype)
    for p, (x, y) in enumerate(edges):
        if not (0 <= x < n_nodes and 0 <= y < n_nodes):
            raise InputError("edges", f"node ids must be in [0, {n_nodes - 1}], got ({x}, {y})")
        k[0, 0, p, y] = w[0, 0, p, x] = v[0, 0, p, x] = 1.0
        beta[0, 0, p] = -1.0
    for r, (s, t) in enumerate(queries):
        if not (0 <= s < n_nodes and 0 <= t < n_nodes):
            raise InputError("queries", f"node ids must be in [0, {n_nodes - 1}], got ({s}, {t})")
        q[0, 0, len(edges) + r, t] = 1.0
    return q, k, w, v, beta


def reachability_deltaformer(edges, queries, n_nodes: int, *, form: str = "parallel", dtype=torch.float64) -> list:
    """For each query (s, t): the number of paths s -> t whose edges appear in increasing position, read as
    coordinate s of the query's DeltaFormer output (linear kernel; exact integers in float64 below 2^53)."""
    q, k, w, v, beta = reachability_tokens(edges, queries, n_nodes, dtype=dtype)
    o = _form(form)(q, k, v, beta, w=w, kernel="linear", scale=1.0, scale_w=1.0)
    E = len(edges)
    return [float(o[0, 0, E + r, s]) for r, (s, _) in enumerate(queries)]
