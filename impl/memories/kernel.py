"""Kernel associative memories (paper §2.1.1; docs/CLAIMS.md C5, C8).

Memory (C5): S = sum_j v_j phi(k_j)^T, o = S phi(q) = sum_j v_j kappa(k_j, q). Probing pair i:
o = c v_i + r with c = kappa(k_i, k_i), r = sum_{j != i} v_j kappa(k_j, k_i) (C2 for kernels).
Every read here is done in log space: weights exp(log kappa - shift) with a common shift, then the shift is
carried as a log scale, so exp(x^T y / tau) never overflows (C7 trap 3). Softmax attention (C5) is the same
read with the shift replaced by the log of the softmax normaliser; C8: the SNR does not depend on that choice.
"""

from __future__ import annotations

import torch

from impl.memories.kernels import check_kernel_params, features, log_kernel


def write_features(phi_K, V):
    """S = sum_j v_j phi(k_j)^T = V^T phi(K): phi_K [..., N, F], V [..., N, d_v] -> S [..., d_v, F] (C5)."""
    return V.transpose(-1, -2) @ phi_K


def read_features(S, phi_Q):
    """o = S phi(q) for each row of phi_Q [..., M, F] -> [..., M, d_v]."""
    return phi_Q @ S.transpose(-1, -2)


def feature_memory_read(feature_map: str, K, V, Q, **params):
    """Write with a finite feature map, then read: o = S phi(q)."""
    return read_features(write_features(features(feature_map, K, **params), V), features(feature_map, Q, **params))


def kernel_read_log(kernel: str, K, V, Q, **params):
    """o = sum_j v_j kappa(k_j, q) for every row q of Q, as (log_scale [..., M, 1], o / exp(log_scale)).
    The scale is max_j log|kappa(k_j, q)|, so no exponential overflows."""
    la, sg = log_kernel(kernel, Q, K, **params)  # [..., M, N]
    shift = la.amax(-1, keepdim=True).clamp_min(torch.finfo(la.dtype).min)
    return shift, (sg * torch.exp(la - shift)) @ V


def kernel_read(kernel: str, K, V, Q, **params):
    """o = sum_j v_j kappa(k_j, q) (may overflow for huge exponents; memories use ``kernel_read_log``)."""
    shift, o = kernel_read_log(kernel, K, V, Q, **params)
    return o * torch.exp(shift)


def softmax_read(K, V, Q, tau: float = 1.0):
    """Softmax attention as a memory: o = sum_j softmax_j(q^T k_j / tau) v_j (C5: normalised exp kernel)."""
    check_kernel_params("exp", tau=tau)
    return torch.softmax(Q @ K.transpose(-1, -2) / tau, dim=-1) @ V


def signal_noise_log(kernel: str, K, V, **params):
    """For every probe i = stored key k_i: (log c_i, r_i / c_i) with o_i = c_i v_i + r_i (C2/C5).
    r is the explicit sum over j != i. K [..., N, d_k], V [..., N, d_v]."""
    if kernel == "exp":  # fast path: one GEMM, then in-place shift, exp and zeroed diagonal (3 passes over N^2)
        tau = check_kernel_params("exp", **params)["tau"]
        G = (K / tau) @ K.transpose(-1, -2)
        logc = torch.diagonal(G, dim1=-2, dim2=-1).clone()
        G.sub_(logc[..., :, None]).exp_()
        torch.diagonal(G, dim1=-2, dim2=-1).zero_()
        return logc, G @ V
    la, sg = log_kernel(kernel, K, K, **params)  # [..., N, N], row i = probe i
    n = K.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=K.device)
    logc = torch.diagonal(la, dim1=-2, dim2=-1)
    w = torch.where(eye, torch.zeros_like(la), sg * torch.exp(la - logc[..., :, None]))
    return logc, w @ V


def snr_samples(kernel: str, K, V, **params):
    """X_i = ||r_i||^2 / (c_i^2 ||v_i||^2) for every probe i (one sample of the conditional SNR^{-1})."""
    _, r_over_c = signal_noise_log(kernel, K, V, **params)
    return (r_over_c * r_over_c).sum(-1) / (V * V).sum(-1)


def softmax_snr_samples(K, V, tau: float = 1.0):
    """The same ratio computed from the softmax-normalised read (C8): signal p_ii v_i, noise sum_{j!=i} p_ij v_j."""
    P = torch.softmax(K @ K.transpose(-1, -2) / tau, dim=-1)
    n = K.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=K.device)
    pii = torch.diagonal(P, dim1=-2, dim2=-1)
    noise = torch.where(eye, torch.zeros_like(P), P) @ V
    return (noise * noise).sum(-1) / (pii**2 * (V * V).sum(-1))
