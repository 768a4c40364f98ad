"""Benchmark: DeltaFormer's matrix form O = A (I + B)^{-1} V (and the chunked form) against its recurrence, CPU.

Minimal FLOP count (causal structure exploited, multiply-add = 2 FLOPs, exponentials not counted), one head:
    A = causal(Q K^T):       T(T+1)/2 dot products of length d   -> T(T+1) d
    B = strict(W K^T):       T(T-1)/2 dot products               -> T(T-1) d
    (I + B)^{-1} V:          forward substitution                -> T(T-1) d_v
    A U:                     T(T+1)/2 rows-times-U                 -> T(T+1) d_v
    total ~ 2 T^2 (d + d_v).
The recurrence does the same arithmetic one row at a time (plus Python overhead per step); it is timed directly up
to ``max_recurrent_T`` and, above that, extrapolated from the largest timed T by the T^2 law (the row says so).
Throughput is compared with the machine's own square GEMM (torch.matmul, same dtype, best of several runs).

Run: ``python benchmarks/bench_deltaformer.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import best_time, matmul_throughput, row  # noqa: E402
from impl.deltaformer import deltaformer_chunk, deltaformer_parallel, deltaformer_recurrent  # noqa: E402


def minimal_flops(T: int, d: int, d_v: int, heads: int = 1) -> int:
    return heads * (T * (T + 1) * d + T * (T - 1) * d + T * (T - 1) * d_v + T * (T + 1) * d_v)


def run(quick: bool = False) -> list[dict]:
    dtype = torch.float64
    d = d_v = 64
    Ts = (256, 1024) if quick else (256, 1024, 2048, 4096)
    max_recurrent_T = 512 if quick else 1024
    g = torch.Generator().manual_seed(0)
    rows, rec_time = [], {}
    for T in Ts:
        q, k, v = (torch.randn(1, 1, T, n, generator=g, dtype=dtype) for n in (d, d, d_v))
        beta = torch.rand(1, 1, T, generator=g, dtype=dtype)
        flops = minimal_flops(T, d, d_v)
        params = {"T": T, "d_k": d, "d_v": d_v, "B": 1, "H": 1, "kernel": "softmax"}
        if T <= max_recurrent_T:
            t0 = time.perf_counter()
            deltaformer_recurrent(q, k, v, beta)  # one timed call (it is the slow reference)
            t_rec = time.perf_counter() - t0
            rec_time[T], rec_note = t_rec, "recurrence timed"
        else:
            T0 = max(rec_time)
            t_rec = rec_time[T0] * (T / T0) ** 2
            rec_note = f"recurrence extrapolated from T={T0} by the T^2 law (not timed)"
        rows.append(row("deltaformer_recurrent", "float64", "cpu", params, t_rec, flops, 1.0, rec_note))
        for name, fn in (("deltaformer_parallel", lambda: deltaformer_parallel(q, k, v, beta)),
                         ("deltaformer_chunk64", lambda: deltaformer_chunk(q, k, v, beta, chunk_size=64))):
            t = best_time(fn, repeats=2 if T >= 2048 else 3)
            rows.append(row(name, "float64", "cpu", params, t, flops, t_rec / t, rec_note))
    peak = matmul_throughput("float64", "cpu")
    print(f"matmul throughput (float64 square GEMM): {peak / 1e9:.2f} GFLOP/s; minimal FLOPs = 2 T^2 (d + d_v) per head")
    for r in rows:
        print(f"{r['name']:24s} T={r['params']['T']:5d} {r['seconds'] * 1e3:11.2f} ms {r['fraction_of_matmul'] * 100:7.3f}% "
              f"of matmul  speedup {r['speedup_vs_naive']:8.1f}x  {r['note']}")
    return rows


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
