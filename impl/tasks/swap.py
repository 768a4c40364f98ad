"""The swap task (paper §3.2; docs/CLAIMS.md D4): n items in n slots, a sequence of L swaps, queries "which item is in
slot x".

Item s starts in slot s. A sequence is a start token then L tokens, each a swap of two distinct slots (i, j), i < j,
or "no swap". Token ids: 0 = start, 1 = no swap, 2 + p = the p-th pair of ``swap_pairs(n)`` (lexicographic), so the
vocabulary has n(n-1)/2 + 2 ids; the L tokens are drawn uniformly from the n(n-1)/2 + 1 non-start ids. The start
token gives every model a fixed first position (a softmax Transformer without positional encoding can then tell
how long the prefix is); the no-swap token makes n = 2 the parity of a bit string rather than the parity of the
length (with only one swap token every input of length L is the same sequence). After every position t the targets
are the item in each slot (n queries per position; the identity at the start token): dense supervision for
training; evaluation reads one slot query after the last token. Tracking the arrangement is the word problem of
the symmetric group S_n (NC^1-complete for n >= 5, Barrington 1989); the lengths L are the number of tokens after
the start token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from impl.numerics.errors import InputError, require_positive_int

START, NO_SWAP, FIRST_PAIR = 0, 1, 2


def swap_pairs(n: int) -> list[tuple[int, int]]:
    """All slot pairs (i, j), i < j, in lexicographic order (token id 2 + index)."""
    n = require_positive_int("n", n, 2)
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def vocab_size(n: int) -> int:
    return len(swap_pairs(n)) + FIRST_PAIR


def decode_token(n: int, token: int) -> tuple[int, int] | None:
    """The swap a token id stands for: (i, j), or None for "no swap". The start token is not a swap."""
    pairs = swap_pairs(n)
    token = int(token)
    if token == NO_SWAP:
        return None
    if not FIRST_PAIR <= token < FIRST_PAIR + len(pairs):
        raise InputError("token", f"must be {NO_SWAP} (no swap) or a pair id in [{FIRST_PAIR}, "
                                  f"{FIRST_PAIR + len(pairs) - 1}] for n = {n}, got {token}")
    return pairs[token - FIRST_PAIR]


@dataclass(frozen=True)
class SwapBatch:
    tokens: torch.Tensor  # [batch, L + 1] long: the start token, then L swap / no-swap ids
    targets: torch.Tensor  # [batch, L + 1, n] long: item in slot s after the tokens up to t
    n: int


def swap_batch(n: int, L: int, batch: int, rng: np.random.Generator) -> SwapBatch:
    """``batch`` sequences of ``L`` uniformly random swap / no-swap tokens of ``n`` slots, with their targets."""
    n = require_positive_int("n", n, 2)
    L = require_positive_int("L", L, 1)
    batch = require_positive_int("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng", "must be a numpy.random.Generator (seeded)")
    pairs = np.array([(0, 0)] + swap_pairs(n))  # index 0: no swap (slot 0 with itself)
    draws = rng.integers(0, len(pairs), size=(batch, L))
    items = np.tile(np.arange(n), (batch, 1))
    targets = np.empty((batch, L + 1, n), dtype=np.int64)
    targets[:, 0] = items
    rows = np.arange(batch)
    for t in range(L):
        i, j = pairs[draws[:, t], 0], pairs[draws[:, t], 1]
        a, b = items[rows, i].copy(), items[rows, j].copy()
        items[rows, i], items[rows, j] = b, a
        targets[:, t + 1] = items
    tokens = np.concatenate([np.full((batch, 1), START), draws + NO_SWAP], axis=1)
    return SwapBatch(torch.from_numpy(tokens), torch.from_numpy(targets), n)
