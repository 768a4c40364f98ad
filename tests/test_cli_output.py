"""What the command line prints: strict JSON everywhere (no NaN/Infinity tokens), low precision that overflows said
as such (never as a failed theory), the cosine proxy explained, `assocmem task`'s summary, and short error lines."""

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from assocmem import cli, jsonout, tasktext

ROOT = Path(__file__).resolve().parent.parent


def strict_loads(text: str):
    """json.loads that refuses the NaN / Infinity / -Infinity tokens Python's parser otherwise accepts."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def run(capsys, *args):
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


# ------------------------------------------------------------------------------------------------ strict JSON ---
def test_strict_json_turns_non_finite_numbers_into_null_with_a_note():
    import numpy as np

    obj = {"a": float("inf"), "b": [1.0, float("nan"), {"c": -math.inf}], "d": np.float32(2.5), "e": np.int64(3),
           "f": "inf", "g": True}
    back = strict_loads(jsonout.dumps(obj))
    assert back["a"] is None and back["b"][0] == 1.0 and back["b"][1] is None and back["b"][2]["c"] is None
    assert back["nonfinite"] == {"a": "inf", "b[1]": "nan"}
    assert back["b"][2]["nonfinite"] == {"c": "-inf"}
    assert back["d"] == 2.5 and back["e"] == 3 and isinstance(back["e"], int) and back["f"] == "inf"
    assert back["g"] is True and "nonfinite" not in jsonout.strict({"x": 1.0})
    with pytest.raises(ValueError, match="nowhere"):
        jsonout.dumps([float("nan")])  # no object to hold the note: refused, never printed as NaN


@pytest.mark.parametrize("args", [
    ["snr", "--n-pairs", "50", "--d-k", "16", "--dtype", "float16", "--trials", "400", "--json"],
    ["claims", "C3", "--format", "json"],
    ["conform", "tests.conformance_targets:chunk_delta_rule_no_state_passing", "--rule", "deltanet", "--adapter",
     "layout=bthd,state=kv,chunk=any,scale=rsqrt_dk,dtypes=float64", "--max-examples", "5", "--json"],
])
def test_every_json_output_parses_strictly(capsys, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, *args)
    assert rc in (0, 1), err
    strict_loads(out)
    assert "NaN" not in out and "Infinity" not in out


# ------------------------------------------------------------------------------------------- snr, low precision ---
def test_float16_overflow_is_reported_as_overflow_never_as_a_failed_theory(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning leaks out
        rc, out, err = run(capsys, "snr", "--n-pairs", "50", "--d-k", "16", "--dtype", "float16", "--trials", "400",
                           "--json")
    assert rc == 0 and not err, err
    res = strict_loads(out)
    over = {c: e for c, e in res["conventions"].items() if e["note"].startswith("overflow")}
    assert over, "at N = 50, d = 16 the all-probe noise energy exceeds 65504 in some trials"
    for e in over.values():
        assert e["estimate"] is None and e["lo"] is None and e["hi"] is None and e["inside"] is None
        assert "65504" in e["note"] and e["exact"] is not None
    for e in res["conventions"].values():  # what did not overflow is a measurement, judged as usual
        assert e["inside"] in (True, None)
    rc, out, err = run(capsys, "snr", "--n-pairs", "50", "--d-k", "16", "--dtype", "float16", "--trials", "400")
    rows = [line for line in out.splitlines() if line.split()[:1] and line.split()[0] in over]
    assert rows and all(line.split()[-1] == "—" for line in rows) and " NO" not in out, out
    assert "inf" not in out.split("notes:")[0] and "nan" not in out


def test_a_dtype_whose_range_cannot_hold_the_mean_is_refused_up_front(capsys):
    # (N-1) d_k d_v = 999 * 64 * 64 ~ 4.1e6 > 65504: every trial would overflow
    rc, out, err = run(capsys, "snr", "--n-pairs", "1000", "--d-k", "64", "--dtype", "float16", "--trials", "50")
    assert rc == 2 and not out
    assert err.count("\n") == 1 and err.startswith("assocmem: error: --dtype: float16 holds numbers up to 65504")
    # the same sizes fit bfloat16's range (it has float32's exponent): estimated, and no overflow note
    rc, out, err = run(capsys, "snr", "--n-pairs", "1000", "--d-k", "64", "--dtype", "bfloat16", "--trials", "20",
                       "--json")
    assert rc == 0 and not any(e["note"].startswith("overflow") for e in strict_loads(out)["conventions"].values())


def test_the_cosine_proxy_says_what_it_is_and_whether_outside_its_interval_is_expected(capsys):
    rc, out, _ = run(capsys, "snr", "--n-pairs", "50", "--d-k", "16", "--trials", "1000", "--json")
    c = strict_loads(out)["cos_proxy"]
    assert not c["lo"] <= c["proxy"] <= c["hi"]  # the case from the field: the proxy outside the interval
    departure = abs(c["proxy"] / c["estimate"] - 1)
    assert "approximation" in c["note"] and "outside the interval" in c["note"]
    assert f"{departure:.1%}" in c["note"] and ("outside that tolerance" in c["note"]) == (departure > 0.03)
    rc, out, _ = run(capsys, "snr", "--n-pairs", "256", "--d-k", "256", "--trials", "100", "--json")
    c = strict_loads(out)["cos_proxy"]
    assert abs(c["proxy"] / c["estimate"] - 1) <= 0.03 and "within that tolerance" in c["note"]


def test_the_proxy_tolerance_is_the_claims():
    from assocmem import registry

    claim = registry.get("C3.cos_proxy")
    assert f"within {cli.COS_PROXY_TOLERANCE:.0%}" in claim.statement
    r = claim.run({"n_pairs": 64, "d_k": 64, "d_v": 64, "trials": 20}, 1)
    assert r.tolerance == cli.COS_PROXY_TOLERANCE


# ---------------------------------------------------------------------------------------------------- task ---
HAND_MADE = {
    "task": "swap", "model": "deltanet", "seed": 7, "parameters": 12345, "seconds": 3.25, "diverged_at": None,
    "config": {"task": "swap", "size": 3, "train_max": 4, "eval_lengths": [3, 4, 8], "d": 32, "depth": 2, "heads": 2,
               "steps": 150, "batch": 32, "lr": 0.003, "eval_samples": 100, "advance_at": 0.9, "window": 8,
               "patience": 20, "something_new": "a key the formatter does not know"},
    "curriculum": {"reached": 4, "log": [{"stage": 1, "step": 15, "reason": "fit"},
                                         {"stage": 2, "step": 35, "reason": "timeout"}],
                   "timeouts": [2], "final_fit_step": None},
    "final_loss": 0.5, "learning_rate_chosen": 0.001,  # an extra top-level key (issue 18 may add such)
    "eval": [{"length": 3, "correct": 95, "total": 100, "nonfinite": 0},
             {"length": 4, "correct": 89, "total": 100, "nonfinite": 0},
             {"length": 8, "correct": 40, "total": 100, "nonfinite": 3}],
}


def _row(text, length):
    return next(line.split() for line in text.splitlines() if line.split()[:1] == [str(length)])


def test_task_summary_of_a_hand_made_result():
    text = tasktext.summary(HAND_MADE)
    assert text.startswith("swap (D4): model deltanet, seed 7, 12,345 parameters")
    assert "3 slots, width 32, depth 2, heads 2" in text and "150 steps" in text and "tokens L 1 to 4" in text
    assert "stage 1 ended at step 15 (fit), stage 2 ended at step 35 (timeout)" in text
    # 0.89 at L = 4 misses 0.9: the run does not fit its training lengths, and the curriculum never fit either
    assert "accuracy >= 0.9 at L = 3 and 4): NO" in text and "not met in 150 steps" in text
    assert _row(text, 3) == ["3", "0.950", "95/100", "met", "trained"]
    assert _row(text, 4) == ["4", "0.890", "89/100", "not", "met", "trained"]
    assert _row(text, 8)[:6] == ["8", "0.400", "40/100", "not", "met", "beyond"] and "(3 non-finite)" in text
    fitted = {**HAND_MADE, "eval": [{**r, "correct": 90} for r in HAND_MADE["eval"]],
              "curriculum": {**HAND_MADE["curriculum"], "final_fit_step": 99}}
    text = tasktext.summary(fitted)
    assert "at L = 3 and 4): yes" in text and "met at step 99" in text


FIT_FIRST = {  # the fit-first training of issue 18: no curriculum, a step cap and a validation stopping criterion
    **{k: v for k, v in HAND_MADE.items() if k != "curriculum"},
    "config": {**HAND_MADE["config"], "curriculum": False, "fit_stop": 0.95, "check_every": 25, "warmup": 20},
    "curriculum": {"used": False, "reached": 4, "log": [], "timeouts": [], "final_fit_step": 75},
    "lr": 0.01, "steps_run": 75, "steps_to_fit": 75, "val_acc": {"3": 0.97, "4": 0.96},
}


def test_task_summary_of_a_fit_first_result():
    text = tasktext.summary(FIT_FIRST)
    assert "up to 150 steps (the cap)" in text and "learning rate 0.01 after a 20-step warm-up" in text
    assert "tokens L 1 to 4 drawn afresh for every batch" in text and "curriculum" not in text
    assert "(validation accuracy >= 0.95 at L = 3 and 4, checked every 25 steps): met at step 75" in text
    assert "validation accuracy at the end: L = 3: 0.970, L = 4: 0.960" in text
    text = tasktext.summary({**FIT_FIRST, "steps_to_fit": None, "steps_run": 150})
    assert "not met within 150 steps" in text


def test_task_summary_tolerates_missing_keys():
    text = tasktext.summary({"task": "dag", "model": "transformer", "eval": [{"length": 1, "correct": 3, "total": 4}]})
    assert text.startswith("dag (D5): model transformer") and "0.750" in text


def test_task_prints_a_summary_and_strict_json_on_request(capsys):
    rc, out, err = run(capsys, "task", "dag", "--model", "deltanet", "--quick", "--seed", "1")
    assert rc == 0, err
    assert out.startswith("dag (D5): model deltanet, seed 1") and "evaluation (100 fresh sequences" in out
    assert not out.lstrip().startswith("{")
    rc, js, err = run(capsys, "task", "dag", "--model", "deltanet", "--quick", "--seed", "1", "--json")
    res = strict_loads(js)
    for r in res["eval"]:  # the summary shows the same counts as the machine output
        assert _row(out, r["length"])[2] == f"{r['correct']}/{r['total']}"
    assert (("): yes" in out) == all(r["correct"] / r["total"] >= 0.9 for r in res["eval"]
                                     if r["length"] in (1, 2)))


# ---------------------------------------------------------------------------------------------- error lines ---
def test_an_unknown_evidence_job_is_one_short_line(capsys):
    from assocmem import evidence

    rc, out, err = run(capsys, "evidence", "run", "calibration/C4.typicl")
    assert rc == 2 and err.count("\n") == 1 and len(err) < 300, err
    assert "calibration/C4.typical" in err and "assocmem evidence list" in err
    assert len(", ".join(j.id for j in evidence.jobs())) > 1000  # what the line used to list
