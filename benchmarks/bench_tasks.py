"""Benchmark: one training step (forward, backward, AdamW update) of the D4/D5 task models.

Models as trained by ``impl.tasks`` (width 32, depth 2, 2 heads) on a batch of 32 sequences of length T.
Minimal flop count of the job, stated (the mixer-agnostic cost every model must pay):
  6 P_dense B T            (forward 2 + backward 4 flops per dense parameter per token; embeddings excluded)
+ 3 * depth * 2 B T^2 d    (causal score and value products, half of 4 B T^2 d; backward twice forward)
DeltaFormer and DeltaNet spend more (the triangular solve / state passing); that is the algorithm's choice and is
not counted. The naive reference replaces each mixer's fast form by its explicit recurrence (DeltaNet:
``delta_rule_recurrent``; DeltaFormer: ``deltaformer_recurrent``); the Transformer has none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import best_time, row  # noqa: E402
from impl.tasks import models  # noqa: E402

B, D, DEPTH, HEADS, VOCAB, OUT = 32, 32, 2, 2, 64, 8


def _dense_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("emb."))


def _step_fn(kind, T, naive=False):
    torch.manual_seed(0)
    model = models.build_model(kind, VOCAB, OUT, d=D, depth=DEPTH, heads=HEADS)
    if naive:
        _use_recurrences(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, VOCAB, (B, T))
    targets = torch.randint(0, OUT, (B, T))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(tokens).reshape(-1, OUT), targets.reshape(-1))
        loss.backward()
        opt.step()

    return model, step


def _use_recurrences(model):
    """Swap every mixer's fast form for its ground-truth recurrence (same numbers, explicit loop over t)."""
    import impl.deltaformer.parallel as dfp
    import impl.rules.deltanet.chunk as dnc
    from impl.deltaformer.recurrent import deltaformer_recurrent
    from impl.rules.deltanet.recurrent import delta_rule_recurrent

    dnc.delta_rule_chunk = lambda q, k, v, beta, *, scale=1.0, chunk_size=64, **kw: delta_rule_recurrent(q, k, v, beta, scale=scale, **kw)
    dfp.deltaformer_parallel = deltaformer_recurrent


def run(quick: bool = False, device: str = "cpu") -> list[dict]:
    if device != "cpu":
        return []  # the task models are benchmarked on the CPU (their default training device)
    import impl.deltaformer.parallel as dfp
    import impl.rules.deltanet.chunk as dnc

    rows = []
    for T in ((16, 64) if quick else (16, 64, 256)):
        for kind in models.MODELS:
            model, step = _step_fn(kind, T)
            secs = best_time(step, repeats=2 if quick else 3)
            flops = 6 * _dense_params(model) * B * T + 3 * DEPTH * 2 * B * T * T * D
            naive = None
            if kind != "transformer" and T <= 64:
                saved = (dnc.delta_rule_chunk, dfp.deltaformer_parallel)
                try:
                    _, nstep = _step_fn(kind, T, naive=True)
                    naive = best_time(nstep, repeats=1)
                finally:
                    dnc.delta_rule_chunk, dfp.deltaformer_parallel = saved
            rows.append(row("task model training step", "float32", device, {"model": kind, "T": T, "B": B, "d": D},
                            secs, flops, speedup=(naive / secs) if naive else None,
                            note="naive: mixer replaced by its explicit recurrence" if naive else ""))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(f"{r['params']}: {r['seconds'] * 1e3:.1f} ms/step, {r['fraction_of_matmul']:.1%} of matmul, "
              f"speedup vs naive {r['speedup_vs_naive']}")
