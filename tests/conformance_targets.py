"""Targets for tests/test_conformance.py: the suite's own chunked forms behind flash-linear-attention-style
conventions (sequence-first [B, T, H, d], log-gates, state h = S^T, scale defaulting to d_k^-1/2), and a deliberately
broken copy. Imported by module path (``tests.conformance_targets:...``), as another project's kernel would be."""

from __future__ import annotations

import torch

from impl.rules.deltanet.chunk import delta_rule_chunk
from impl.rules.gated_deltanet.chunk import gated_delta_rule_chunk


def _seq(x):
    return x.transpose(1, 2)


def _state(S):
    return None if S is None else S.transpose(-1, -2)


def chunk_gated_delta_rule(q, k, v, g, beta, scale=None, initial_state=None, output_final_state=False, chunk_size=64):
    """Gated DeltaNet in fla's conventions: q, k, v [B, T, H, d], g = log a and beta [B, T, H], h = S^T."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    o, S = gated_delta_rule_chunk(_seq(q), _seq(k), _seq(v), _seq(beta), _seq(g), scale=scale,
                                  initial_state=_state(initial_state), output_final_state=output_final_state,
                                  chunk_size=chunk_size, log_gates=True)
    return _seq(o), _state(S)


def chunk_delta_rule_no_state_passing(q, k, v, beta, scale=None, initial_state=None, output_final_state=False,
                                      chunk_size=64):
    """Broken on purpose: every chunk starts again from the initial state (the inter-chunk term is dropped)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    outs, S = [], None
    for lo in range(0, q.shape[1], chunk_size):
        sl = slice(lo, lo + chunk_size)
        o, S = delta_rule_chunk(_seq(q[:, sl]), _seq(k[:, sl]), _seq(v[:, sl]), _seq(beta[:, sl]), scale=scale,
                                initial_state=_state(initial_state), output_final_state=True, chunk_size=chunk_size)
        outs.append(_seq(o))
    return torch.cat(outs, dim=1), (_state(S) if output_final_state else None)


def delta_rule_own_scale(q, k, v, beta, scale=None, initial_state=None, output_final_state=False):
    """DeltaNet in the suite's conventions that ignores its ``scale`` argument and applies d_k^-1/2 itself (a peer
    whose adapter needs scale=rsqrt_dk)."""
    return delta_rule_chunk(q, k, v, beta, scale=q.shape[-1] ** -0.5, initial_state=initial_state,
                            output_final_state=output_final_state, chunk_size=4)


def gated_delta_rule_unchecked_log_gates(q, k, v, beta, g, scale=1.0, initial_state=None, output_final_state=False):
    """Gated DeltaNet in the suite's conventions except that it takes log-gates g = log a and, like many kernels,
    does not check them: given multiplicative gates a it silently decays by e^a > 1 (only the numbers show it).
    S_t = a_t S_{t-1} (I - b_t k_t k_t^T) + b_t v_t k_t^T, o_t = scale S_t q_t."""
    B, H, T, d_k = k.shape
    S = q.new_zeros(B, H, v.shape[-1], d_k) if initial_state is None else initial_state.clone()
    out = []
    for t in range(T):
        kt, vt, bt, at = k[:, :, t], v[:, :, t], beta[:, :, t, None], torch.exp(g[:, :, t])[..., None, None]
        S = at * S
        S = S + (bt * (vt - (S @ kt[..., None])[..., 0]))[..., None] * kt[..., None, :]
        out.append(scale * (S @ q[:, :, t, :, None])[..., 0])
    return torch.stack(out, 2), (S if output_final_state else None)
