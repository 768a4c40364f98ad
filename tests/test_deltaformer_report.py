"""The D1 section renders, the accuracy figures draw, the experiment claims return honest Results."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assocmem.registry import claims, get, get_figure, sections
from impl.tasks.train import get_config, train_and_evaluate


def test_claims_registered():
    ids = {c.id for c in claims()}
    assert {"D1.forms", "D1.neumann", "D2.deltanet", "D2.softmax", "D3.reflection", "D3.parity", "D3.permutation",
            "D3.no_parity_01", "D4.swap", "D5.dag"} <= ids
    for cid in ("D4.swap", "D5.dag"):
        c = get(cid)
        assert c.kind == "experiment" and "Pre-stated success criterion" in c.statement


def test_section_renders():
    sec = [s for s in sections() if s.id == "D1.deltaformer"][0]
    text = sec.render({"D1.forms": ("holds", "all grid points")})
    assert "**holds**" in text and "Barrington" in text and "(I + B)^-1 = sum_(n<T) (-B)^n" in text
    assert "| 1000 |" in text  # the [0, 1] parity table is computed


def test_figure_draws():
    cfg = replace(get_config("swap", quick=True), steps=3, eval_samples=10)
    rows = []
    for model in ("transformer", "deltaformer"):
        r = train_and_evaluate(cfg, model, 0)
        rows += [{"task": "swap", "model": model, "seed": 0, "parameters": r["parameters"], "length": e["length"],
                  "accuracy": e["accuracy"], "lo": e["lo"], "hi": e["hi"], "correct": e["correct"],
                  "total": e["total"], "train_max": cfg.train_max, "chance": 1 / cfg.size} for e in r["eval"]]
    fig = get_figure("D4.swap_accuracy").draw(rows)
    assert len(fig.axes) == 1


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["D4.swap", "D5.dag"])
def test_experiment_quick(cid):
    claim = get(cid)
    r = claim.run(claim.report_grid(quick=True)[0], 0)
    assert r.n == 1 and 0 <= r.estimate <= 1 and ("replicated" in r.note)
