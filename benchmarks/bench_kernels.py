"""Benchmark: exponential-kernel SNR estimation (``impl.estimators.snr_kernel``) at d_k = 64, N = 4096.

Job 1 (all probes, ``snr_samples``): per trial, write N pairs and probe every stored key, in log space:
G = K K^T / tau, weights exp(G - log c_i), R = W V. Minimal flop count: the two products, 2 N^2 d_k + 2 N^2 d_v
per trial (the N^2 exponentials and the sampling are overhead, not counted).
Job 2 (``estimate_snr`` of the exp ``KernelMemory``, typical convention, plain mode): per trial, N - 1 fresh other pairs against one
probe: 2 (N - 1)(d_k + d_v) flops; matrix-vector bound by nature, so its fraction of GEMM throughput is low.
Naive reference for job 1: a Python loop over probes (one matrix-vector product, exp and weighted sum per probe),
timed on 256 probes and scaled linearly to N (said in the note).
"""

from __future__ import annotations

import sys
import time

import torch

from benchmarks._common import best_time, row
from impl.estimators.snr import estimate_snr
from impl.memories.kernel import KernelMemory
from impl.memories.kernel import snr_samples


def _naive_seconds(K, V, tau, probes=256):
    n = K.shape[0]
    t0 = time.perf_counter()
    for i in range(probes):
        logits = K @ K[i] / tau
        logc = logits[i].clone()
        w = torch.exp(logits - logc)
        w[i] = 0
        r = w @ V
        float((r @ r) / (V[i] @ V[i]))
    return (time.perf_counter() - t0) * n / probes


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    n, d_k, d_v, tau = (1024, 64, 64, 2.0) if quick else (4096, 64, 64, 2.0)
    rows = []
    for dtype in ("float32", "float64"):
        dt = getattr(torch, dtype)
        g = torch.Generator().manual_seed(0)
        K = torch.randn(n, d_k, generator=g, dtype=dt).to(device)
        V = torch.randn(n, d_v, generator=g, dtype=dt).to(device)
        secs = best_time(lambda: snr_samples("exp", K, V, tau=tau), repeats=2 if quick else 3, device=device)
        naive = _naive_seconds(K, V, tau, probes=64 if quick else 256)
        x = snr_samples("exp", K, V, tau=tau)
        assert torch.isfinite(x).all()
        rows.append(row("exp-kernel SNR, all probes of one memory", dtype, device,
                        {"N": n, "d_k": d_k, "d_v": d_v, "tau": tau}, secs, 2 * n * n * (d_k + d_v),
                        speedup=naive / secs,
                        note=f"per trial (N = {n} probes); naive: Python loop over probes, timed on "
                             f"{64 if quick else 256} probes and scaled to N"))
        trials = 20 if quick else 100
        secs2 = best_time(lambda: estimate_snr(KernelMemory("exp", tau=tau), n, d_k, d_v, trials, 0, dtype=dtype,
                                               sampler="plain", conventions=("typical",), device=device),
                          repeats=1, device=device)
        rows.append(row("estimate_snr exp, typical, plain", dtype, device,
                        {"N": n, "d_k": d_k, "d_v": d_v, "tau": tau, "trials": trials}, secs2,
                        2 * (n - 1) * (d_k + d_v) * trials, speedup=None,
                        note="whole call incl. float64 CPU sampling and cast; matrix-vector bound (one probe per trial)"))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        sp = r["speedup_vs_naive"]
        print(f"{r['name']} {r['dtype']} {r['params']}: {r['seconds'] * 1e3:.1f} ms, "
              f"{r['fraction_of_matmul']:.1%} of matmul, speedup vs naive {'-' if sp is None else f'{sp:.1f}x'}")
