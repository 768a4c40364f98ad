"""Benchmark: the chunked (WY/UT) delta rule against its recurrent loop, CPU, float32 (issue 4).

Job: DeltaNet over T tokens, batch x heads = 8 (B = 2, H = 4), d_k = d_v = d in {64, 128}, unit keys, b ~ U(0, 1),
no initial state, outputs only (no gradient). Forms: ``impl.rules.deltanet.chunk.delta_rule_chunk`` (chunk C = 64) and the
ground-truth loop ``impl.rules.deltanet.recurrent.delta_rule_recurrent``.

Minimal flop count (what a chunked algorithm at chunk size C must do, per head and chunk, counting a multiply-add as
2 flops and a triangular product as half a dense one):
    A = tril(K K^T, -1)               C^2 d_k
    (I + A)^{-1} (unit triangular)    C^3 / 3
    W = T K, U' = T V                 C^2 d_k + C^2 d_v
    U = U' - W S^T                    2 C d_k d_v
    O = tril(Q K^T) U + Q S^T         C^2 d_k + C^2 d_v + 2 C d_k d_v
    S <- S + U^T K                    2 C d_k d_v
  total  C^2 (3 d_k + 2 d_v) + C^3/3 + 6 C d_k d_v   per chunk (ceil(T / C) chunks; a padded tail counted in full).
For reference the sequential recurrence needs 6 d_k d_v per token (S k, the rank-one update, S q), which the
chunked form exceeds by the intra-chunk terms; both are reported (``flops`` is the chunked count above).
The recurrent loop is timed at min(T, T_rec) tokens and scaled linearly to T (its cost per token is constant),
as the ``note`` says. Fractions are of this machine's float32 square-GEMM throughput, measured in the same run.
All times are best-of-n wall times (the shared 2-core CPU is noisy: repeat the run before trusting a single number).
Target: chunked >= 10x the recurrent loop at T = 4096, d_k = 64.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as `python benchmarks/bench_updates.py`: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import best_time, matmul_throughput, row
from impl.rules.deltanet.chunk import delta_rule_chunk
from impl.rules.deltanet.recurrent import delta_rule_recurrent

B, H, CHUNK = 2, 4, 64


def chunk_flops(T, d_k, d_v, C=CHUNK, heads=B * H):
    n = math.ceil(T / C)
    return heads * n * (C * C * (3 * d_k + 2 * d_v) + C**3 / 3 + 6 * C * d_k * d_v)


def recurrent_flops(T, d_k, d_v, heads=B * H):
    return heads * T * 6 * d_k * d_v


def _inputs(T, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, d, generator=g)
    k = torch.nn.functional.normalize(torch.randn(B, H, T, d, generator=g), dim=-1)
    v = torch.randn(B, H, T, d, generator=g)
    b = torch.rand(B, H, T, generator=g)
    return q, k, v, b


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    Ts = (1024, 4096) if quick else (256, 1024, 4096, 8192)
    ds = (64,) if quick else (64, 128)
    T_rec = 256 if quick else 1024
    matmul_throughput("float32", device)  # measured once, in this run
    rows = []
    with torch.no_grad():
        for d in ds:
            tr = min(T_rec, max(Ts))
            q, k, v, b = (x.to(device) for x in _inputs(tr, d))
            t_rec_per_token = best_time(lambda: delta_rule_recurrent(q, k, v, b), repeats=3 if quick else 2,
                                        device=device) / tr
            for T in Ts:
                q, k, v, b = (x.to(device) for x in _inputs(T, d))
                t_chunk = best_time(lambda: delta_rule_chunk(q, k, v, b, chunk_size=CHUNK), repeats=3 if quick else 5,
                                    device=device)
                t_rec = t_rec_per_token * T
                params = {"T": T, "d_k": d, "d_v": d, "batch_x_heads": B * H, "chunk": CHUNK}
                rows.append(row("deltanet_chunk", "float32", device, params, t_chunk, chunk_flops(T, d, d),
                                speedup=t_rec / t_chunk,
                                note=f"recurrent loop timed at T = {tr} and scaled x{T / tr:g}: {t_rec:.3g} s; "
                                     f"sequential minimum 6 d_k d_v T per head = {recurrent_flops(T, d, d):.3g} flops"))
                rows.append(row("deltanet_recurrent", "float32", device, params, t_rec, recurrent_flops(T, d, d),
                                speedup=1.0, note=f"timed at T = {tr}, scaled linearly"))
    return rows


def main(argv=None):
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    rows = run(quick=quick)
    peak = matmul_throughput("float32", "cpu")
    print(f"float32 matmul throughput (2048^3): {peak / 1e9:.1f} GFLOP/s; torch threads {torch.get_num_threads()}")
    for r in rows:
        p = r["params"]
        print(f"{r['name']:20s} T={p['T']:5d} d={p['d_k']:4d}  {r['seconds'] * 1e3:9.2f} ms  "
              f"{r['flops_per_s'] / 1e9:7.2f} GFLOP/s  {r['fraction_of_matmul']:6.1%} of matmul  "
              f"speedup {r['speedup_vs_naive']:.1f}x")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return {"rows": rows}


if __name__ == "__main__":
    main()
