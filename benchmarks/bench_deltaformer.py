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

from impl.deltaformer import deltaformer_chunk, deltaformer_parallel, deltaformer_recurrent  # noqa: E402


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_throughput(dtype=torch.float64, device="cpu", n: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of an n x n GEMM (2 n^3 FLOPs), best of ``repeats``."""
    try:
        from benchmarks._common import matmul_throughput as shared  # the lead's helper, when present

        return shared(dtype, device)
    except Exception:
        pass
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    return 2 * n**3 / _best(lambda: a @ b, repeats)


def minimal_flops(T: int, d: int, d_v: int, heads: int = 1) -> int:
    return heads * (T * (T + 1) * d + T * (T - 1) * d + T * (T - 1) * d_v + T * (T + 1) * d_v)


def run(quick: bool = False) -> list[dict]:
    dtype = torch.float64
    d = d_v = 64
    Ts = (256, 1024) if quick else (256, 1024, 2048, 4096)
    max_recurrent_T = 1024 if quick else 2048
    peak = matmul_throughput(dtype)
    g = torch.Generator().manual_seed(0)
    rows = []
    rec_time = {}
    for T in Ts:
        q, k, v = (torch.randn(1, 1, T, n, generator=g, dtype=dtype) for n in (d, d, d_v))
        beta = torch.rand(1, 1, T, generator=g, dtype=dtype)
        flops = minimal_flops(T, d, d_v)
        if T <= max_recurrent_T:
            t_rec = _best(lambda: deltaformer_recurrent(q, k, v, beta), 1 if T > 512 else 3)
            rec_time[T], rec_note = t_rec, "timed"
        else:
            T0 = max(rec_time)
            t_rec = rec_time[T0] * (T / T0) ** 2
            rec_note = f"recurrence extrapolated from T={T0} by T^2"
        for name, fn in (("parallel", lambda: deltaformer_parallel(q, k, v, beta)),
                         ("chunk64", lambda: deltaformer_chunk(q, k, v, beta, chunk_size=64))):
            t = _best(fn, 3)
            rows.append({"name": f"deltaformer_{name}", "dtype": str(dtype).replace("torch.", ""), "device": "cpu",
                         "params": {"T": T, "d_k": d, "d_v": d_v, "B": 1, "H": 1, "kernel": "softmax"},
                         "seconds": t, "flops": flops, "fraction_of_matmul": flops / t / peak,
                         "speedup_vs_naive": t_rec / t, "note": rec_note})
        rows.append({"name": "deltaformer_recurrent", "dtype": str(dtype).replace("torch.", ""), "device": "cpu",
                     "params": {"T": T, "d_k": d, "d_v": d_v, "B": 1, "H": 1, "kernel": "softmax"},
                     "seconds": t_rec, "flops": flops, "fraction_of_matmul": flops / t_rec / peak,
                     "speedup_vs_naive": 1.0, "note": rec_note})
    print(f"matmul throughput (float64, 1024^3 GEMM): {peak / 1e9:.2f} GFLOP/s; minimal FLOPs = 2 T^2 (d + d_v)")
    for r in rows:
        print(f"{r['name']:24s} T={r['params']['T']:5d}  {r['seconds'] * 1e3:10.2f} ms  "
              f"{r['fraction_of_matmul'] * 100:6.2f}% of matmul  speedup {r['speedup_vs_naive']:8.1f}x  {r['note']}")
    return rows


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
