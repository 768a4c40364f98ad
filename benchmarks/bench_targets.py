"""Benchmark: the speed targets of issue 12, each measured in this one run and marked met or not met, with the peers
(flash-linear-attention's naive references, Hugging Face transformers' pure-torch fallbacks) timed beside ours when
they are installed (``pip install "assocmem[peers]"``). Never asserted anywhere: a target not met is a row that says
so.

Targets (CPU, float32 unless stated, B = 2, H = 4, chunk 64; the minimal flop counts are stated per row):

1. chunked forms of DeltaNet, Gated DeltaNet, scalar decay and GLA at T = 4096, d in {64, 128}: >= 2x the faster of
   the peer's naive chunked form and HF's fallback (HF's gated delta rule with log-gates 0 is DeltaNet; neither
   peer has a chunked GLA: its row compares with fla's naive recurrent GLA and says so); and >= 40 % of matmul at
   d = 128. Minimal flops per head and chunk: delta rules C^2 (3 d_k + 2 d_v) + C^3/3 + 6 C d_k d_v (see
   bench_updates.py); decays C^2 (d_k + d_v) + 4 C d_k d_v (causal Q K^T and its product with V counted as half of
   dense, the state read and write 2 C d_k d_v each).
2. DeltaFormer chunked form, forward and forward + backward, T = 4096, d = 64: >= 25 % of matmul (forward
   2 T^2 (d_k + d_v) per head; forward + backward three times that) and >= 20x fla's naive DeltaFormer (timed at
   T = 512 and scaled by T^2: it is a Python loop over t with O(t) work per step, stated in the note).
3. linear SNR Monte Carlo end to end (``all_probe_trials``, native sampling, N = 4096, d = 256): >= 50 % of matmul
   (4 N d_k d_v per trial).
4. the task models' training step (T = 256, B = 32, width 32): >= 20 % of matmul (bench_tasks.py's count).
5. a cold ``assocmem report`` (``--fresh``, into a temporary folder): <= 240 s on this machine (the target is for 2
   idle cores: a loaded machine says nothing). Skipped with ``--quick``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import best_time, matmul_throughput, row  # noqa: E402

B, H, C = 2, 4, 64
ROOT = Path(__file__).resolve().parents[1]


def _target(r, what, value, threshold, kind=">="):
    r.setdefault("targets", []).append({"target": what, "value": value, "threshold": threshold,
                                        "met": value >= threshold if kind == ">=" else value <= threshold, "kind": kind})
    return r


def _peer(pid):
    """The peer's callable, or None when its package is not installed or does not import."""
    try:
        from assocmem.conformance import peers

        p = next(p for p in peers.PEERS if p.id == pid)
        if peers.installed(p.package) is None:
            return None
        return peers.load(p)
    except Exception:  # noqa: BLE001 - a peer that does not import is simply absent from the row
        return None


def delta_flops(T, dk, dv):
    return B * H * math.ceil(T / C) * (C * C * (3 * dk + 2 * dv) + C**3 / 3 + 6 * C * dk * dv)


def decay_flops(T, dk, dv):
    return B * H * math.ceil(T / C) * (C * C * (dk + dv) + 4 * C * dk * dv)


def _inputs(T, d, seed=0):
    """bench_updates.py's inputs (unit keys, b ~ U(0, 1)) and log-gates of a in [0.9, 1], scalar and per channel."""
    from benchmarks.bench_updates import _inputs as delta_inputs

    q, k, v, beta = delta_inputs(T, d, seed)
    g = torch.Generator().manual_seed(seed + 1)
    logg = torch.log(0.9 + 0.1 * torch.rand(B, H, T, generator=g))
    loggk = torch.log(0.9 + 0.1 * torch.rand(B, H, T, d, generator=g))
    return q, k, v, beta, logg, loggk


def chunk_rows(quick):
    from impl.rules.decay.chunk import decay_chunk
    from impl.rules.deltanet.chunk import delta_rule_chunk
    from impl.rules.gated_deltanet.chunk import gated_delta_rule_chunk

    seq = lambda x: x.transpose(1, 2).contiguous()  # noqa: E731
    fla = {n: _peer(f"fla {n}") for n in ("delta_rule.delta_rule_chunkwise", "gated_delta_rule.naive_chunk_gated_delta_rule",
                                           "simple_gla.naive_chunk_simple_gla", "gla.naive_recurrent_gla")}
    hf = _peer("hf torch_chunk_gated_delta_rule")
    T = 1024 if quick else 4096
    rows = []
    with torch.no_grad():
        for d in ((64,) if quick else (64, 128)):
            q, k, v, beta, logg, loggk = _inputs(T, d)
            sq, sk, sv, sb, sg, sgk = (seq(x) for x in (q, k, v, beta, logg, loggk))
            zero = torch.zeros_like(sg)
            s = d**-0.5
            jobs = {
                "DeltaNet": (lambda: delta_rule_chunk(q, k, v, beta, scale=s, chunk_size=C), delta_flops(T, d, d), {
                    "fla naive chunk": fla["delta_rule.delta_rule_chunkwise"] and (lambda: fla["delta_rule.delta_rule_chunkwise"](q, k, v, beta, chunk_size=C)),
                    "HF fallback": hf and (lambda: hf(sq, sk, sv, zero, sb, chunk_size=C))}),
                "Gated DeltaNet": (lambda: gated_delta_rule_chunk(q, k, v, beta, logg, scale=s, chunk_size=C, log_gates=True),
                                   delta_flops(T, d, d), {
                    "fla naive chunk": fla["gated_delta_rule.naive_chunk_gated_delta_rule"] and (lambda: fla["gated_delta_rule.naive_chunk_gated_delta_rule"](sq, sk, sv, sg, sb, chunk_size=C)),
                    "HF fallback": hf and (lambda: hf(sq, sk, sv, sg, sb, chunk_size=C))}),
                "scalar decay": (lambda: decay_chunk(q, k, v, logg, scale=s, chunk_size=C, log_gates=True), decay_flops(T, d, d), {
                    "fla naive chunk": fla["simple_gla.naive_chunk_simple_gla"] and (lambda: fla["simple_gla.naive_chunk_simple_gla"](sq, sk, sv, sg, chunk_size=C))}),
                "GLA": (lambda: decay_chunk(q, k, v, loggk, scale=s, chunk_size=C, log_gates=True), decay_flops(T, d, d), {
                    "fla naive recurrent (no chunked peer)": fla["gla.naive_recurrent_gla"] and (lambda: fla["gla.naive_recurrent_gla"](sq, sk, sv, sgk))}),
            }
            for name, (fn, flops, peers) in jobs.items():
                secs = best_time(fn, repeats=1 if quick else 3)
                peer_secs = {p: best_time(f, repeats=1 if quick else 2) for p, f in peers.items() if f}
                chunked = {p: t for p, t in peer_secs.items() if "no chunked" not in p}
                fastest = min(chunked.values()) if chunked else None
                note = "; ".join(f"{p}: {t:.3g} s" for p, t in peer_secs.items()) or "no peer installed"
                r = row(f"{name} chunk (targets)", "float32", "cpu", {"T": T, "d_k": d, "d_v": d, "B": B, "H": H, "chunk": C},
                        secs, flops, speedup=(fastest / secs) if fastest else None, note=note)
                r["peers"] = peer_secs
                if fastest:
                    _target(r, f"{name} chunk >= 2x the faster peer (T = {T}, d = {d})", fastest / secs, 2.0)
                elif peer_secs:
                    slow = min(peer_secs.values())
                    r["speedup_vs_naive"] = slow / secs
                if d == 128 or quick:
                    _target(r, f"{name} chunk >= 40 % of matmul (T = {T}, d = {d})", r["fraction_of_matmul"], 0.40)
                rows.append(r)
    return rows


def deltaformer_rows(quick):
    from impl.deltaformer import deltaformer_chunk

    fla = _peer("fla deltaformer.naive_deltaformer_attn")
    T, d, T_peer = (1024, 64, 128) if quick else (4096, 64, 512)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, H, T, d, generator=g) for _ in range(3))
    beta = torch.rand(B, H, T, generator=g)
    fwd_flops = B * H * 2 * T * T * (d + d)
    rows = []
    with torch.no_grad():
        secs = best_time(lambda: deltaformer_chunk(q, k, v, beta, chunk_size=C), repeats=1 if quick else 2)
    peer = None
    if fla is not None:
        seq = lambda x: x[:, :, :T_peer].transpose(1, 2).contiguous()  # noqa: E731
        with torch.no_grad():
            t_small = best_time(lambda: fla(seq(q), seq(k), seq(v), seq(beta)), repeats=1)
        peer = t_small * (T / T_peer) ** 2
    r = row("DeltaFormer chunk forward (targets)", "float32", "cpu", {"T": T, "d_k": d, "d_v": d, "B": B, "H": H, "chunk": C},
            secs, fwd_flops, speedup=(peer / secs) if peer else None,
            note=(f"fla naive_deltaformer_attn timed at T = {T_peer}: {t_small:.3g} s, scaled by (T / {T_peer})^2 to "
                  f"{peer:.3g} s" if peer else "fla-core not installed"))
    _target(r, f"DeltaFormer chunk forward >= 25 % of matmul (T = {T})", r["fraction_of_matmul"], 0.25)
    if peer:
        _target(r, f"DeltaFormer chunk forward >= 20x fla's naive DeltaFormer (T = {T})", peer / secs, 20.0)
    rows.append(r)
    qg, kg, vg, bg = (x.clone().requires_grad_(True) for x in (q, k, v, beta))

    def fwd_bwd():
        deltaformer_chunk(qg, kg, vg, bg, chunk_size=C).sum().backward()

    secs = best_time(fwd_bwd, repeats=1)
    r = row("DeltaFormer chunk forward + backward (targets)", "float32", "cpu", {"T": T, "d_k": d, "d_v": d, "B": B, "H": H, "chunk": C},
            secs, 3 * fwd_flops, note="autograd through the chunked form; minimal flops 3x the forward's")
    _target(r, f"DeltaFormer chunk forward + backward >= 25 % of matmul (T = {T})", r["fraction_of_matmul"], 0.25)
    rows.append(r)
    return rows


def snr_rows(quick):
    from impl.memories.linear import all_probe_trials
    from impl.numerics.device import generator

    n, d = (1024, 128) if quick else (4096, 256)
    trials = 2 if quick else 4
    gen = generator(0)
    secs = best_time(lambda: all_probe_trials(n, d, d, trials, gen, dtype="float32", native=True), repeats=1 if quick else 3) / trials
    r = row("linear SNR Monte Carlo end to end (targets)", "float32", "cpu", {"N": n, "d_k": d, "d_v": d},
            secs, 4 * n * d * d, note="per trial, native float32 sampling included")
    return [_target(r, f"linear SNR Monte Carlo >= 50 % of matmul (N = {n}, d = {d})", r["fraction_of_matmul"], 0.50)]


def training_rows(quick):
    from benchmarks import bench_tasks
    from impl.tasks import models

    T = 64 if quick else 256
    rows = []
    for kind in models.MODELS:
        model, step = bench_tasks._step_fn(kind, T)
        secs = best_time(step, repeats=1 if quick else 3)
        flops = 6 * bench_tasks._dense_params(model) * bench_tasks.B * T + 3 * bench_tasks.DEPTH * 2 * bench_tasks.B * T * T * bench_tasks.D
        r = row(f"task model training step, {kind} (targets)", "float32", "cpu", {"model": kind, "T": T, "B": bench_tasks.B},
                secs, flops, note="forward, backward and AdamW step; bench_tasks.py's minimal count")
        rows.append(_target(r, f"training step of the {kind} model >= 20 % of matmul (T = {T})", r["fraction_of_matmul"], 0.20))
    return rows


def report_rows(quick):
    if quick:
        return []
    with tempfile.TemporaryDirectory(prefix="assocmem-cold-report-") as tmp:
        env = dict(os.environ, ASSOCMEM_CACHE=str(Path(tmp) / "cache"))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "assocmem", "report", "--fresh", "--quiet", "--out", str(Path(tmp) / "out")],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - t0
    r = row("cold assocmem report (targets)", "float64", "cpu", {"command": "assocmem report --fresh"}, secs, 0.0,
            note=("completed" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})") +
                 f"; {os.cpu_count()} cores; the target is for 2 idle cores")
    r["fraction_of_matmul"] = None
    return [_target(r, "cold `assocmem report` <= 240 s", secs, 240.0, kind="<=")]


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    if device != "cpu":
        return []
    matmul_throughput("float32", "cpu")
    return chunk_rows(quick) + deltaformer_rows(quick) + snr_rows(quick) + training_rows(quick) + report_rows(quick)


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        for t in r.get("targets", []):
            print(f"{'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['value']:.3g} (threshold {t['threshold']:g})  [{r['note']}]")
