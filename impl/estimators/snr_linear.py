"""Nearest-stored-value decoding of the linear associative memory (docs/CLAIMS.md C3, the cosine proxy's companion).

The memory's retrieval SNR^{-1} in every convention is ``impl.memories.linear.LinearMemory`` through the one driver
``impl.estimators.snr.estimate_snr``. All sampling is seeded (``impl.numerics.device.generator``); data is drawn in
float64 on the CPU, then cast and moved.
"""

from __future__ import annotations

import torch

from impl.estimators.sampling import batches, gaussian
from impl.memories import linear as linear_memory
from impl.numerics.device import generator
from impl.numerics.errors import require_positive_int


def decoding_accuracy(n_pairs, d_k, d_v, trials, seed, *, device="cpu", dtype="float64") -> tuple[int, int]:
    """Nearest-stored-value decoding: probe every key, decode to argmax_j cos(o_i, v_j); returns
    (correct, total) over ``trials`` independent memories (a binomial count for an exact interval)."""
    n_pairs = require_positive_int("n_pairs", n_pairs)
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, minimum=2)
    gen = generator(seed)
    correct = total = 0
    per = linear_memory.per_trial(n_pairs, d_k, d_v) * max(1, n_pairs // 64)  # the read-outs' N x N similarities
    for b in batches(trials, per, linear_memory.BUDGET):
        K = gaussian((b, n_pairs, d_k), gen, device=device, dtype=dtype)
        V = gaussian((b, n_pairs, d_v), gen, device=device, dtype=dtype)
        O = linear_memory.read(linear_memory.write(K, V), K)
        sims = (O @ V.swapaxes(-1, -2)) / V.norm(dim=-1).unsqueeze(-2)  # cos up to the positive factor 1/||o_i||
        pred = sims.argmax(-1)
        correct += int((pred == torch.arange(n_pairs, device=pred.device)).sum())
        total += b * n_pairs
    return correct, total
