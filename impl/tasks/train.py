"""Training and evaluation for the D4 (swap) and D5 (DAG) comparisons: one (task, model, seed) per call.

Curriculum over length (paper §3.2): batches have one length drawn uniformly from [1, current_max]; current_max
starts at 1 and grows by one when the accuracy on the last ``window`` batches at length current_max reaches
``advance_at``, or at the latest after ``steps / (2 (train_max - 1))`` steps at one stage, so that the whole training
range is reached by half-way. Evaluation: at each length of ``eval_lengths`` (inside and beyond the training range),
``eval_samples`` fresh sequences from an independent seed, one query each (a random slot for swap; the
reachability query for DAG), so correct / total is a binomial count with an exact Clopper-Pearson interval.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from impl.numerics.errors import InputError
from impl.tasks import dag as dag_task
from impl.tasks import swap as swap_task
from impl.tasks.models import MODELS, build_model, parameter_count

TASKS = ("swap", "dag")


@dataclass(frozen=True)
class TaskConfig:
    task: str
    size: int  # swap: slots n; dag: node labels
    train_max: int  # swap: swaps L; dag: hops k
    eval_lengths: tuple[int, ...]
    extra: int = 0  # dag: distractor edges per instance = extra * k
    d: int = 32
    depth: int = 2
    heads: int = 2
    steps: int = 800
    batch: int = 32
    lr: float = 3e-3
    eval_samples: int = 400
    advance_at: float = 0.9
    window: int = 10


CONFIGS = {
    ("swap", False): TaskConfig("swap", size=5, train_max=8, eval_lengths=(2, 4, 8, 12, 16), steps=600),
    ("swap", True): TaskConfig("swap", size=4, train_max=4, eval_lengths=(2, 4, 8), steps=150, eval_samples=200),
    ("dag", False): TaskConfig("dag", size=27, train_max=4, eval_lengths=(1, 2, 4, 6, 8), extra=1, steps=600),
    ("dag", True): TaskConfig("dag", size=15, train_max=2, eval_lengths=(1, 2, 4), extra=1, steps=150, eval_samples=200),
}
LARGE = {  # options for a GPU (or patience): same tasks, wider models, longer training
    "swap": replace(CONFIGS[("swap", False)], d=128, depth=4, heads=4, steps=5000, batch=64, train_max=16,
                    eval_lengths=(4, 8, 16, 24, 32)),
    "dag": replace(CONFIGS[("dag", False)], size=51, d=128, depth=4, heads=4, steps=5000, batch=64, train_max=8,
                   eval_lengths=(2, 4, 8, 12, 16)),
}


def get_config(task: str, *, quick: bool = False, large: bool = False) -> TaskConfig:
    if task not in TASKS:
        raise InputError("task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    return LARGE[task] if large else CONFIGS[(task, bool(quick))]


def _vocab_out(cfg: TaskConfig):
    if cfg.task == "swap":
        return swap_task.vocab_size(cfg.size), cfg.size * cfg.size
    return dag_task.vocab_size(cfg.size), 2


def _batch(cfg: TaskConfig, length: int, batch: int, rng, device):
    if cfg.task == "swap":
        b = swap_task.swap_batch(cfg.size, length, batch, rng)
        return b.tokens.to(device), b.targets.to(device)
    extra = cfg.extra * length
    b = dag_task.dag_batch(length, cfg.size, extra, batch, rng)
    return b.tokens.to(device), b.targets.to(device)


def _loss_acc(cfg: TaskConfig, logits, targets):
    """Training loss (swap: every position and slot; dag: every prefix) and accuracy of the last position."""
    if cfg.task == "swap":
        n = cfg.size
        lg = logits.view(*logits.shape[:2], n, n)
        loss = torch.nn.functional.cross_entropy(lg.reshape(-1, n), targets.reshape(-1))
        acc = (lg[:, -1].argmax(-1) == targets[:, -1]).float().mean()
        return loss, float(acc)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), targets.reshape(-1))  # every prefix
    return loss, float((logits[:, -1].argmax(-1) == targets[:, -1]).float().mean())


@torch.no_grad()
def evaluate(model, cfg: TaskConfig, seed: int, device) -> list[dict]:
    """Accuracy at each eval length on fresh data (independent seed), one query per sequence, with a 95% exact
    binomial interval."""
    from impl.estimators.stats import binomial_interval

    rng = np.random.default_rng([seed, 1])
    rows = []
    model.eval()
    for length in cfg.eval_lengths:
        correct = total = 0
        for start in range(0, cfg.eval_samples, 100):
            nb = min(100, cfg.eval_samples - start)
            tokens, targets = _batch(cfg, length, nb, rng, device)
            logits = model(tokens)
            if cfg.task == "swap":
                lg = logits[:, -1].view(nb, cfg.size, cfg.size)
                slot = torch.from_numpy(rng.integers(0, cfg.size, size=nb)).to(device)
                idx = torch.arange(nb, device=device)
                pred, truth = lg[idx, slot].argmax(-1), targets[:, -1][idx, slot]
            else:
                pred, truth = logits[:, -1].argmax(-1), targets[:, -1]
            correct += int((pred == truth).sum())
            total += nb
        est = binomial_interval(correct, total, alpha=0.05)
        rows.append({"length": length, "correct": correct, "total": total, "accuracy": est.value, "lo": est.lo,
                     "hi": est.hi, "in_training_range": length <= cfg.train_max})
    model.train()
    return rows


def train_and_evaluate(cfg: TaskConfig, model_name: str, seed: int, *, device="cpu", progress: bool = False) -> dict:
    """Train one model on one task with one seed (curriculum over length), then evaluate."""
    from tqdm.auto import tqdm

    from impl.numerics.device import resolve_device

    if model_name not in MODELS:
        raise InputError("model", f"must be one of {', '.join(MODELS)}, got {model_name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    dev = resolve_device(device)
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)  # tiny models: one thread is fastest, and runs can go in parallel
    try:
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        vocab, out_dim = _vocab_out(cfg)
        model = build_model(model_name, vocab, out_dim, d=cfg.d, depth=cfg.depth, heads=cfg.heads).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
        rng = np.random.default_rng([seed, 0])
        current, stage_steps, recent = 1, 0, []
        max_stage = max(1, cfg.steps // (2 * max(1, cfg.train_max - 1)))
        losses = []
        for _ in tqdm(range(cfg.steps), disable=not progress, desc=f"{cfg.task}/{model_name}/seed {seed}", leave=False):
            length = int(rng.integers(1, current + 1))
            tokens, targets = _batch(cfg, length, cfg.batch, rng, dev)
            loss, acc = _loss_acc(cfg, model(tokens), targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            stage_steps += 1
            if length == current:
                recent = (recent + [acc])[-cfg.window:]
            ready = len(recent) >= cfg.window and sum(recent) / len(recent) >= cfg.advance_at
            if current < cfg.train_max and (ready or stage_steps >= max_stage):
                current, stage_steps, recent = current + 1, 0, []
        rows = evaluate(model, cfg, seed, dev)
        return {"task": cfg.task, "model": model_name, "seed": seed, "device": str(dev),
                "parameters": parameter_count(model), "config": asdict(cfg), "curriculum_reached": current,
                "final_loss": float(np.mean(losses[-20:])), "eval": rows, "seconds": time.perf_counter() - t0}
    finally:
        torch.set_num_threads(threads)


def run_task(task: str, model: str, *, quick: bool = False, seed: int = 0, device: str = "cpu",
             progress: bool = False, large: bool = False) -> dict:
    """The CLI entry point: train ``model`` on ``task`` with ``seed`` and return the summary dict
    (parameters, curriculum, accuracy with 95% intervals at every eval length, seconds)."""
    cfg = get_config(task, quick=quick, large=large)
    return train_and_evaluate(cfg, model, seed, device=device, progress=progress)
