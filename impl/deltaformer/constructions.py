"""Exact constructions of docs/CLAIMS.md D3 (paper Appendix E): state tracking by one delta-rule layer, no training.

Parity. One unit key k = 1 (d_k = d_v = 1). A start token writes the state, b = 1, v = 1: S_0 = 1. Bit x_t is the
token b_t = 2 x_t, v_t = 0, so S_t = S_{t-1} (1 - b_t k^2) = S_{t-1} (-1)^{x_t}, and the read o_t = S_t q with
q = 1 is (-1)^{x_1 + ... + x_t}: parity is o_t < 0, at every length (the values are exactly +-1 in floating point).
``parity_scalar`` runs this scalar state recurrence in plain floats (fast: 10^4 bits in milliseconds);
``parity_layer`` feeds the same tokens through the general delta-rule layer (``impl.rules.deltanet.recurrent``) and
``parity_deltaformer`` through DeltaFormer with the linear kernel, w = k and b-scaled values (D2).

Permutations. State S in R^{n x n} with column s = one-hot of the item in slot s. n start tokens write S = I
(b = 1, orthonormal keys k = v = e_s). A swap of slots i, j is the token b = 2, k = e = (e_i - e_j)/sqrt(2),
v = 0: S_t = S_{t-1}(I - 2 e e^T) = S_{t-1} P_(ij), which swaps columns i and j. Query tokens b = 0, q = e_x read
o = S e_x, the one-hot of the item in slot x.

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
        raise InputError("swap", f"slots must be two distinct integers in [0, {n - 1}], got ({i}, {j})")
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
