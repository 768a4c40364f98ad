"""The swap task (paper §3.2; docs/CLAIMS.md D4): n items in n slots, a sequence of L swaps, queries "which item is in
slot x".

Item s starts in slot s. Each token is one swap of two distinct slots (i, j), i < j, one of n(n-1)/2 token ids.
After every token t the targets are the item in each slot (n queries per position): dense supervision for
training; evaluation reads the queries after the last swap. Tracking the arrangement is the word problem of the
symmetric group S_n (NC^1-complete for n >= 5, Barrington 1989).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from impl.numerics.errors import InputError, require_positive_int


def swap_pairs(n: int) -> list[tuple[int, int]]:
    """The token vocabulary: all slot pairs (i, j), i < j, in lexicographic order."""
    n = require_positive_int("n", n, 2)
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


@dataclass(frozen=True)
class SwapBatch:
    tokens: torch.Tensor  # [batch, L] long: swap token ids
    targets: torch.Tensor  # [batch, L, n] long: item in slot s after the swaps up to t
    n: int


def swap_batch(n: int, L: int, batch: int, rng: np.random.Generator) -> SwapBatch:
    """``batch`` sequences of ``L`` uniformly random swaps of ``n`` slots, with their targets."""
    n = require_positive_int("n", n, 2)
    L = require_positive_int("L", L, 1)
    batch = require_positive_int("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng", "must be a numpy.random.Generator (seeded)")
    pairs = np.array(swap_pairs(n))
    tokens = rng.integers(0, len(pairs), size=(batch, L))
    items = np.tile(np.arange(n), (batch, 1))
    targets = np.empty((batch, L, n), dtype=np.int64)
    rows = np.arange(batch)
    for t in range(L):
        i, j = pairs[tokens[:, t], 0], pairs[tokens[:, t], 1]
        a, b = items[rows, i].copy(), items[rows, j].copy()
        items[rows, i], items[rows, j] = b, a
        targets[:, t] = items
    return SwapBatch(torch.from_numpy(tokens), torch.from_numpy(targets), n)


def vocab_size(n: int) -> int:
    return len(swap_pairs(n))
