"""Shared benchmark helpers: the machine's own matmul throughput, measured in the same run, and a timer.

Every benchmark reports (a) the job's MINIMAL flop count divided by its time, as a fraction of this machine's
square-GEMM throughput in the same dtype and device, and (b) the speedup over the naive loop.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch


def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def best_time(fn, *, repeats: int = 3, device: str = "cpu") -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


@lru_cache(maxsize=None)
def matmul_throughput(dtype: str = "float32", device: str = "cpu", n: int = 2048) -> float:
    """Flop/s of an n x n x n matmul (2 n^3 flops), best of 5, in ``dtype`` on ``device``."""
    dt = getattr(torch, dtype)
    a = torch.randn(n, n, dtype=dt, device=device)
    b = torch.randn(n, n, dtype=dt, device=device)
    t = best_time(lambda: a @ b, repeats=5, device=device)
    return 2 * n**3 / t


def row(name, dtype, device, params, seconds, flops, speedup=None, note=""):
    """One benchmark result row (the dashboard's schema)."""
    peak = matmul_throughput(dtype, device)
    return {"name": name, "dtype": dtype, "device": device, "params": params, "seconds": seconds, "flops": flops,
            "flops_per_s": flops / seconds, "matmul_flops_per_s": peak, "fraction_of_matmul": flops / seconds / peak,
            "speedup_vs_naive": speedup, "note": note}
