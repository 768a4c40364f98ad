"""Measured nearest-value recall on continuous MQAR-style data (docs/CLAIMS.md C10; compared with
``impl.estimators.recall_prediction``).

Multi-query associative recall (MQAR; Arora et al. 2023, zoology) asks a model to return the value stored with a
key seen earlier in the sequence. Continuous version: one trial writes N pairs (k_j, v_j) in order into a memory
(random Gaussian value embeddings; keys Gaussian, or of unit norm for the delta rule), queries it once with the key
of a uniformly random stored position, and decodes the read-out to the nearest stored value by cosine. One query
per memory, so the trials are independent Bernoulli draws and the recall gets an exact (Clopper-Pearson) interval.

Memories (every read is linear in the values, o = sum_j w_j v_j, with weights w that depend on the keys only):
    linear   S = sum_j v_j k_j^T, o = S q                                (C1; w_j = k_j^T q)
    exp      o = sum_j v_j exp(k_j^T q / tau), read in log space         (C5, C7; w_j = e^{k_j^T q / tau})
    softmax  o = sum_j softmax_j(K q / tau) v_j                          (softmax attention; the normaliser is one
                                                                          positive number per query: same argmax)
    delta    the delta rule S_t = S_{t-1}(I - b k_t k_t^T) + b v_t k_t^T, b = 1, unit keys, o = S_N q
             (U1, DeltaNet's chunked form; w = A q with S = V^T A, A from the keys alone)

    measure_recall(memory, n_pairs, d_k, d_v, trials, seed, *, tau=None, device="cpu", dtype="float64") -> dict
        {"hits", "trials", "position" [T], "s2" [T], "nu" [T]}: s2 = sum_{j != i} (w_j / w_i)^2 and nu = ||v_i||^2
        per trial (the key-conditional noise-to-signal of the read, for the diagnostic prediction).
    delta_noise_to_signal(n_pairs, d_k, trials, seed, *, alpha) -> (R [N], lo [N], hi [N])
        per query position p: R_p = E[sum_{j != p} w_j^2] / E[w_p^2] over the keys (ratio of expectations), the
        delta rule's SNR^{-1} times nu / d_v at that position; delta-method intervals at level 1 - alpha.
"""

from __future__ import annotations

import math

import torch

from impl.estimators.sampling import batches
from impl.estimators.stats import ratio_interval
from impl.memories.kernel import kernel_read_log, softmax_read
from impl.memories.kernels import log_kernel
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int

MEMORIES = ("linear", "exp", "softmax", "delta")


def _delta_state(K, V):
    """The delta rule's final state (b = 1) over the rows of K [T, N, d_k], V [T, N, d_v]: S [T, d_v, d_k]."""
    from impl.rules.deltanet.chunk import delta_rule_chunk

    k, v = K.unsqueeze(1), V.unsqueeze(1)
    _, S = delta_rule_chunk(k, k, v, torch.ones(k.shape[:3], dtype=K.dtype, device=K.device), output_final_state=True,
                            chunk_size=min(16, K.shape[-2]))  # short chunks: cheapest for the short sequences here
    return S[:, 0]


def _check(memory, n_pairs, d_k, d_v, trials, tau):
    if memory not in MEMORIES:
        raise InputError("memory", f"must be one of {', '.join(MEMORIES)}, got {memory!r}")
    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k, d_v = require_positive_int("d_k", d_k), require_positive_int("d_v", d_v, 2)
    trials = require_positive_int("trials", trials)
    if memory in ("exp", "softmax") and (isinstance(tau, bool) or not isinstance(tau, (int, float))
                                         or not math.isfinite(tau) or tau <= 0):
        raise InputError("tau", f"the {memory} memory needs a temperature tau > 0, got {tau!r}")
    size = n_pairs * (d_k + d_v + (n_pairs if memory == "delta" else 0))
    if size > 2**26:
        raise InputError("n_pairs", f"one memory of N = {n_pairs} pairs is too large here (N (d_k + d_v) numbers, plus "
                                    f"N^2 for the delta rule's weights, at most 2^26; got {size})")
    return n_pairs, d_k, d_v, trials


def measure_recall(memory: str, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, *, tau=None,
                   device="cpu", dtype="float64") -> dict:
    """Write, query once at a random stored position, decode to the nearest stored value (cosine); see module doc."""
    n_pairs, d_k, d_v, trials = _check(memory, n_pairs, d_k, d_v, trials, tau)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    gen = generator(seed)
    hits, pos_all, s2_all, nu_all = 0, [], [], []
    for t in batches(trials, n_pairs * (d_k + d_v + (n_pairs if memory == "delta" else 0))):
        K = torch.randn((t, n_pairs, d_k), generator=gen, dtype=torch.float64)
        if memory == "delta":
            K = K / K.norm(dim=-1, keepdim=True)
        V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64)
        pos = torch.randint(0, n_pairs, (t,), generator=gen)
        rows = torch.arange(t)
        K, V = K.to(dev, dt), V.to(dev, dt)
        q = K[rows, pos][:, None, :]  # [t, 1, d_k]
        if memory == "delta":  # one pass with values [V | I_N]: S q gives the read-out and the weights w = A q
            S = _delta_state(K, torch.cat([V, torch.eye(n_pairs, dtype=dt, device=dev).expand(t, -1, -1)], dim=-1))
            ow = (S @ q.transpose(-1, -2))[..., 0]
            o, w = ow[:, :d_v], ow[:, d_v:]
        elif memory == "softmax":
            o = softmax_read(K, V, q, tau=tau)[:, 0]
            w = torch.softmax((q @ K.transpose(-1, -2))[:, 0] / tau, dim=-1)
        else:
            prm = {"tau": tau} if memory == "exp" else {}
            _, o = kernel_read_log(memory, K, V, q, **prm)
            o = o[:, 0]
            la, sg = log_kernel(memory, q, K, **prm)
            w = sg[:, 0] * torch.exp(la[:, 0] - la[:, 0].amax(-1, keepdim=True))
        cos = torch.nn.functional.normalize(V, dim=-1) @ o[:, :, None]
        hits += int((cos[..., 0].argmax(-1).cpu() == pos).sum())
        w = w.double().cpu()
        wi = w[rows, pos]
        s2 = ((w / wi[:, None]) ** 2).sum(-1) - 1
        pos_all.append(pos)
        s2_all.append(s2.clamp_min(0))
        nu_all.append((V[rows, pos].double().cpu() ** 2).sum(-1))
    return {"hits": hits, "trials": trials, "position": torch.cat(pos_all).numpy(), "s2": torch.cat(s2_all).numpy(),
            "nu": torch.cat(nu_all).numpy()}


def delta_noise_to_signal(n_pairs: int, d_k: int, trials: int, seed: int, *, alpha: float = 1e-3):
    """Per query position p, R_p = E[sum_{j != p} w_j^2] / E[w_p^2] over unit keys (b = 1): the delta rule's
    SNR^{-1} at position p is d_v R_p / nu (ratio of expectations over the keys, conditional on nu)."""
    import numpy as np

    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k = require_positive_int("d_k", d_k)
    trials = require_positive_int("trials", trials, 2)
    gen = generator(seed)
    K = torch.randn((trials, n_pairs, d_k), generator=gen, dtype=torch.float64)
    K = K / K.norm(dim=-1, keepdim=True)
    A = _delta_state(K, torch.eye(n_pairs, dtype=torch.float64).expand(trials, -1, -1))  # S = A [T, N, d_k]
    W = A @ K.transpose(-1, -2)  # [T, j, p]: weight of pair j when querying position p
    own = torch.diagonal(W, dim1=-2, dim2=-1) ** 2
    others = (W**2).sum(-2) - own
    out = [ratio_interval(others[:, p].numpy(), own[:, p].numpy(), alpha) for p in range(n_pairs)]
    return (np.array([e.value for e in out]), np.array([max(e.lo, 0.0) for e in out]), np.array([e.hi for e in out]))
