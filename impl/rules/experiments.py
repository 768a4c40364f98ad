"""Experiments on the update rules (docs/CLAIMS.md U3, U4): retrieval after writing N pairs, and streams v = W k + noise.

Retrieval: write N pairs (k_i, v_i) with a rule, then probe every stored key: err_i = ||S k_i - v_i||^2 (for
softmax attention, o_i = softmax(beta K k_i)^T V over all N pairs). Retrieval SNR here is E||v||^2 / E||err||^2
(ratio of expectations, as in C3's convention of the same name).

Streams (U4): k_t ~ N(0, I / d_k), v_t = W k_t + sigma n_t with n_t ~ N(0, I_{d_v}) and W ~ N(0, 1) entries;
the regression optimum is S* = E[v k^T] E[k k^T]^{-1} = W. Memories are run with their chunked forms, segment by
segment, passing the state, so the distance ||S_t - W||_F^2 is recorded at checkpoints.
"""

from __future__ import annotations

import torch

from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int
from impl.rules.registry import RULES
from impl.rules.rls.chunk import rls_final_state

RETRIEVAL_MEMORIES = ("linear", "deltanet", "gated_deltanet", "rls", "softmax")


def unit_keys(shape, gen):
    k = torch.randn(shape, generator=gen, dtype=torch.float64)
    return k / k.norm(dim=-1, keepdim=True)


def write_and_probe(memory, K, V, *, b=1.0, gate=0.99, lam=1e-3, beta_softmax=None, chunk_size=64):
    """Squared retrieval errors [trials, N] after writing all of K [trials, N, d_k], V [trials, N, d_v]."""
    if memory not in RETRIEVAL_MEMORIES:
        raise InputError("memory", f"must be one of {RETRIEVAL_MEMORIES}, got {memory!r}")
    k, v = K.unsqueeze(1), V.unsqueeze(1)  # H = 1
    shape = k.shape[:3]
    if memory == "softmax":
        beta_softmax = beta_softmax if beta_softmax is not None else K.shape[-1] ** 0.5
        O = torch.softmax(beta_softmax * K @ K.transpose(-1, -2), dim=-1) @ V
    else:
        if memory == "linear":
            _, S = RULES["linear"].forms["chunk"](k, k, v, output_final_state=True, chunk_size=chunk_size)
        elif memory == "deltanet":
            _, S = RULES["deltanet"].forms["chunk"](k, k, v, torch.full(shape, b, dtype=K.dtype), output_final_state=True,
                                                    chunk_size=chunk_size)
        elif memory == "gated_deltanet":
            _, S = RULES["gated_deltanet"].forms["chunk"](k, k, v, torch.full(shape, b, dtype=K.dtype),
                                                          torch.full(shape, gate, dtype=K.dtype), output_final_state=True,
                                                          chunk_size=chunk_size)
        else:  # only the state is read: the chunked form's statistics without its outputs
            S, _ = rls_final_state(k, v, lam=lam, chunk_size=chunk_size)
        O = K @ S[:, 0].transpose(-1, -2)
    return ((O - V) ** 2).sum(-1)


def stream(memory, *, d_k, d_v, T, trials, sigma, seed, b=0.5, lam=1e-6, checkpoints=None, device="cpu",
           dtype="float64", chunk_size=64):
    """||S_t - W||_F^2 at the checkpoints t (default: ~20 log-spaced), [trials, len(checkpoints)], and the
    checkpoints. ``memory``: 'rls', 'deltanet' (lr b), 'linear' (unnormalised S_t), 'linear_normalised' (S_t / t)."""
    for name, val in (("d_k", d_k), ("d_v", d_v), ("T", T), ("trials", trials)):
        require_positive_int(name, val)
    if memory not in ("rls", "deltanet", "linear", "linear_normalised"):
        raise InputError("memory", f"must be one of rls, deltanet, linear, linear_normalised; got {memory!r}")
    if not sigma >= 0:
        raise InputError("sigma", f"must be >= 0, got {sigma!r}")
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    gen = generator(seed)
    W = torch.randn((trials, 1, d_v, d_k), generator=gen, dtype=torch.float64)
    K = torch.randn((trials, 1, T, d_k), generator=gen, dtype=torch.float64) / d_k**0.5
    V = (K @ W.transpose(-1, -2)) + sigma * torch.randn((trials, 1, T, d_v), generator=gen, dtype=torch.float64)
    W, K, V = W.to(dev, dt), K.to(dev, dt), V.to(dev, dt)
    if checkpoints is None:
        checkpoints = sorted({max(1, int(round(x))) for x in torch.logspace(0, torch.log10(torch.tensor(float(T))), 20).tolist()})
    state, prev, out = None, 0, []
    for t in checkpoints:
        sl = slice(prev, t)
        k, v = K[:, :, sl], V[:, :, sl]
        if memory == "rls":  # only the state is read: the chunked form's statistics without its outputs
            state = rls_final_state(k, v, lam=lam, initial_state=state, chunk_size=chunk_size)
            S = state[0]
        elif memory == "deltanet":
            _, state = RULES["deltanet"].forms["chunk"](k, k, v, torch.full(k.shape[:3], b, dtype=dt, device=dev),
                                                        initial_state=state, output_final_state=True, chunk_size=chunk_size)
            S = state
        else:
            _, state = RULES["linear"].forms["chunk"](k, k, v, initial_state=state, output_final_state=True, chunk_size=chunk_size)
            S = state / t if memory == "linear_normalised" else state
        out.append(((S - W) ** 2).sum((-1, -2))[:, 0])
        prev = t
    return torch.stack(out, dim=-1), list(checkpoints), W


def delta_msd_theory(b, d_k, d_v, sigma):
    """Steady-state E||S - W||_F^2 of the delta rule (LMS) on k ~ N(0, I/d_k), v = W k + sigma n:
    d_v d_k b sigma^2 / (2 - b (d_k + 2) / d_k); finite iff b < 2 d_k / (d_k + 2). Derived in theory/updates.py."""
    r = 1.0 / d_k
    den = 2 - b * r * (d_k + 2)
    return float("inf") if den <= 0 else d_v * d_k * b * sigma**2 / den


def rls_msd_theory(t, d_k, d_v, sigma):
    """E||S_t - W||_F^2 of least squares (lam -> 0, the minimum-norm solution) after t pairs, k ~ N(0, I/d_k),
    W with N(0, 1) entries. The error splits into the unseen part of W and the fitted noise:

        t >= d_k + 2:  sigma^2 d_v tr E[(K^T K)^{-1}]                   = sigma^2 d_v d_k^2 / (t - d_k - 1)
        t <= d_k - 2:  E||W (I - P)||^2 + sigma^2 d_v tr E[(K K^T)^{-1}] = d_v (d_k - t) + sigma^2 d_v t d_k / (d_k - t - 1)

    with K the t x d_k matrix of keys, P the projection onto its row space, and the inverse-Wishart mean
    E[G^{-1}] = I / (n - p - 1) for G ~ Wishart_p(n, I) (K^T K = G / d_k with n = t, p = d_k; K K^T with n = d_k,
    p = t). For d_k - 1 <= t <= d_k + 1 that mean is infinite, and so is the error unless sigma = 0; without noise
    the error is the unseen part alone, d_v max(d_k - t, 0). Derived in theory/updates.py (``rls_msd``)."""
    bias = d_v * max(d_k - t, 0)
    if sigma == 0:
        return float(bias)
    if t >= d_k + 2:
        return sigma**2 * d_v * d_k**2 / (t - d_k - 1)
    if t <= d_k - 2:
        return bias + sigma**2 * d_v * t * d_k / (d_k - t - 1)
    return float("inf")


def delta_stream_time_average(*, d_k, d_v, b, sigma, burn, window, trials, seed, device="cpu", dtype="float64"):
    """Per trial, the average of ||S_t - W||_F^2 over t in (burn, burn + window] for the delta rule with lr b on
    the stream above, S_0 = 0. The update is the delta rule's, S_t = S_{t-1} - b (S_{t-1} k_t - v_t) k_t^T, written
    in the error E_t = S_t - W: E_t = E_{t-1} - b (E_{t-1} k_t - sigma n_t) k_t^T (same arithmetic, no W needed)."""
    for name, val in (("d_k", d_k), ("d_v", d_v), ("window", window), ("trials", trials)):
        require_positive_int(name, val)
    require_positive_int("burn", burn, minimum=0)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    gen = generator(seed)
    E = torch.randn((trials, d_v, d_k), generator=gen, dtype=torch.float64).neg()  # E_0 = 0 - W
    K = torch.randn((burn + window, trials, d_k, 1), generator=gen, dtype=torch.float64) / d_k**0.5
    N = sigma * torch.randn((burn + window, trials, d_v, 1), generator=gen, dtype=torch.float64)
    E, K, N = E.to(dev, dt), K.to(dev, dt), N.to(dev, dt)
    acc = torch.zeros(trials, dtype=dt, device=dev)
    for t in range(burn + window):
        k = K[t]
        E = E - b * (E @ k - N[t]) @ k.transpose(-1, -2)
        if t >= burn:
            acc = acc + (E**2).sum((-1, -2))
    return acc / window


def rls_final_error(*, d_k, d_v, t, sigma, trials, seed, lam=1e-9, device="cpu", dtype="float64"):
    """||S_t - W||_F^2 per trial for the RLS memory (impl/rules/rls, chunked form) after t pairs of the stream."""
    err, _, _ = stream("rls", d_k=d_k, d_v=d_v, T=t, trials=trials, sigma=sigma, seed=seed, lam=lam,
                       checkpoints=[t], device=device, dtype=dtype)
    return err[:, 0]
