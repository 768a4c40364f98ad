"""TTT / Titans, chunked form: the prefix scan of ``parallel.py`` inside each chunk, the stacked state [S, m]
passed between chunks. Any T, any chunk size. Conventions as ``recurrent.py``."""

from __future__ import annotations

import torch

from impl.rules.inputs import check_chunk_size, check_scale
from impl.rules.ttt.parallel import ttt_block
from impl.rules.ttt.recurrent import check_ttt


def ttt_chunk(q, k, v, theta, eta, alpha, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    _, theta, eta, alpha, S, m = check_ttt(q, k, v, theta, eta, alpha, initial_state)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    T, d = q.shape[2], k.shape[-1]
    X = torch.cat([S, m], dim=-1)
    # No padding here: a padded token with theta = 0 would still move S by the momentum (S_t = S + m), so the
    # last chunk is simply shorter.
    outs = []
    for start in range(0, T, C):
        sl = slice(start, min(start + C, T))
        o_i, X = ttt_block(scale * q[:, :, sl], k[:, :, sl], v[:, :, sl], theta[:, :, sl], eta[:, :, sl], alpha[:, :, sl], X)
        outs.append(o_i)
    o = torch.cat(outs, dim=2)
    return o, ((X[..., :d], X[..., d:]) if output_final_state else None)
