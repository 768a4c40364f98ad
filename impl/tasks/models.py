"""Small sequence models of equal width, depth and (nearly) equal parameter count for the D4/D5 comparison.

Every model: token embedding -> ``depth`` pre-norm blocks [x + Mixer(LN x); x + MLP(LN x)] -> LN -> linear head.
No positional encoding in any model (causal masking lets attention infer order; a learned absolute encoding
would make length generalisation impossible by construction, which is not the question asked).
Mixers, all with the same q, k, v, o projections (4 d^2 weights) and ``heads`` heads:

* ``transformer``: causal softmax attention, scale d_h^-1/2.
* ``deltanet``: the delta rule (issue-4's ``impl.rules.deltanet`` chunked form; L2-normalised q, k, as DeltaNet does),
  b = 2 sigmoid(x W_b) in [0, 2] so that transition eigenvalues can be negative (Grazzi et al. 2024).
* ``deltaformer``: ``impl.deltaformer.deltaformer_parallel`` with softmax kernels (scale d_h^-1/2), w = k,
  b = 2 sigmoid(x W_b), O = A (I + B)^{-1} V.

The two delta models carry the extra b projection (d + 1) heads weights; counts are reported, not hidden.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from impl.numerics.errors import InputError

MODELS = ("transformer", "deltanet", "deltaformer")


class Mixer(nn.Module):
    def __init__(self, kind: str, d: int, heads: int):
        super().__init__()
        if kind not in MODELS:
            raise InputError("model", f"must be one of {', '.join(MODELS)}, got {kind!r}")
        if d % heads:
            raise InputError("heads", f"must divide the width {d}, got {heads}")
        self.kind, self.h, self.dh = kind, heads, d // heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.beta = nn.Linear(d, heads) if kind != "transformer" else None

    def forward(self, x):
        Bsz, T, d = x.shape
        q, k, v = self.qkv(x).view(Bsz, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)  # each [B, H, T, dh]
        if self.kind == "transformer":
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            beta = 2 * torch.sigmoid(self.beta(x)).transpose(1, 2)  # [B, H, T] in [0, 2]
            if self.kind == "deltanet":
                from impl.rules.deltanet.chunk import delta_rule_chunk

                q = torch.nn.functional.normalize(q, dim=-1)
                k = torch.nn.functional.normalize(k, dim=-1)
                o, _ = delta_rule_chunk(q, k, v, beta, scale=1.0, chunk_size=min(T, 64))  # no padding for short T
            else:
                from impl.deltaformer.parallel import deltaformer_parallel

                o = deltaformer_parallel(q, k, v, beta, kernel="softmax", scale=1 / math.sqrt(self.dh))
        return self.out(o.transpose(1, 2).reshape(Bsz, T, d))


class Block(nn.Module):
    def __init__(self, kind, d, heads, mlp_ratio=2):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mix = Mixer(kind, d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))

    def forward(self, x):
        x = x + self.mix(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class SequenceModel(nn.Module):
    """tokens [B, T] (or [B, T, m]: m ids per position, their embeddings summed) -> logits [B, T, out_dim]."""

    def __init__(self, kind: str, vocab: int, out_dim: int, *, d: int = 32, depth: int = 2, heads: int = 2):
        super().__init__()
        self.kind = kind
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(kind, d, heads) for _ in range(depth))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, out_dim)

    def forward(self, tokens):
        x = self.emb(tokens)
        if tokens.dim() == 3:
            x = x.sum(-2)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(kind: str, vocab: int, out_dim: int, *, d: int, depth: int, heads: int) -> SequenceModel:
    if kind not in MODELS:
        raise InputError("model", f"must be one of {', '.join(MODELS)}, got {kind!r}")
    return SequenceModel(kind, vocab, out_dim, d=d, depth=depth, heads=heads)
