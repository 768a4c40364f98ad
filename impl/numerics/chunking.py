"""Splitting a sequence into chunks of any size: zero-padding the tail, so no divisibility is required.

A padded position is given key 0, value 0, learning rate 0 and gate 1 by the callers, so it writes nothing and
leaves the state as it was; its outputs are dropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def n_chunks(T: int, C: int) -> int:
    return -(-T // C)


def to_chunks(x: torch.Tensor, C: int, *, fill: float = 0.0) -> torch.Tensor:
    """[B, H, T, ...] -> [B, H, n, C, ...], the tail padded with ``fill``."""
    T = x.shape[2]
    pad = n_chunks(T, C) * C - T
    if pad:
        trailing = x.dim() - 3  # dims after T
        x = F.pad(x, (0, 0) * trailing + (0, pad), value=fill)
    return x.reshape(x.shape[0], x.shape[1], -1, C, *x.shape[3:])


def from_chunks(x: torch.Tensor, T: int) -> torch.Tensor:
    """[B, H, n, C, ...] -> [B, H, T, ...] (the padded tail dropped)."""
    x = x.reshape(x.shape[0], x.shape[1], -1, *x.shape[4:])
    return x[:, :, :T]
