"""TTT-Linear and Titans with a LayerNorm inside the memory, recurrent forms (ground truths for conformance).

The memory is a linear map W [d, d] (row convention: f(x) = x W + b_in, so W = S^T in the rest of impl/rules)
wrapped in a LayerNorm with a residual target, as in TTT-Linear (Sun et al. 2024, §2) and flash-linear-attention's
``ttt`` / ``titans`` references:

    LN(z) = w . (z - mean(z)) / sqrt(var(z) + eps) + b        (per head: w, b [H, d]; biased variance)
    l(W, b_in; k, v) = 1/2 || LN(k W + b_in) - (v - k) ||^2    (the per-token loss: the memory learns v - k)

Its gradient is taken by autograd in float64 (never by a hand-written LayerNorm backward: that is what a peer's
kernel is checked against). Mini-batch semantics (``mini_batch`` = C): the gradients of the tokens of one block of C
are all taken at the state at the start of the block.

TTT-Linear (``ttt_linear_ln_recurrent``), per block with start state (W0, b0) and learning rates eta_t:

    G_t = sum_{j <= t in block} grad_W l(W0, b0; k_j, v_j),   g_t = sum_{j <= t in block} grad_b l(...)
    z_t = scale q_t (W0 - eta_t G_t) + (b0 - eta_t g_t),       o_t = z_t + LN(z_t)
    (W0, b0) <- (W0 - eta_last G_last, b0 - eta_last g_last)   at the end of the block

(the learning rate of the reading token, eta_t, scales every gradient of the block so far, as in TTT's dual form).

Titans (``titans_ln_recurrent``, Behrouz et al. 2025, Eq. 13-14 with this memory; no inner bias, no scale), with
W_nabla the state at the start of the block:

    m_t = eta_t m_{t-1} - theta_t grad_W L(W_nabla; k_t, v_t),   L = 2 l = || LN(k W) - (v - k) ||^2
    W_t = (1 - alpha_t) W_{t-1} + m_t,                          o_t = z_t + LN(z_t),  z_t = q_t W_t

The readout z + LN(z) is flash-linear-attention's (TTT's paper writes f(q) = q + LN(q W + b)); it is kept so that a
comparison tests the update rule, which is the object here. Shapes: q, k, v [B, H, T, d] (d_k = d_v = d), eta,
theta, alpha [B, H, T], w, b [H, d].
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError, require_positive_int
from impl.rules.inputs import check_qkv, check_scalar_per_token, check_scale


def layer_norm(z, w, b, eps):
    """w . (z - mean) / sqrt(var + eps) + b over the last axis (biased variance); w, b broadcast [H, 1, d]."""
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    return w * (z - mean) / torch.sqrt(var + eps) + b


def loss_gradients(W, b_in, k, v, w, b, eps):
    """(grad_W, grad_b) of l = 1/2 ||LN(k W + b_in) - (v - k)||^2 per [B, H] (k, v [B, H, d]), by autograd."""
    with torch.enable_grad():
        W_ = W.detach().clone().requires_grad_(True)
        b_ = b_in.detach().clone().requires_grad_(True)
        z = (k.unsqueeze(-2) @ W_).squeeze(-2) + b_
        loss = 0.5 * ((layer_norm(z, w, b, eps) - (v - k)) ** 2).sum()
        gW, gb = torch.autograd.grad(loss, (W_, b_))
    return gW, gb


def _check(q, k, v, w, b, eps, mini_batch):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    if d_k != d_v:
        raise InputError("v", f"needs d_v = d_k (the memory maps d to d), got d_k = {d_k}, d_v = {d_v}")
    for name, x in (("w", w), ("b", b)):
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (H, d_k):
            raise InputError(name, f"must be a tensor of shape [H, d] = {(H, d_k)}")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise InputError("eps", f"must be a number > 0, got {eps!r}")
    require_positive_int("mini_batch", mini_batch)
    return B, H, T, d_k, w.to(q).unsqueeze(-2), b.to(q).unsqueeze(-2)


def ttt_linear_ln_recurrent(q, k, v, eta, w, b, *, scale=1.0, eps=1e-6, mini_batch=16, initial_state=None,
                            output_final_state=False):
    """Returns (o [B, H, T, d], (W, b_in) or None); initial_state: (W [B, H, d, d], b_in [B, H, d]) or None."""
    B, H, T, d, w, b = _check(q, k, v, w, b, eps, mini_batch)
    eta = check_scalar_per_token("eta", eta, q, low=0.0, high=float("inf"))
    scale = check_scale(scale)
    if initial_state is None:
        W0, b0 = q.new_zeros(B, H, d, d), q.new_zeros(B, H, d)
    else:
        W0, b0 = (x.to(q) for x in initial_state)
    outs = []
    for start in range(0, T, mini_batch):
        G, g = torch.zeros_like(W0), torch.zeros_like(b0)
        for t in range(start, min(start + mini_batch, T)):
            gW, gb = loss_gradients(W0, b0, k[:, :, t], v[:, :, t], w.squeeze(-2), b.squeeze(-2), eps)
            G, g = G + gW, g + gb
            e = eta[:, :, t, None]
            z = scale * (q[:, :, t].unsqueeze(-2) @ (W0 - e.unsqueeze(-1) * G)).squeeze(-2) + (b0 - e * g)
            outs.append(z + layer_norm(z, w.squeeze(-2), b.squeeze(-2), eps))
        W0, b0 = W0 - e.unsqueeze(-1) * G, b0 - e * g
    o = torch.stack(outs, dim=2)
    return o, ((W0, b0) if output_final_state else None)


def titans_ln_recurrent(q, k, v, theta, alpha, eta, w, b, *, eps=1e-6, mini_batch=16, initial_state=None,
                        output_final_state=False):
    """Returns (o [B, H, T, d], W_T or None); initial_state: W [B, H, d, d] or None (momentum starts at 0)."""
    B, H, T, d, w, b = _check(q, k, v, w, b, eps, mini_batch)
    theta = check_scalar_per_token("theta", theta, q, low=0.0, high=float("inf"))
    alpha = check_scalar_per_token("alpha", alpha, q, low=0.0, high=1.0)
    eta = check_scalar_per_token("eta", eta, q, low=0.0, high=1.0)
    W = q.new_zeros(B, H, d, d) if initial_state is None else initial_state.to(q)
    m, W_nabla, zero_bias = torch.zeros_like(W), W, q.new_zeros(B, H, d)
    outs = []
    for t in range(T):
        gW, _ = loss_gradients(W_nabla, zero_bias, k[:, :, t], v[:, :, t], w.squeeze(-2), b.squeeze(-2), eps)
        m = eta[:, :, t, None, None] * m - theta[:, :, t, None, None] * (2.0 * gW)  # grad of L = 2 l
        W = (1.0 - alpha[:, :, t, None, None]) * W + m
        z = (q[:, :, t].unsqueeze(-2) @ W).squeeze(-2)
        outs.append(z + layer_norm(z, w.squeeze(-2), b.squeeze(-2), eps))
        if (t + 1) % mini_batch == 0:
            W_nabla = W
    o = torch.stack(outs, dim=2)
    return o, (W if output_final_state else None)
