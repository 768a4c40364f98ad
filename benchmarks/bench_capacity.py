"""Benchmark: a full ``assocmem capacity`` run for one user feature map (``assocmem.capacity.run``).

The job (issue: under 2 minutes on 2 cores at d_k = 64 over 8 values of N): the map's SNR⁻¹ in every convention at
the default 2000 trials (estimated once and scaled to each N), its per-probe factors and C10's predicted recall with
the capacity search, the measured recall at 3 N (1000 memories each), and the same for the linear memory and
softmax attention. The map is ELU + 1 (F = d_k features), checked and wrapped as a user's map is.
Minimal flop count, stated: the memories written for the measured recall, 2 N F d_v each (S = V^T phi(K)); the
rest (features, kernel evaluations, the recall integrals) is overhead and not counted. No naive reference: the
whole run is the unit of interest, and its wall time is the number to read.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import row  # noqa: E402


def elu1(x):
    return torch.nn.functional.elu(x) + 1


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    if device != "cpu":
        return []  # the capacity run is a CPU float64 job
    from assocmem.capacity import config
    from assocmem.capacity import run as run_capacity
    from assocmem.capacity.load import check_feature_map
    from impl.memories.user import FeatureMapMemory

    d_k = 16 if quick else 64
    cfg = config("benchmarks.bench_capacity:elu1", d_k=d_k)
    t0 = time.perf_counter()
    check_feature_map(elu1, d_k)
    run_capacity(FeatureMapMemory(cfg.path, elu1, d_k), cfg)
    secs = time.perf_counter() - t0
    flops = sum(cfg.recall_trials * 2 * n * d_k * cfg.d_v for n in cfg.measure_at)
    return [row("capacity run, one feature map", "float64", device,
                {"d_k": d_k, "N values": len(cfg.n_pairs), "trials": cfg.trials, "recall_trials": cfg.recall_trials},
                secs, flops, note="whole run, baselines included; target: under 120 s at d_k = 64 on 2 cores")]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(f"{r['params']}: {r['seconds']:.1f} s, {r['fraction_of_matmul']:.1%} of matmul")
