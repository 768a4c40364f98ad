"""Trained arms that can express an exact construction: the construction-initialised controls of the DAG task
(D5, ``ReachModel``) and the swap task (D4, ``SwapModel``) (docs/CLAIMS.md D3.permutation, D5.construction).

``ReachModel``: embedding of width V = 2 n + 2 (one row per token id; the three ids of a position summed) ->
one linear-kernel DeltaFormer head as wide as the labels, with its own w projection and an unbounded b:

    u_t = v_t - b_t sum_{j<t} (w_t . k_j) u_j,   o_t = sum_{j<=t} (q_t . k_j) u_j     (paper Appendix D, linear kernels)

q, k, w, v = x W_q, x W_k, x W_w, x W_v (each V -> n, no bias), b_t = x_t W_b + c_b -> a ReLU layer of width n on
[x_t; o_t] -> a linear head (2 answer logits, then n auxiliary logits when the task asks for them).

The construction (``construction_state``) sets the embedding to the identity, q = k = the target block of x
(e_y on an edge (x, y), e_t on a query (s, t)), w = v = the source block (e_x, e_s), b = -[edge role]: on an
edge u = e_x + sum over earlier edges into x of their u, so at query (s, t) coordinate s of o is the number of
paths s -> t whose edges appear in increasing position, plus 1 from the query's own value e_s (earlier queries
add e_{s'} with s' != s). Hidden unit i is ReLU(o_i + M [x_i = 1] - M - 1), the number of those paths when i = s and
0 otherwise (while every other coordinate of o stays <= M + 1); the answer logits are (0, A (sum_i h_i - 1/2)).
So the construction answers every query of an in-order list exactly (the one-pass rule on shuffled lists).
"""

from __future__ import annotations

import torch
from torch import nn

from impl.numerics.errors import InputError

BIG = 50.0  # M: the gate that keeps hidden unit i closed unless i is the query's source
ANSWER_SCALE = 10.0  # A: logit gap of the construction's answer


class ReachModel(nn.Module):
    """tokens [B, T, 3] of the DAG task over ``n_nodes`` labels -> logits [B, T, out_dim] (module docstring)."""

    def __init__(self, n_nodes: int, out_dim: int):
        super().__init__()
        if out_dim not in (2, 2 + n_nodes):
            raise InputError("out_dim", f"must be 2 or 2 + n_nodes = {2 + n_nodes}, got {out_dim}")
        self.n = n_nodes
        vocab = 2 * n_nodes + 2
        self.emb = nn.Embedding(vocab, vocab)
        self.q, self.k, self.w, self.v = (nn.Linear(vocab, n_nodes, bias=False) for _ in range(4))
        self.beta = nn.Linear(vocab, 1)
        self.hidden = nn.Linear(vocab + n_nodes, n_nodes)
        self.head = nn.Linear(n_nodes, out_dim)

    def forward(self, tokens):
        from impl.deltaformer.parallel import deltaformer_parallel

        if tokens.dim() != 3:
            raise InputError("tokens", f"must be [B, T, 3] DAG ids, got shape {tuple(tokens.shape)}")
        x = self.emb(tokens).sum(-2)  # [B, T, V]
        q, k, w, v = (m(x).unsqueeze(1) for m in (self.q, self.k, self.w, self.v))  # [B, 1, T, n]
        beta = self.beta(x).squeeze(-1).unsqueeze(1)  # [B, 1, T], unbounded
        o = deltaformer_parallel(q, k, v, beta, w=w, kernel="linear", kernel_w="linear", scale=1.0, scale_w=1.0)
        h = torch.relu(self.hidden(torch.cat([x, o.squeeze(1)], dim=-1)))
        return self.head(h)


@torch.no_grad()
def construction_state(model: ReachModel) -> None:
    """Set ``model`` to the construction (module docstring), in place; auxiliary logits (if any) are zero."""
    n, V = model.n, 2 * model.n + 2
    for p in model.parameters():
        p.zero_()
    model.emb.weight.copy_(torch.eye(V))
    src, dst = torch.arange(n), n + torch.arange(n)
    for lin, cols in ((model.q, dst), (model.k, dst), (model.w, src), (model.v, src)):
        lin.weight[torch.arange(n), cols] = 1.0
    model.beta.weight[0, 2 * n] = -1.0  # b = -1 on edges (role id 2n), 0 on queries
    model.hidden.weight[torch.arange(n), src] = BIG
    model.hidden.weight[torch.arange(n), V + torch.arange(n)] = 1.0
    model.hidden.bias.fill_(-BIG - 1.0)
    model.head.weight[1, :] = ANSWER_SCALE
    model.head.bias[1] = -ANSWER_SCALE / 2


@torch.no_grad()
def perturb(model: nn.Module, noise: float, generator: torch.Generator) -> None:
    """Add independent N(0, noise^2) to every parameter (the "construction plus noise" start)."""
    for p in model.parameters():
        p.add_(noise * torch.randn(p.shape, generator=generator, dtype=p.dtype))


class SwapModel(nn.Module):
    """tokens [B, T] of the swap task over n slots -> logits [B, T, n * n] (slot-major: index slot * n + item).

    n heads of a linear-kernel DeltaFormer with w = k (the delta rule, D2), head width n, every projection a linear
    map of the one-hot token (an embedding table per head):

        u_t = v_t - b_t sum_{j<t} (k_t . k_j) u_j,   o_t = sum_{j<=t} (q_t . k_j) u_j = S_t q_t,  S_t = sum_j u_j k_j^T,

    then the heads' outputs summed, a ReLU layer of width 3 n^2 and a linear head. The construction
    (``swap_construction_state``; D3.permutation read in one pass): head h's start token writes S = e_h e_h^T
    (k = v = e_h); a swap (i j) is b = 2, k = (e_i - e_j)/sqrt(2), v = 0, so S <- S (I - 2 k k^T) swaps coordinates
    i and j of the key side, and S = e_h p_h^T with p_h the one-hot of the slot holding item h; "no swap" is k = 0.
    Every token reads q = c = (1, 2, ..., n), so head h returns e_h (slot of item h + 1) and the sum is the vector
    r with r_y = 1 + slot of item y. The ReLU layer forms bump(r_y - x - 1) = ReLU(z + 1) - 2 ReLU(z) + ReLU(z - 1)
    (1 at z = 0, 0 at every other integer), which is 1 exactly when item y is in slot x.
    """

    def __init__(self, n_slots: int):
        super().__init__()
        from impl.tasks.swap import vocab_size

        self.n = n_slots
        V = vocab_size(n_slots)
        self.q, self.k, self.v = (nn.Embedding(V, n_slots * n_slots) for _ in range(3))  # n heads x width n
        self.beta = nn.Embedding(V, n_slots)
        self.hidden = nn.Linear(n_slots, 3 * n_slots * n_slots)
        self.head = nn.Linear(3 * n_slots * n_slots, n_slots * n_slots)

    def forward(self, tokens):
        from impl.deltaformer.parallel import deltaformer_parallel

        if tokens.dim() != 2:
            raise InputError("tokens", f"must be [B, T] swap ids, got shape {tuple(tokens.shape)}")
        B, T = tokens.shape
        n = self.n
        q, k, v = (m(tokens).view(B, T, n, n).transpose(1, 2) for m in (self.q, self.k, self.v))  # [B, n, T, n]
        beta = self.beta(tokens).transpose(1, 2)  # [B, n, T]
        o = deltaformer_parallel(q, k, v, beta, kernel="linear", scale=1.0)  # w = k
        r = o.sum(1)  # [B, T, n]
        return self.head(torch.relu(self.hidden(r)))


@torch.no_grad()
def swap_construction_state(model: SwapModel) -> None:
    """Set ``model`` to the construction (``SwapModel`` docstring), in place."""
    import math

    from impl.tasks.swap import FIRST_PAIR, START, swap_pairs

    n = model.n
    for p in model.parameters():
        p.zero_()
    c = torch.arange(1, n + 1, dtype=model.q.weight.dtype)
    model.q.weight.copy_(c.repeat(n))  # every head, every token: q = c
    for h in range(n):
        model.k.weight[START, h * n + h] = 1.0
        model.v.weight[START, h * n + h] = 1.0
    for p, (i, j) in enumerate(swap_pairs(n)):
        for h in range(n):
            model.k.weight[FIRST_PAIR + p, h * n + i] = 1 / math.sqrt(2)
            model.k.weight[FIRST_PAIR + p, h * n + j] = -1 / math.sqrt(2)
        model.beta.weight[FIRST_PAIR + p, :] = 2.0
    # hidden unit (x, y, m), m = 0, 1, 2: ReLU(r_y - (x + 1) + 1 - m); logit (x, y) = A (u0 - 2 u1 + u2) - A/2
    for x in range(n):
        for y in range(n):
            for m, w in enumerate((1.0, -2.0, 1.0)):
                unit = 3 * (x * n + y) + m
                model.hidden.weight[unit, y] = 1.0
                model.hidden.bias[unit] = -(x + 1) + 1 - m
                model.head.weight[x * n + y, unit] = ANSWER_SCALE * w
    model.head.bias.fill_(-ANSWER_SCALE / 2)
