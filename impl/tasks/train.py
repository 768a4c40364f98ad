"""Training and evaluation for the D4 (swap) and D5 (DAG) comparisons: one (task, model, seed) per call.

Curriculum over length (paper §3.2; ``Curriculum``): the current maximum length starts at 1. Each step draws the
batch length: the current maximum with probability 1/2, otherwise uniform in [1, current]. After a batch at the
current maximum, its last-position accuracy joins a window of the last ``window`` such batches; the stage
*advances on fit* when the window is full and its mean reaches ``advance_at``, or *on timeout* after ``patience``
steps at the stage. Every advance is logged with its reason, so a run whose curriculum "reached" the longest
length by timeouts says so. Training always runs ``steps`` steps (no early stop).

Evaluation: at each length of ``eval_lengths`` (odd and even, inside and beyond the training range),
``eval_samples`` fresh sequences from an independent seed, one query each (a random slot for swap; the first query
for DAG), counted as correct / total (a binomial count; the interval is computed where it is reported). Logits
that are not finite count as wrong and are counted separately, and so does every sequence of a forward pass that
overflowed inside a layer (the DeltaFormer forms refuse non-finite activations: a model trained at short lengths
can overflow at long ones).

Determinism: each run fixes the torch seed, the NumPy generator, one CPU thread and
``torch.use_deterministic_algorithms(True)``, and restores the caller's settings afterwards; so rerunning a run on
the same machine and library versions gives the same numbers. A run whose loss becomes NaN or infinite stops
training there and is flagged ``diverged`` (with the step); its evaluation counts every answer wrong. Diverged runs
are kept, never dropped.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from impl.numerics.errors import InputError
from impl.tasks import dag as dag_task
from impl.tasks import swap as swap_task
from impl.tasks.models import MODELS, build_model, parameter_count

TASKS = ("swap", "dag")
EVAL_CHUNK = 100  # sequences per evaluation forward pass


@dataclass(frozen=True)
class TaskConfig:
    task: str
    size: int  # swap: slots n; dag: node labels
    train_max: int  # swap: tokens L after the start token; dag: hops k
    eval_lengths: tuple[int, ...]
    order: str = "shuffled"  # dag: "in_order" | "shuffled"
    extra: int = 1  # dag: distractor edges per instance = extra * k
    d: int = 32
    depth: int = 2
    heads: int = 2
    steps: int = 2000
    batch: int = 32
    lr: float = 3e-3
    eval_samples: int = 200
    advance_at: float = 0.9
    window: int = 8
    patience: int = 200  # steps at one stage before it advances on timeout


SWAP_EVAL = (3, 4, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32)  # odd and even, up to 4 x train_max
CONFIGS = {
    ("swap", False): TaskConfig("swap", size=5, train_max=8, eval_lengths=SWAP_EVAL),
    ("swap", True): TaskConfig("swap", size=3, train_max=4, eval_lengths=(3, 4, 8, 9), steps=150, eval_samples=100,
                               patience=20),
    ("dag", False): TaskConfig("dag", size=27, train_max=4, eval_lengths=(1, 2, 3, 4, 5, 6, 7, 8)),
    ("dag", True): TaskConfig("dag", size=15, train_max=2, eval_lengths=(1, 2, 4), steps=150, eval_samples=100,
                              patience=20),
}
LARGE = {  # a GPU setting (not run on the CPU): same tasks, wider and deeper models, longer training
    "swap": replace(CONFIGS[("swap", False)], d=128, depth=4, heads=4, steps=20000, batch=64, train_max=16,
                    patience=1500, eval_lengths=(7, 8, 15, 16, 17, 31, 32, 33, 48, 49, 64, 65)),
    "dag": replace(CONFIGS[("dag", False)], size=51, d=128, depth=4, heads=4, steps=20000, batch=64, train_max=8,
                   patience=1500, eval_lengths=(2, 4, 6, 7, 8, 9, 12, 16)),
}


def get_config(task: str, *, quick: bool = False, large: bool = False) -> TaskConfig:
    if task not in TASKS:
        raise InputError("task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    return LARGE[task] if large else CONFIGS[(task, bool(quick))]


class Curriculum:
    """The length curriculum (module docstring). ``length(rng)`` draws a batch length; ``observe(step, length,
    acc)`` records a batch's last-position accuracy and advances the stage on fit or on timeout. ``log`` holds one
    entry per advance: {"stage", "step", "reason": "fit" | "timeout"}; ``final_fit_step`` is the first step at
    which the last stage's window reached ``advance_at`` (None if never)."""

    def __init__(self, train_max: int, advance_at: float, window: int, patience: int):
        self.train_max, self.advance_at, self.window, self.patience = train_max, advance_at, window, patience
        self.current, self.stage_steps, self.recent = 1, 0, []
        self.log: list[dict] = []
        self.final_fit_step: int | None = None

    def length(self, rng: np.random.Generator) -> int:
        if rng.random() < 0.5:
            return self.current
        return int(rng.integers(1, self.current + 1))

    def fit(self) -> bool:
        return len(self.recent) >= self.window and sum(self.recent) / len(self.recent) >= self.advance_at

    def observe(self, step: int, length: int, acc: float) -> None:
        self.stage_steps += 1
        if length == self.current:
            self.recent = (self.recent + [acc])[-self.window:]
        if self.current >= self.train_max:
            if self.final_fit_step is None and self.fit():
                self.final_fit_step = step
            return
        fit = self.fit()
        if fit or self.stage_steps >= self.patience:
            self.log.append({"stage": self.current, "step": step, "reason": "fit" if fit else "timeout"})
            self.current, self.stage_steps, self.recent = self.current + 1, 0, []

    @property
    def timeouts(self) -> list[int]:
        return [e["stage"] for e in self.log if e["reason"] == "timeout"]


def _vocab_out(cfg: TaskConfig):
    if cfg.task == "swap":
        return swap_task.vocab_size(cfg.size), cfg.size * cfg.size
    return dag_task.vocab_size(cfg.size), 2


def make_batch(cfg: TaskConfig, length: int, batch: int, rng, device):
    """(tokens, targets) on ``device``: swap targets [B, L + 1, n], DAG targets [B, 4]."""
    if cfg.task == "swap":
        b = swap_task.swap_batch(cfg.size, length, batch, rng)
        return b.tokens.to(device), b.targets.to(device)
    b = dag_task.dag_batch(length, cfg.size, cfg.extra * length, batch, rng, order=cfg.order)
    return b.tokens.to(device), b.targets.to(device)


def answer_logits(cfg: TaskConfig, logits, targets):
    """(logits [..., classes], targets [...]) of the supervised answers: swap, every slot after every token (not
    the start token); DAG, the four queries after the edges."""
    if cfg.task == "swap":
        n = cfg.size
        return logits[:, 1:].reshape(*logits.shape[:1], -1, n, n), targets[:, 1:]
    q = targets.shape[1]
    return logits[:, -q:], targets


def loss_and_accuracy(cfg: TaskConfig, logits, targets):
    """Training loss over every supervised answer, and the accuracy of the answers at the last position (swap:
    all n slots; DAG: all four queries) — what the curriculum watches."""
    lg, tg = answer_logits(cfg, logits, targets)
    loss = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1))
    last_lg, last_tg = (lg[:, -1], tg[:, -1]) if cfg.task == "swap" else (lg, tg)
    return loss, float((last_lg.argmax(-1) == last_tg).float().mean())


@torch.no_grad()
def evaluate(model, cfg: TaskConfig, seed: int, device) -> list[dict]:
    """Per eval length: {"length", "correct", "total", "nonfinite"}; one query per fresh sequence."""
    rng = np.random.default_rng([seed, 1])
    rows = []
    was_training = model.training
    model.eval()
    for length in cfg.eval_lengths:
        correct = total = nonfinite = 0
        for start in range(0, cfg.eval_samples, EVAL_CHUNK):
            nb = min(EVAL_CHUNK, cfg.eval_samples - start)
            tokens, targets = make_batch(cfg, length, nb, rng, device)
            try:
                logits = model(tokens)
            except InputError:  # a form refused non-finite activations: the model overflowed at this length
                logits = torch.full((*tokens.shape[:2], model.head.out_features), float("nan"), device=device)
            idx = torch.arange(nb, device=device)
            if cfg.task == "swap":
                lg = logits[:, -1].view(nb, cfg.size, cfg.size)
                slot = torch.from_numpy(rng.integers(0, cfg.size, size=nb)).to(device)
                lg, truth = lg[idx, slot], targets[:, -1][idx, slot]
            else:
                lg, truth = logits[:, -targets.shape[1]], targets[:, 0]
            ok = torch.isfinite(lg).all(-1)
            correct += int(((lg.argmax(-1) == truth) & ok).sum())
            nonfinite += int((~ok).sum())
            total += nb
        rows.append({"length": length, "correct": correct, "total": total, "nonfinite": nonfinite})
    model.train(was_training)
    return rows


@contextmanager
def deterministic_cpu(threads: int = 1):
    """One thread and deterministic algorithms inside; the caller's settings restored afterwards."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def _diverged(model) -> bool:
    return not all(bool(torch.isfinite(p).all()) for p in model.parameters())


def train_and_evaluate(cfg: TaskConfig, model_name: str, seed: int, *, device="cpu", progress: bool = False) -> dict:
    """Train one model on one task with one seed (curriculum over length), then evaluate. Plain JSON data; no
    wall-clock time (reruns are identical)."""
    from tqdm.auto import tqdm

    from impl.numerics.device import resolve_device

    if model_name not in MODELS:
        raise InputError("model", f"must be one of {', '.join(MODELS)}, got {model_name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    dev = resolve_device(device)
    with deterministic_cpu() if dev.type == "cpu" else _nullcontext():
        torch.manual_seed(seed)
        vocab, out_dim = _vocab_out(cfg)
        model = build_model(model_name, vocab, out_dim, d=cfg.d, depth=cfg.depth, heads=cfg.heads).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
        rng = np.random.default_rng([seed, 0])
        cur = Curriculum(cfg.train_max, cfg.advance_at, cfg.window, cfg.patience)
        losses, diverged = [], None
        for step in tqdm(range(cfg.steps), disable=not progress, desc=f"{cfg.task}/{model_name}/seed {seed}",
                         leave=False):
            length = cur.length(rng)
            tokens, targets = make_batch(cfg, length, cfg.batch, rng, dev)
            loss, acc = loss_and_accuracy(cfg, model(tokens), targets)
            if not math.isfinite(float(loss.detach())):
                diverged = step
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            cur.observe(step, length, acc)
        if diverged is None and _diverged(model):
            diverged = cfg.steps
        if diverged is None:
            rows = evaluate(model, cfg, seed, dev)
        else:
            rows = [{"length": L, "correct": 0, "total": cfg.eval_samples, "nonfinite": cfg.eval_samples}
                    for L in cfg.eval_lengths]
        tail = losses[-50:]
        return {"task": cfg.task, "model": model_name, "seed": seed, "parameters": parameter_count(model),
                "config": asdict(cfg), "diverged_at": diverged,
                "curriculum": {"reached": cur.current, "log": cur.log, "timeouts": cur.timeouts,
                               "final_fit_step": cur.final_fit_step},
                "final_loss": round(sum(tail) / len(tail), 3) if tail else None, "eval": rows}


@contextmanager
def _nullcontext():
    yield


def run_task(task: str, model: str, *, quick: bool = False, seed: int = 0, device: str = "cpu",
             progress: bool = False, large: bool = False) -> dict:
    """The CLI entry point: train ``model`` on ``task`` with ``seed`` and return the summary dict
    (parameters, curriculum log, correct / total at every eval length, and the seconds it took)."""
    import time

    cfg = get_config(task, quick=quick, large=large)
    t0 = time.perf_counter()
    out = train_and_evaluate(cfg, model, seed, device=device, progress=progress)
    out["seconds"] = time.perf_counter() - t0
    return out


def train_point(params, seed: int, *, device: str = "cpu", dtype: str = "float32") -> dict:
    """One training run from plain data, for the sweep runner: ``params`` holds ``model`` and every
    ``TaskConfig`` field (tuples for tuples). Training is always float32 (``dtype`` is accepted for the runner's
    signature and ignored)."""
    from dataclasses import fields

    names = {f.name for f in fields(TaskConfig)}
    unknown = set(params) - names - {"model"}
    if unknown:
        raise InputError("params", f"unknown training parameters {sorted(unknown)}")
    cfg = TaskConfig(**{k: (tuple(v) if k == "eval_lengths" else v) for k, v in params.items() if k in names})
    return train_and_evaluate(cfg, params["model"], int(seed), device=device)
