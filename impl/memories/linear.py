"""The linear associative memory (paper Eq. 1) and its signal/noise split (Eq. 4).

    write:  S = sum_j v_j k_j^T = V^T K                    (Eq. 1; equivalently S_t = S_{t-1} + v_t k_t^T)
    read:   o = S q
    split:  S k_i = c v_i + r,  c = k_i^T k_i,  r = sum_{j != i} v_j (k_j^T k_i)      (Eq. 4)

Arrays are batched over independent trials: K [..., N, d_k], V [..., N, d_v], S [..., d_v, d_k].
Works unchanged on NumPy arrays and PyTorch tensors (any device and dtype): only ``@`` and ``swapaxes``.
"""

from __future__ import annotations


def write(K, V):
    """S = V^T K, i.e. sum_j v_j k_j^T (Eq. 1). K [..., N, d_k], V [..., N, d_v] -> S [..., d_v, d_k]."""
    if K.shape[:-1] != V.shape[:-1]:
        from impl.numerics.errors import InputError

        raise InputError("V", f"keys {tuple(K.shape)} and values {tuple(V.shape)} must agree in all but the last axis")
    return V.swapaxes(-1, -2) @ K


def write_recurrent(K, V):
    """The same memory built one pair at a time, S_t = S_{t-1} + v_t k_t^T (linear attention's update)."""
    S = V[..., :1, :].swapaxes(-1, -2) @ K[..., :1, :] * 0
    for t in range(K.shape[-2]):
        S = S + V[..., t : t + 1, :].swapaxes(-1, -2) @ K[..., t : t + 1, :]
    return S


def read(S, Q):
    """o = S q for each row q of Q [..., M, d_k] -> O [..., M, d_v]."""
    return Q @ S.swapaxes(-1, -2)


def signal_noise(K, V):
    """Eq. 4 for every probe i at once: returns (c [..., N], r [..., N, d_v]) with S k_i = c_i v_i + r_i,
    r computed as the explicit sum over j != i (the definition, not the difference)."""
    G = K @ K.swapaxes(-1, -2)  # G_ij = k_i^T k_j
    c = (K * K).sum(-1)
    off = G - _diag_embed(c, G)
    r = off @ V  # r_i = sum_{j != i} (k_i^T k_j) v_j
    return c, r


def _diag_embed(c, like):
    try:
        import torch

        if isinstance(like, torch.Tensor):
            return torch.diag_embed(c)
    except ImportError:  # pragma: no cover
        pass
    import numpy as np

    out = np.zeros(like.shape, dtype=like.dtype)
    idx = np.arange(c.shape[-1])
    out[..., idx, idx] = c
    return out
