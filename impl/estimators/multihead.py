"""Multi-head memories at fixed total width (paper §3.1; docs/CLAIMS.md C12): retrieval SNR and recall against the number
of heads h.

Keys k in R^d and values v in R^{d_v} are split into h blocks (k = [k^(1); ...; k^(h)], likewise v); head m is a
memory of its own over the blocks (k_j^(m), v_j^(m)) and the read-out concatenates the heads:

    o = [o^(1); ...; o^(h)],   o^(m) = sum_j v_j^(m) kappa(k_j^(m), q^(m))        (kernel heads)
                               o^(m) = sum_j softmax_j(K^(m) q^(m) / tau) v_j^(m)   (softmax heads: multi-head attention)

Heads do not interact, so head m's SNR is that of a single memory of width d/h (C6): at the typical probe (each
block rescaled to ||k^(m)||^2 = d/h, ||v^(m)||^2 = d_v/h) every head has the same signal, and the concatenated
read's SNR^{-1} = sum_m ||r_m||^2 / (c^2 sum_m nu_m) is the per-head value: linear (N-1) h/d, exponential
(N-1) e^{a(tau) d/h}, a(tau) = 2(1/tau^2 - 1/tau) (C12).

    impl.memories.multihead.MultiHeadLinearMemory(h): the h-head linear memory's SNR interface, written and read at
        the typical probe with fresh other pairs (plain sampling), through impl.estimators.snr.estimate_snr.
        (Exponential heads are heavy-tailed: their per-head SNR is measured as a single memory of width d/h by
        ``impl.estimators.snr.estimate_snr`` of the exp ``KernelMemory``, importance sampling where plain sampling
        cannot resolve it.)
    multihead_recall(n_pairs, d, d_v, heads, trials, seed, *, memories) -> {memory: {h: hits}}
        one query per memory at a random stored position, decoded to the nearest stored value (cosine over the full
        d_v); every head count reads the SAME memories (paired across h). memories: "linear", "softmax_sqrt"
        (per-head tau = sqrt(d/h), multi-head attention's scaling), "softmax_2" (tau = 2), "exp_sqrt" (unnormalised).
"""

from __future__ import annotations

import math

import torch

from impl.estimators.sampling import batches
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int

RECALL_MEMORIES = ("linear", "softmax_sqrt", "softmax_2", "exp_sqrt")


def check_split(d, d_v, h):
    d, d_v, h = require_positive_int("d", d), require_positive_int("d_v", d_v), require_positive_int("h", h)
    if d % h or d_v % h:
        raise InputError("h", f"the number of heads must divide d = {d} and d_v = {d_v}, got h = {h}")
    return d, d_v, h


def split(X, h: int):
    """[..., N, d] -> [..., h, N, d/h] (head m holds coordinates m d/h ... (m+1) d/h - 1)."""
    *lead, n, d = X.shape
    return X.reshape(*lead, n, h, d // h).movedim(-2, -3)


def head_weights(memory: str, K, q, h: int):
    """Per-head read weights w [T, h, N] for keys K [T, N, d] and queries q [T, d] (o^(m) = sum_j w_mj v_j^(m))."""
    Kh, qh = split(K, h), split(q[:, None, :], h)[..., 0, :]  # [T, h, N, d/h], [T, h, d/h]
    G = (Kh @ qh[..., None])[..., 0]  # [T, h, N]
    dh = K.shape[-1] // h
    if memory == "linear":
        return G
    if memory == "softmax_sqrt":
        return torch.softmax(G / math.sqrt(dh), dim=-1)
    if memory == "softmax_2":
        return torch.softmax(G / 2.0, dim=-1)
    if memory == "exp_sqrt":  # a common shift per query: all heads scaled alike (the read is unchanged up to one factor)
        X = G / math.sqrt(dh)
        return torch.exp(X - X.amax(dim=(-1, -2), keepdim=True))
    raise InputError("memory", f"must be one of {', '.join(RECALL_MEMORIES)}, got {memory!r}")


def multihead_read(memory: str, K, V, q, h: int):
    """Concatenated read-out o [T, d_v] of the h-head memory over K [T, N, d], V [T, N, d_v] at queries q [T, d]."""
    w = head_weights(memory, K, q, h)  # [T, h, N]
    Vh = split(V, h)  # [T, h, N, d_v/h]
    return (w[..., None, :] @ Vh)[..., 0, :].reshape(V.shape[0], V.shape[-1])


def multihead_recall(n_pairs: int, d: int, d_v: int, heads, trials: int, seed: int, *, memories=RECALL_MEMORIES,
                     device="cpu", dtype="float64") -> dict:
    """Hits {memory: {h: hits}} of nearest-value decoding over ``trials`` independent memories, each queried once at a
    random stored position and read with every head count in ``heads`` (paired); also the per-trial hit vectors
    under key "pairs" ({memory: {h: bool tensor [T]}}) for paired comparisons."""
    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    for h in heads:
        check_split(d, d_v, h)
    trials = require_positive_int("trials", trials)
    for m in memories:
        if m not in RECALL_MEMORIES:
            raise InputError("memory", f"must be one of {', '.join(RECALL_MEMORIES)}, got {m!r}")
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    gen = generator(seed)
    hit_vecs = {m: {h: [] for h in heads} for m in memories}
    for t in batches(trials, n_pairs * (d + d_v)):
        K = torch.randn((t, n_pairs, d), generator=gen, dtype=torch.float64).to(dev, dt)
        V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64).to(dev, dt)
        pos = torch.randint(0, n_pairs, (t,), generator=gen)
        q = K[torch.arange(t), pos.to(dev)]
        Vn = torch.nn.functional.normalize(V, dim=-1)
        for m in memories:
            for h in heads:
                o = multihead_read(m, K, V, q, h)
                hit_vecs[m][h].append((Vn @ o[:, :, None])[..., 0].argmax(-1).cpu() == pos)
    pairs = {m: {h: torch.cat(v) for h, v in hs.items()} for m, hs in hit_vecs.items()}
    return {"hits": {m: {h: int(v.sum()) for h, v in hs.items()} for m, hs in pairs.items()}, "trials": trials,
            "pairs": pairs}
