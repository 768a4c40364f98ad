"""Small sequence models of equal width and depth for the D4 (swap) and D5 (DAG) comparisons.

Every model: token embedding -> ``depth`` pre-norm blocks [x + Mixer(LN x); x + MLP(LN x)] -> LN -> linear head.
No absolute positional encoding in any model (a learned absolute encoding would make length generalisation
impossible by construction); only the flash-linear-attention DeltaFormer carries RoPE, as fla builds it.
Mixers share the q, k, v, o projections (4 d^2 weights) and ``heads`` heads of width d_h = d / heads:

* ``transformer``: causal softmax attention, scale d_h^-1/2 (``scaled_dot_product_attention``).
* ``deltanet``: the delta rule S_t = S_{t-1}(I - b_t k_t k_t^T) + b_t v_t k_t^T, o_t = S_t q_t
  (``impl.rules.deltanet.chunk.delta_rule_chunk``, scale 1) with L2-normalised q, k and b_t = 2 sigmoid(x W_b) in
  [0, 2], so that transition eigenvalues reach [-1, 1] (Grazzi et al. 2024). The positive control.
* ``deltaformer``: the paper's softmax DeltaFormer as flash-linear-attention builds it (``fla.layers.deltaformer``):
  RoPE on q and k, k-k similarity in the first kernel (w = k), both kernels softmax with scale d_h^-1/2, and an
  unbounded b_t = x W_b + c (a plain linear map with bias):
  u_t = v_t - b_t sum_{j<t} softmax_j(k_t^T k_j / sqrt(d_h)) u_j,  o_t = sum_{j<=t} softmax_j(q_t^T k_j / sqrt(d_h)) u_j
  (``impl.deltaformer.parallel.deltaformer_parallel``).
* ``deltaformer_exp``: the stable unnormalised form on unit keys, kappa1(k_t, k_j) = exp(s1 (k_t^T k_j - 1)) and
  kappa2(q_t, k_j) = exp(s2 (q_t^T k_j - 1)) with unit q, k, learned per-head s1, s2 in (0, 20) and b in [0, 2]:
  b kappa1(k, k) = b <= 2, so the transition eigenvalue 1 - b kappa1(k_t, k_t) stays in [-1, 1] (an unnormalised
  kernel with a free scale diverges once b kappa1(k, k) > 2). Computed by ``deltaformer_parallel`` with the
  exponential kernel at scale 1 on the rescaled vectors k' = sqrt(s1) k, q' = (s2 / sqrt(s1)) q, step b e^{-s1} and
  output factor e^{-s2}.
* ``deltaformer_lin1``: the linear-kappa1 ablation, kappa1(k_t, k_j) = k_t^T k_j on unit keys with b in [0, 2]
  (DeltaNet's update in u) and a softmax kappa2 (scale d_h^-1/2).

The delta models carry the extra b projection ((d + 1) heads weights); the exponential one two scales per head.
Counts are reported, not hidden.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from impl.numerics.errors import InputError

MODELS = ("transformer", "deltanet", "deltaformer", "deltaformer_exp", "deltaformer_lin1")
S_MAX = 20.0  # the exponential kernel's scales s = S_MAX sigmoid(p) stay in (0, S_MAX): exp(S_MAX) fits float32


def rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021) of x [B, H, T, d] (d even), positions 0..T-1: the pair
    (x_{2i}, x_{2i+1}) at position p is rotated by the angle p base^{-2i/d}."""
    T, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise InputError("heads", f"RoPE needs an even head width, got {d}")
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = torch.arange(T, dtype=torch.float64, device=x.device)[:, None] * inv[None, :]  # [T, d/2]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


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
        if kind == "deltaformer_exp":  # per-head scales s = S_MAX sigmoid(p), initialised at sqrt(d_h)
            p0 = math.log(math.sqrt(self.dh) / (S_MAX - math.sqrt(self.dh)))
            self.log_s = nn.Parameter(torch.full((2, heads), p0))

    def betas(self, x):
        """b [B, H, T] as each mixer defines it."""
        raw = self.beta(x).transpose(1, 2)
        return raw if self.kind == "deltaformer" else 2 * torch.sigmoid(raw)

    def scales(self):
        """(s1, s2) [H] of ``deltaformer_exp``."""
        s = S_MAX * torch.sigmoid(self.log_s)
        return s[0], s[1]

    def forward(self, x):
        Bsz, T, d = x.shape
        q, k, v = self.qkv(x).view(Bsz, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)  # each [B, H, T, dh]
        if self.kind == "transformer":
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out(o.transpose(1, 2).reshape(Bsz, T, d))
        from impl.deltaformer import parallel as dfp

        beta = self.betas(x)
        if self.kind == "deltanet":
            from impl.rules.deltanet import chunk as dnc

            q = torch.nn.functional.normalize(q, dim=-1)
            k = torch.nn.functional.normalize(k, dim=-1)
            o, _ = dnc.delta_rule_chunk(q, k, v, beta, scale=1.0, chunk_size=min(T, 64))  # no padding for short T
        elif self.kind == "deltaformer":
            q, k = rope(q), rope(k)
            o = dfp.deltaformer_parallel(q, k, v, beta, kernel="softmax", scale=1 / math.sqrt(self.dh))
        elif self.kind == "deltaformer_exp":
            s1, s2 = (s.view(1, -1, 1, 1) for s in self.scales())
            qn = torch.nn.functional.normalize(q, dim=-1)
            kn = torch.nn.functional.normalize(k, dim=-1)
            k1 = kn * s1.sqrt()
            o = dfp.deltaformer_parallel(qn * (s2 / s1.sqrt()), k1, v, beta * torch.exp(-s1.view(1, -1, 1)), kernel="exp",
                                         scale=1.0)
            o = o * torch.exp(-s2)
        else:  # deltaformer_lin1
            kn = torch.nn.functional.normalize(k, dim=-1)
            o = dfp.deltaformer_parallel(q, kn, v, beta, kernel="softmax", kernel_w="linear",
                                         scale=1 / math.sqrt(self.dh), scale_w=1.0)
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
