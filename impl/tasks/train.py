"""Training and evaluation for the D4 (swap) and D5 (DAG) comparisons: one (task, model, seed) per call.

Fit-first training (docs/CLAIMS.md D4, D5): a run trains until its in-distribution criterion is met or its step cap
``steps`` is reached, not for a fixed count. Every ``check_every`` steps a fixed validation set (its own seed; the
training lengths only) gives the validation loss and the accuracy at train_max - 1 and train_max (swap: every slot
after that many tokens; DAG: every query at that many hops); the run stops at the first check where both
accuracies are >= ``fit_stop`` and records that step as ``steps_to_fit`` (None if the cap came first;
``fit_stop=None`` trains all ``steps``). The learning rate warms up linearly over ``warmup`` steps, then stays at
``lr`` (AdamW, weight decay 0.01, gradient norm clipped at 1).

Lengths: the swap task supervises every prefix of a sequence, so each batch has the longest training length and
trains every length 1..train_max at once; the DAG task draws each batch's hops uniformly in 1..train_max. The
optional curriculum (``curriculum=True``; ``Curriculum``; paper §3.2) starts at length 1 and advances a stage on
fit (window accuracy >= ``advance_at``) or on timeout (``patience`` steps); no stage ends before the warm-up has
ended. Every advance is logged with its reason.

DAG auxiliary target (``aux=True``): beside each query's answer, the model predicts the successor of the query's
source node (``impl.tasks.dag.successor``) from n_nodes extra logits; the same target for every arm, added to the
loss with weight 1 and never scored.

Learning rate per arm (``choose_lr``): one run per learning rate of a stated grid on a separate seed, each for the
same number of steps without early stopping; the lowest final validation loss wins (diverged runs lose).

Evaluation: at each length of ``eval_lengths`` (inside and beyond the training range), ``eval_samples`` fresh
sequences from an independent seed, one query each (a random slot for swap; the first query for DAG), counted as
correct / total (a binomial count; the interval is computed where it is reported). Logits that are not finite
count as wrong and are counted separately, and so does every sequence of a forward pass that overflowed inside a
layer (the DeltaFormer forms refuse non-finite activations: a model trained at short lengths can overflow at long
ones).

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
    steps: int = 2000  # the step cap
    batch: int = 32
    lr: float = 3e-3
    eval_samples: int = 200
    advance_at: float = 0.9
    window: int = 8
    patience: int = 200  # steps at one stage before it advances on timeout (curriculum only)
    fit_stop: float | None = 0.95  # stop at the first check with validation accuracy >= this (None: all steps)
    check_every: int = 100
    val_samples: int = 256
    warmup: int = 200  # linear learning-rate warm-up steps, then constant
    curriculum: bool = False
    aux: bool = False  # dag: the auxiliary successor target
    init: str = "random"  # "random" | "construction" (only for the construction arm, ``reach_linear``)
    init_noise: float = 0.0  # std of the noise added to the construction


SWAP_EVAL = (3, 4, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32)  # odd and even, up to 4 x train_max
DAG_EVAL = (1, 2, 3, 4)  # up to 2 x train_max: 4 x (8 hops) needs 3 (8 + 1) = 27 labels, more than 15
CONFIGS = {
    ("swap", False): TaskConfig("swap", size=5, train_max=8, eval_lengths=SWAP_EVAL, steps=10000),
    ("swap", True): TaskConfig("swap", size=3, train_max=4, eval_lengths=(3, 4, 8, 9), steps=150, eval_samples=100,
                               patience=20, check_every=25, val_samples=64, warmup=20),
    ("dag", False): TaskConfig("dag", size=15, train_max=2, eval_lengths=DAG_EVAL, order="in_order", aux=True,
                               steps=8000),
    ("dag", True): TaskConfig("dag", size=15, train_max=2, eval_lengths=(1, 2, 4), steps=150, eval_samples=100,
                              patience=20, order="in_order", aux=True, check_every=25, val_samples=64, warmup=20),
}
LARGE = {  # a GPU setting (not run on the CPU): same tasks, wider and deeper models, longer training
    "swap": replace(CONFIGS[("swap", False)], d=128, depth=4, heads=4, steps=20000, batch=64, train_max=16,
                    patience=1500, eval_lengths=(7, 8, 15, 16, 17, 31, 32, 33, 48, 49, 64, 65)),
    "dag": replace(CONFIGS[("dag", False)], size=51, d=128, depth=4, heads=4, steps=20000, batch=64, train_max=8,
                   patience=1500, eval_lengths=(2, 4, 6, 7, 8, 9, 12, 16)),
}
CONTROL_MODELS = ("reach_linear", "swap_linear")  # impl.tasks.construction: ReachModel (DAG), SwapModel (swap)
CONTROL_TASK = {"reach_linear": "dag", "swap_linear": "swap"}
INITS = ("random", "construction")


def get_config(task: str, *, quick: bool = False, large: bool = False) -> TaskConfig:
    if task not in TASKS:
        raise InputError("task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    return LARGE[task] if large else CONFIGS[(task, bool(quick))]


class Curriculum:
    """The length curriculum (module docstring). ``length(rng)`` draws a batch length; ``observe(step, length,
    acc)`` records a batch's last-position accuracy and advances the stage on fit or on timeout. ``log`` holds one
    entry per advance: {"stage", "step", "reason": "fit" | "timeout"}; ``final_fit_step`` is the first step at
    which the last stage's window reached ``advance_at`` (None if never). No stage advances before step ``warmup``."""

    def __init__(self, train_max: int, advance_at: float, window: int, patience: int, warmup: int = 0):
        self.train_max, self.advance_at, self.window, self.patience = train_max, advance_at, window, patience
        self.warmup = warmup  # no stage advances at a step < warmup
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
        if step >= self.warmup and (fit or self.stage_steps >= self.patience):
            self.log.append({"stage": self.current, "step": step, "reason": "fit" if fit else "timeout"})
            self.current, self.stage_steps, self.recent = self.current + 1, 0, []

    @property
    def timeouts(self) -> list[int]:
        return [e["stage"] for e in self.log if e["reason"] == "timeout"]


def _vocab_out(cfg: TaskConfig):
    """(vocabulary, output logits): swap n x n slot logits; DAG 2 answer logits (+ n_nodes auxiliary ones)."""
    if cfg.task == "swap":
        return swap_task.vocab_size(cfg.size), cfg.size * cfg.size
    return dag_task.vocab_size(cfg.size), 2 + (cfg.size if cfg.aux else 0)


def make_batch(cfg: TaskConfig, length: int, batch: int, rng, device, *, with_aux: bool = False):
    """(tokens, targets) on ``device``: swap targets [B, L + 1, n], DAG targets [B, 4]; with ``with_aux`` a third
    item, the DAG auxiliary targets [B, 4] (None for swap)."""
    if cfg.task == "swap":
        b = swap_task.swap_batch(cfg.size, length, batch, rng)
        out = (b.tokens.to(device), b.targets.to(device), None)
    else:
        b = dag_task.dag_batch(length, cfg.size, cfg.extra * length, batch, rng, order=cfg.order)
        out = (b.tokens.to(device), b.targets.to(device), b.aux.to(device))
    return out if with_aux else out[:2]


def answer_logits(cfg: TaskConfig, logits, targets):
    """(logits [..., classes], targets [...]) of the supervised answers: swap, every slot after every token (not
    the start token); DAG, the two answer logits of the four queries after the edges."""
    if cfg.task == "swap":
        n = cfg.size
        return logits[:, 1:].reshape(*logits.shape[:1], -1, n, n), targets[:, 1:]
    q = targets.shape[1]
    return logits[:, -q:, :2], targets


def loss_and_accuracy(cfg: TaskConfig, logits, targets, aux=None):
    """Training loss over every supervised answer (plus, for the DAG task with ``aux``, the cross-entropy of the
    auxiliary successor logits), and the accuracy of the answers at the last position (swap: all n slots; DAG:
    all four queries)."""
    lg, tg = answer_logits(cfg, logits, targets)
    loss = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1))
    if aux is not None and cfg.task == "dag" and cfg.aux:
        al = logits[:, -aux.shape[1]:, 2:]
        loss = loss + torch.nn.functional.cross_entropy(al.reshape(-1, al.shape[-1]), aux.reshape(-1))
    last_lg, last_tg = (lg[:, -1], tg[:, -1]) if cfg.task == "swap" else (lg, tg)
    return loss, float((last_lg.argmax(-1) == last_tg).float().mean())


def fit_lengths(cfg: TaskConfig) -> tuple[int, ...]:
    """The lengths the fit criterion reads: train_max - 1 (when >= 1) and train_max."""
    return tuple(L for L in (cfg.train_max - 1, cfg.train_max) if L >= 1)


def validation_set(cfg: TaskConfig, seed: int, device) -> list:
    """[(length, tokens, targets)]: the fixed in-distribution validation set of a run (its own generator): swap, ``val_samples`` sequences of
    train_max tokens (every prefix is read); DAG, ``val_samples`` instances at every hop count 1..train_max."""
    rng = np.random.default_rng([seed, 2])
    if cfg.task == "swap":
        return [(cfg.train_max, *make_batch(cfg, cfg.train_max, cfg.val_samples, rng, device))]
    return [(k, *make_batch(cfg, k, cfg.val_samples, rng, device)) for k in range(1, cfg.train_max + 1)]


@torch.no_grad()
def validate(model, cfg: TaskConfig, val) -> dict:
    """{"loss": mean answer cross-entropy over the validation set, "acc": {L: accuracy at L for L in
    fit_lengths}} (swap: every slot after L tokens; DAG: every query of the L-hop instances)."""
    was_training = model.training
    model.eval()
    losses, acc = [], {}
    for length, tokens, targets in val:
        try:
            logits = model(tokens)
        except InputError:  # overflow inside a layer: every answer wrong, infinite loss
            logits = torch.full((*tokens.shape[:2], model.head.out_features), float("nan"), device=tokens.device)
        lg, tg = answer_logits(cfg, logits, targets)
        losses.append(float(torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1))))
        ok = lg.argmax(-1) == tg
        if cfg.task == "swap":
            for L in fit_lengths(cfg):
                acc[L] = float(ok[:, L - 1].float().mean())
        else:
            acc[length] = float(ok.float().mean())
    model.train(was_training)
    return {"loss": sum(losses) / len(losses), "acc": {L: acc[L] for L in fit_lengths(cfg)}}


def choose_lr(rows) -> float:
    """The learning rate of the row with the lowest final validation loss ({"lr", "val_loss"}; a diverged run's
    loss is None and never wins; ties go to the earlier row). An InputError if every run diverged."""
    finite = [r for r in rows if r["val_loss"] is not None and math.isfinite(r["val_loss"])]
    if not finite:
        raise InputError("lr", "every learning rate of the grid diverged; nothing to select")
    return min(finite, key=lambda r: r["val_loss"])["lr"]


def build_task_model(cfg: TaskConfig, model_name: str, seed: int):
    """The model of a run: an ``impl.tasks.models`` model, or a construction arm (``reach_linear`` for the DAG task,
    ``swap_linear`` for the swap task) from a random start or from the construction plus N(0, init_noise^2) noise."""
    vocab, out_dim = _vocab_out(cfg)
    if cfg.init not in INITS:
        raise InputError("init", f"must be one of {', '.join(INITS)}, got {cfg.init!r}")
    if model_name in CONTROL_MODELS:
        from impl.tasks import construction as con

        if cfg.task != CONTROL_TASK[model_name]:
            raise InputError("model", f"{model_name} is a {CONTROL_TASK[model_name]}-task control, not a {cfg.task} arm")
        if model_name == "reach_linear":
            model, set_state = con.ReachModel(cfg.size, out_dim), con.construction_state
        else:
            model, set_state = con.SwapModel(cfg.size), con.swap_construction_state
        if cfg.init == "construction":
            set_state(model)
            con.perturb(model, cfg.init_noise, torch.Generator().manual_seed(seed))
        return model
    if cfg.init != "random":
        raise InputError("init", f"only the construction arms {', '.join(CONTROL_MODELS)} have a construction start")
    return build_model(model_name, vocab, out_dim, d=cfg.d, depth=cfg.depth, heads=cfg.heads)


def _train_length(cfg: TaskConfig, cur, rng) -> int:
    if cur is not None:
        return cur.length(rng)
    if cfg.task == "swap":
        return cfg.train_max  # every prefix is supervised: lengths 1..train_max in every batch
    return int(rng.integers(1, cfg.train_max + 1))


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
                lg, truth = logits[:, -targets.shape[1], :2], targets[:, 0]  # the answer logits, not the auxiliary ones
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


def _check_schedule(cfg: TaskConfig) -> None:
    """One-line InputErrors for a training schedule that cannot run as stated."""
    if not (isinstance(cfg.lr, (int, float)) and math.isfinite(cfg.lr) and cfg.lr >= 0):
        raise InputError("lr", f"must be a finite number >= 0, got {cfg.lr!r}")
    if cfg.fit_stop is not None and not (isinstance(cfg.fit_stop, (int, float)) and 0 < cfg.fit_stop <= 1):
        raise InputError("fit_stop", f"must be in (0, 1] or None, got {cfg.fit_stop!r}")
    for name in ("steps", "check_every", "val_samples"):
        if not isinstance(getattr(cfg, name), int) or getattr(cfg, name) < 1:
            raise InputError(name, f"must be an integer >= 1, got {getattr(cfg, name)!r}")
    if not isinstance(cfg.warmup, int) or cfg.warmup < 0:
        raise InputError("warmup", f"must be an integer >= 0, got {cfg.warmup!r}")


def train_and_evaluate(cfg: TaskConfig, model_name: str, seed: int, *, device="cpu", progress: bool = False) -> dict:
    """Train one model on one task with one seed until it fits or reaches the cap (module docstring), then
    evaluate. Plain JSON data; no wall-clock time (reruns are identical)."""
    from tqdm.auto import tqdm

    from impl.numerics.device import resolve_device

    if model_name not in MODELS + CONTROL_MODELS:
        raise InputError("model", f"must be one of {', '.join(MODELS + CONTROL_MODELS)}, got {model_name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    _check_schedule(cfg)
    dev = resolve_device(device)
    with deterministic_cpu() if dev.type == "cpu" else _nullcontext():
        torch.manual_seed(seed)
        model = build_task_model(cfg, model_name, seed).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup) if cfg.warmup else 1.0)
        rng = np.random.default_rng([seed, 0])
        val = validation_set(cfg, seed, dev)
        cur = Curriculum(cfg.train_max, cfg.advance_at, cfg.window, cfg.patience, cfg.warmup) if cfg.curriculum else None
        losses, diverged, steps_to_fit, curve, last = [], None, None, [], None
        step = -1
        for step in tqdm(range(cfg.steps), disable=not progress, desc=f"{cfg.task}/{model_name}/seed {seed}",
                         leave=False):
            length = _train_length(cfg, cur, rng)
            tokens, targets, aux = make_batch(cfg, length, cfg.batch, rng, dev, with_aux=True)
            try:
                logits = model(tokens)
            except InputError:  # a form refused non-finite activations: the run diverged here
                diverged = step
                break
            loss, acc = loss_and_accuracy(cfg, logits, targets, aux)
            if not math.isfinite(float(loss.detach())):
                diverged = step
                break
            if cfg.lr > 0:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
            losses.append(float(loss.detach()))
            if cur is not None:
                cur.observe(step, length, acc)
            if (step + 1) % cfg.check_every == 0 or step + 1 == cfg.steps:
                last = validate(model, cfg, val)
                curve.append([step + 1, round(last["loss"], 4)])
                if cfg.fit_stop is not None and all(a >= cfg.fit_stop for a in last["acc"].values()):
                    steps_to_fit = step + 1
                    break
        if diverged is None and _diverged(model):
            diverged = step + 1
        if diverged is None:
            rows = evaluate(model, cfg, seed, dev)
        else:
            rows = [{"length": L, "correct": 0, "total": cfg.eval_samples, "nonfinite": cfg.eval_samples}
                    for L in cfg.eval_lengths]
        tail = losses[-50:]
        reached = cur.current if cur is not None else cfg.train_max
        curriculum = ({"used": True, "reached": reached, "log": cur.log, "timeouts": cur.timeouts,
                       "final_fit_step": cur.final_fit_step} if cur is not None else
                      {"used": False, "reached": reached, "log": [], "timeouts": [], "final_fit_step": steps_to_fit})
        ok = diverged is None and last is not None and math.isfinite(last["loss"])
        return {"task": cfg.task, "model": model_name, "seed": seed, "parameters": parameter_count(model),
                "config": asdict(cfg), "diverged_at": diverged, "curriculum": curriculum,
                "final_loss": round(sum(tail) / len(tail), 3) if tail else None, "eval": rows,
                "lr": cfg.lr, "steps_run": step + 1 if diverged is None else diverged, "steps_to_fit": steps_to_fit,
                "val_loss": round(last["loss"], 4) if ok else None,
                "val_acc": {str(L): round(a, 4) for L, a in last["acc"].items()} if ok else None,
                "val_curve": curve}


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
