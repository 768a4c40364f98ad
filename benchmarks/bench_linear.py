"""Benchmark: the linear-memory Monte Carlo SNR estimator (``impl.memories.linear.all_probe_trials``).

The job: per trial, write a memory of N pairs and read all N probes. Its minimal flop count is that of the two
matrix products S = V^T K and O = K S^T: 4 N d_k d_v per trial (sampling and the O(N d) elementwise work are
overhead, not counted). Target (issue 2): at least 50 % of this machine's matmul throughput at d_k = 256, N = 4096.
The naive reference builds S one outer product at a time and reads each probe with its own matrix-vector
product (timed on a slice of the probes and scaled linearly, as stated in the note).
"""

from __future__ import annotations

import sys
import time

import torch

from benchmarks._common import best_time, row
from impl.memories.linear import all_probe_trials, probe_statistics
from impl.numerics.device import generator


def _naive_seconds(n, d_k, d_v, dtype, probes=256):
    g = torch.Generator().manual_seed(0)
    K = torch.randn(n, d_k, generator=g, dtype=dtype)
    V = torch.randn(n, d_v, generator=g, dtype=dtype)
    t0 = time.perf_counter()
    S = torch.zeros(d_v, d_k, dtype=dtype)
    for j in range(n):
        S += torch.outer(V[j], K[j])
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(probes):
        o = S @ K[i]
        r = o - (K[i] @ K[i]) * V[i]
        float((r @ r) / ((K[i] @ K[i]) ** 2 * (V[i] @ V[i])))
    t_read = (time.perf_counter() - t0) * n / probes
    return t_write + t_read


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    rows = []
    configs = [(4096, 256, 256)] if not quick else [(1024, 128, 128)]
    for n, d_k, d_v in configs:
        for dtype in ("float32", "float64"):
            trials = 4 if not quick else 2
            for native in (True, False):
                gen = generator(0)
                secs = best_time(lambda: all_probe_trials(n, d_k, d_v, trials, gen, device=device, dtype=dtype, native=native),
                                 repeats=2 if not quick else 1, device=device) / trials
                naive = _naive_seconds(n, d_k, d_v, getattr(torch, dtype)) if native else None
                rows.append(row(
                    "linear SNR Monte Carlo (all probes)", dtype, device,
                    {"N": n, "d_k": d_k, "d_v": d_v, "sampling": "native" if native else "float64-on-CPU then cast"},
                    secs, 4 * n * d_k * d_v, speedup=(naive / secs) if naive else None,
                    note="per trial; naive: outer-product write + 256 probe reads scaled to N" if native else
                         "per trial; reference sampling (float64 on the CPU, cast) included"))
            # the same work on data already drawn: what the estimator achieves apart from sampling
            K = torch.randn((trials, n, d_k), dtype=getattr(torch, dtype), device=device)
            V = torch.randn((trials, n, d_v), dtype=getattr(torch, dtype), device=device)
            secs = best_time(lambda: probe_statistics(K, V), repeats=3, device=device) / trials
            rows.append(row("linear SNR Monte Carlo (all probes), data pre-drawn", dtype, device,
                            {"N": n, "d_k": d_k, "d_v": d_v, "sampling": "excluded"}, secs, 4 * n * d_k * d_v,
                            note="per trial; write, read and reductions only: the gap to the rows above is the "
                                 "Gaussian sampling, which alone costs about as much as the minimal matmul work"))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(f"{r['name']} {r['dtype']} {r['params']}: {r['seconds'] * 1e3:.1f} ms/trial, "
              f"{r['fraction_of_matmul']:.1%} of matmul, speedup vs naive {r['speedup_vs_naive']}")
