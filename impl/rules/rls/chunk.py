"""Recursive least squares, chunked form: ``parallel.py``'s batch solution inside each chunk, the sufficient
statistics (R = P^{-1}, A = S R) passed between chunks. Any T, any chunk size (zero-padded keys add nothing).
Conventions as ``recurrent.py``."""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.rules.inputs import check_chunk_size, check_qkv, check_scale
from impl.rules.rls.parallel import rls_block, state_from_stats, stats_from_state
from impl.rules.rls.recurrent import check_lam, check_rls_state


def rls_chunk(q, k, v, *, lam=1.0, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    lam, scale = check_lam(lam), check_scale(scale)
    C = check_chunk_size(chunk_size)
    S0, P0 = check_rls_state(initial_state, B, H, d_v, d_k, lam, q)
    R, A = stats_from_state(S0, P0)
    qc, kc, vc = to_chunks(scale * q, C), to_chunks(k, C), to_chunks(v, C)
    outs = []
    for i in range(qc.shape[2]):
        o_i, R, A = rls_block(qc[:, :, i], kc[:, :, i], vc[:, :, i], R, A)
        outs.append(o_i)
    o = from_chunks(torch.stack(outs, dim=2), T)
    return o, (state_from_stats(R, A) if output_final_state else None)


def rls_final_state(k, v, *, lam=1.0, initial_state=None, chunk_size=64):
    """The final state (S_T, P_T) of ``rls_chunk`` without its outputs: the same sufficient statistics, accumulated
    chunk by chunk with the same operations (so the same numbers), minus the per-token solves for o_t."""
    B, H, T, d_k, d_v = check_qkv(k, k, v)
    lam = check_lam(lam)
    C = check_chunk_size(chunk_size)
    S0, P0 = check_rls_state(initial_state, B, H, d_v, d_k, lam, k)
    R, A = stats_from_state(S0, P0)
    kc, vc = to_chunks(k, C), to_chunks(v, C)
    for i in range(kc.shape[2]):
        k_i, v_i = kc[:, :, i], vc[:, :, i]
        R = (R.unsqueeze(-3) + torch.cumsum(k_i.unsqueeze(-1) * k_i.unsqueeze(-2), dim=-3))[..., -1, :, :]
        A = (A.unsqueeze(-3) + torch.cumsum(v_i.unsqueeze(-1) * k_i.unsqueeze(-2), dim=-3))[..., -1, :, :]
    return state_from_stats(R, A)
