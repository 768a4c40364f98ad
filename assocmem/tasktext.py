"""``assocmem task``'s summary for people: what was trained, whether and when it fit its training criterion, and
the accuracy at every evaluation length against the criterion (``--json`` prints the result dict itself).

``summary`` reads the result dict of ``impl.tasks.train.run_task`` by key and tolerates keys it does not know and
keys that are missing (the training loop may gain or lose fields): a missing field is left out of the text.
"""

from __future__ import annotations

from assocmem.claims._deltaformer_jobs import FIT_AT, fits

TASK_WORDS = {  # task -> (claim group, what size counts, what a length counts)
    "swap": ("D4", "slots", "tokens L"),
    "dag": ("D5", "node labels", "hops k"),
}


def _fmt(x, spec: str = "g") -> str:
    return "?" if x is None else format(x, spec)


def summary(res: dict) -> str:
    cfg = res.get("config") or {}
    task = res.get("task", cfg.get("task", "?"))
    group, size_word, length_word = TASK_WORDS.get(task, ("", "size", "length"))
    train_max = cfg.get("train_max")
    lines = []

    head = f"{task}{f' ({group})' if group else ''}: model {res.get('model', '?')}, seed {res.get('seed', '?')}"
    if res.get("parameters") is not None:
        head += f", {res['parameters']:,} parameters"
    lines.append(head)
    shape = [f"{cfg['size']} {size_word}"] if cfg.get("size") is not None else []
    shape += [f"{word} {cfg[k]}" for k, word in (("d", "width"), ("depth", "depth"), ("heads", "heads"))
              if cfg.get(k) is not None]
    if shape:
        lines.append("  sizes: " + ", ".join(shape))
    cur = res.get("curriculum") or {}
    unit = length_word.split()[-1]
    if cfg.get("steps") is not None:
        how = "by a curriculum" if cur.get("used", cfg.get("curriculum", True)) else "drawn afresh for every batch"
        lr = res.get("lr", cfg.get("lr"))
        lines.append(f"  training: up to {cfg['steps']} steps (the cap), batch {_fmt(cfg.get('batch'))}, learning rate "
                     f"{_fmt(lr)}" + (f" after a {cfg['warmup']}-step warm-up" if cfg.get("warmup") else "")
                     + f", {length_word} 1 to {_fmt(train_max)} {how}")
    if cfg.get("aux"):
        lines.append("  auxiliary target: the successor of the query's source node (one more cross-entropy term)")
    if cfg.get("fit_stop") is not None and "steps_to_fit" in res:
        lengths = [L for L in (train_max - 1, train_max) if train_max is not None and L >= 1]
        crit = (f"validation accuracy >= {cfg['fit_stop']:g} at {unit} = {' and '.join(map(str, lengths))}, checked "
                f"every {_fmt(cfg.get('check_every'))} steps")
        got = (f"met at step {res['steps_to_fit']}" if res["steps_to_fit"] is not None else
               f"not met within {_fmt(res.get('steps_run', cfg['steps']))} steps")
        lines.append(f"  stopping criterion ({crit}): {got}")
        if res.get("val_acc"):
            accs = ", ".join(f"{unit} = {k}: {_fmt(v, '.3f')}" for k, v in res["val_acc"].items())
            lines.append(f"  validation accuracy at the end: {accs}")
    log = cur.get("log") or []
    if log:
        moves = ", ".join(f"stage {e.get('stage')} ended at step {e.get('step')} ({e.get('reason')})" for e in log)
        lines.append(f"  curriculum: {moves}")

    rows = res.get("eval") or []
    if rows and train_max is not None:
        lengths = [L for L in (train_max - 1, train_max) if L >= 1]
        ok = fits({**res, "eval": rows}, train_max)
        lines.append(f"  fits its training lengths (as D4/D5 judge a run: accuracy >= {FIT_AT:g} at "
                     f"{unit} = {' and '.join(map(str, lengths))}): {'yes' if ok else 'NO'}")
    if cur.get("used", "final_fit_step" in cur) and "final_fit_step" in cur and cfg.get("advance_at") is not None:
        fit = cur["final_fit_step"]
        verdict = f"met at step {fit}" if fit is not None else f"not met in {_fmt(cfg.get('steps'))} steps"
        if cur.get("reached") is not None and train_max is not None and cur["reached"] < train_max:
            verdict += f" (the curriculum only reached {unit} = {cur['reached']})"
        lines.append(f"  curriculum's fit criterion (window accuracy >= {cfg['advance_at']:g} over the last "
                     f"{_fmt(cfg.get('window'))} training batches at {unit} = {_fmt(train_max)}): {verdict}")
    if res.get("diverged_at") is not None:
        lines.append(f"  DIVERGED at step {res['diverged_at']}: training stopped there and every evaluation answer "
                     "counts as wrong")
    if res.get("final_loss") is not None:
        lines.append(f"  final training loss {res['final_loss']:g} (mean of the last 50 steps)")

    if rows:
        n = {r.get("total") for r in rows}
        per = f"{n.pop()} fresh sequences per length" if len(n) == 1 else "fresh sequences"
        lines += ["", f"evaluation ({per}, one query each; the D4/D5 criterion: accuracy >= {FIT_AT:g}):",
                  f"  {unit:>6s}  {'accuracy':>8s}  {'correct':>9s}  {'criterion':>9s}  range"]
        for r in rows:
            total, correct = r.get("total") or 0, r.get("correct") or 0
            acc = correct / total if total else None
            met = "—" if acc is None else ("met" if acc >= FIT_AT else "not met")
            where = "" if train_max is None else ("trained" if r.get("length", 0) <= train_max else "beyond")
            extra = f"  ({r['nonfinite']} non-finite)" if r.get("nonfinite") else ""
            lines.append(f"  {_fmt(r.get('length')):>6s}  {_fmt(acc, '.3f'):>8s}  {f'{correct}/{total}':>9s}  "
                         f"{met:>9s}  {where}{extra}")
    if res.get("seconds") is not None:
        lines += ["", f"took {res['seconds']:.1f} s; --json prints every field"]
    return "\n".join(lines)
