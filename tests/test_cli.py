"""The command line: each job, one JSON schema for `snr`, help text for every option, and one-line refusals
(flag and allowed range, exit status 2, nothing written) for every bad input we know of."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from assocmem import cli, inputs, report
from impl.numerics.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def cli_subprocess(*args, **kw):
    return subprocess.run([sys.executable, "-m", "assocmem", *args], capture_output=True, text=True, cwd=ROOT, **kw)


def run(capsys, *args):
    """``assocmem ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        rc = cli.main(list(args))
    except SystemExit as e:  # argparse refuses by exiting
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def git_status():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True,
                          cwd=ROOT).stdout


# ------------------------------------------------------------------------------------------------------- snr ---
SNR_FIELDS = {"estimate", "lo", "hi", "level", "n", "exact", "inside", "method", "note", "details"}


@pytest.mark.parametrize("args", [
    ["--memory", "linear"],
    ["--memory", "kernel", "--kernel", "exp", "--tau", "4"],
    ["--memory", "kernel", "--kernel", "performer_positive", "--m", "4", "--tau", "4"],
    ["--memory", "ffn", "--activation", "relu"],
])
def test_snr_json_has_one_schema_for_every_memory(capsys, args):
    rc, out, err = run(capsys, "snr", *args, "--n-pairs", "32", "--d-k", "8", "--trials", "200", "--seed", "3", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert set(res) == {"schema", "quantity", "memory", "parameters", "conventions", "paper_asymptote", "cos_proxy"}
    assert res["schema"] == "assocmem.snr/1" and res["quantity"].startswith("SNR^-1")
    assert res["parameters"]["n_pairs"] == 32 and res["parameters"]["level"] == pytest.approx(1 - 1e-6)
    assert res["conventions"], res
    for conv, entry in res["conventions"].items():
        assert set(entry) == SNR_FIELDS, (conv, entry)
        if entry["estimate"] is not None and entry["exact"] is not None and entry["lo"] is not None:
            assert entry["inside"] == (entry["lo"] <= entry["exact"] <= entry["hi"])


def test_snr_linear_json_agrees_with_theory_inside_intervals(capsys):
    rc, out, err = run(capsys, "snr", "--n-pairs", "48", "--d-k", "12", "--d-v", "10", "--trials", "600", "--seed", "7",
                       "--json")
    assert rc == 0, err
    res = json.loads(out)
    for conv in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"):
        e = res["conventions"][conv]
        assert e["lo"] <= e["exact"] <= e["hi"] and e["inside"] is True and e["n"] == 600, (conv, e)
    assert res["paper_asymptote"] == {"formula": "N/d_k", "value": 4.0}
    assert 0 < res["cos_proxy"]["estimate"] < 1


def test_snr_human_output_says_snr_inverse_and_names_every_convention(capsys):
    rc, out, _ = run(capsys, "snr", "--n-pairs", "16", "--d-k", "8", "--trials", "100")
    assert rc == 0
    assert "SNR⁻¹" in out
    rows = {line.split()[0] for line in out.splitlines() if line[:1].isalpha()}
    for conv in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"):
        assert conv in rows
    assert "cos" not in rows  # the cosine proxy is its own line, not a convention
    assert max(len(line) for line in out.splitlines()) <= 125


def test_snr_convention_flag_applies_to_kernel_memories(capsys):
    rc, out, err = run(capsys, "snr", "--memory", "kernel", "--kernel", "relu", "--convention", "typical",
                       "--n-pairs", "16", "--d-k", "8", "--trials", "100", "--json")
    assert rc == 0, err
    assert list(json.loads(out)["conventions"]) == ["typical"]


# --------------------------------------------------------------------------------------------- bad input ---
# The thirteen bad inputs, then older ones. (args, the flag the one line must name, a word of the range)
def _with_dask(args, flag, allowed):
    """A case that needs Dask installed (the scheduler checks); without the extra the one line names --backend and
    the extra to install (an environment without the test extras, such as the mutation job's, must not fail)."""
    import importlib.util

    have = all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed"))
    return (args, flag, allowed) if have else (args, "--backend", "[dask]")


BAD = [
    (["snr", "--n-pairs", "64", "--d-k", "16", "--seed", "99999999999999999999"], "--seed", "4294967295"),
    (["snr", "--n-pairs", "10000000000", "--d-k", "100000"], "--n-pairs", "available"),
    (["report", "--jobs", "0"], "--jobs", "-1"),
    _with_dask(["report", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler", "no Dask scheduler"),
    (["report", "--out", "/proc/nonexistent/r"], "--out", "/proc/nonexistent/r"),
    (["report", "--seed", "99999999999999999999"], "--seed", "4294967295"),
    (["check", "ZZZ"], "CLAIM", "C4"),
    (["bench", "--only", "foo"], "--only", "bench_linear"),
    (["snr", "--memory", "kernel", "--kernel", "exp", "--n-pairs", "64", "--d-k", "16"], "--tau", "required"),
    (["snr", "--memory", "kernel", "--kernel", "poly", "--n-pairs", "64", "--d-k", "16"], "--p", "required"),
    (["snr", "--memory", "linear", "--tau", "2", "--n-pairs", "64", "--d-k", "16"], "--tau", "--memory kernel"),
    (["snr", "--memory", "kernel", "--kernel", "relu", "--p", "2", "--n-pairs", "64", "--d-k", "16"], "--p", "poly"),
    (["snr", "--memory", "ffn", "--activation", "relu", "--convention", "probe_averaged", "--n-pairs", "64",
      "--d-k", "16"], "--convention", "typical"),
    # older ones
    (["snr", "--n-pairs", "0", "--d-k", "4"], "--n-pairs", ">= 1"),
    (["snr", "--n-pairs", "4", "--d-k", "0"], "--d-k", ">= 1"),
    (["snr", "--n-pairs", "4", "--d-k", "4", "--trials", "1"], "--trials", ">= 2"),
    (["snr", "--n-pairs", "4", "--d-k", "2", "--convention", "probe_averaged"], "--d-k", "d > 2"),
    (["snr", "--memory", "kernel", "--kernel", "relu", "--n-pairs", "1", "--d-k", "4"], "--n-pairs", ">= 2"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--device", "quantum"], "--device", "cuda"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--dtype", "float7"], "--dtype", "float64"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--alpha", "2"], "--alpha", "(0, 0.5)"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--alpha", "nan"], "--alpha", "finite"),
    (["snr", "--memory", "kernel", "--kernel", "exp", "--tau", "inf", "--n-pairs", "4", "--d-k", "8"], "--tau", "finite"),
    (["snr", "--n-pairs", "four", "--d-k", "8"], "--n-pairs", "integer"),
    (["snr", "--memory", "ffn", "--n-pairs", "8", "--d-k", "8"], "--activation", "relu"),
    (["report", "--only", "Z9"], "--only", "C4"),
    (["report", "--jobs", "2", "--backend", "serial"], "--jobs", "joblib"),
    (["report", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler", "dask"),
    _with_dask(["report", "--backend", "dask", "--scheduler", "not an address"], "--scheduler", "tcp://HOST:PORT"),
    (["evidence", "list", "--quick"], "--quick", "run"),
    (["evidence", "run", "nosuchjob"], "JOB", "assocmem evidence list"),
    (["evidence", "run", "calibraton/C4.typcal"], "JOB", "did you mean calibration/C4.typical"),
    (["claims", "Q7"], "PREFIX", "C4"),
    (["task", "maze", "--model", "deltanet"], "task", "swap"),
]


@pytest.mark.parametrize("args,flag,allowed", BAD, ids=[" ".join(a[:4]) for a, _, _ in BAD])
def test_bad_input_is_one_line_naming_the_flag_exit_2_nothing_written(capsys, args, flag, allowed):
    before = git_status()
    rc, out, err = run(capsys, *args)
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assocmem: error: "), err
    assert flag in lines[0] and allowed in lines[0], lines[0]
    assert "Traceback" not in err and not out
    assert git_status() == before


def test_bad_input_from_the_installed_entry_point_is_one_line(tmp_path):
    out = cli_subprocess("snr", "--n-pairs", "10000000000", "--d-k", "100000")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "PiB" in out.stderr  # the estimate, in units a person reads


def test_memory_estimate_is_refused_up_front():
    need = inputs.snr_bytes(10**10, 10**5, 10**5)
    assert need > 8 * 10**10 * 10**5  # at least the keys alone, 8 bytes each
    with pytest.raises(InputError, match="available"):
        inputs.require_memory(need, "--n-pairs", "one trial")
    inputs.require_memory(10**6, "--n-pairs", "one trial")  # a megabyte fits


def test_unreachable_scheduler_is_refused_by_a_short_connect():
    import socket

    with pytest.raises(InputError, match="no Dask scheduler answers"):
        inputs.require_scheduler("tcp://127.0.0.1:1")
    pytest.importorskip("distributed")
    with socket.socket() as silent:  # accepts connections and never says a word: the handshake's timeout decides
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(InputError, match="within 1 s"):
            inputs.require_scheduler(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=1)


def test_unwritable_out_is_refused_without_creating_anything(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        inputs.require_writable_dir(tmp_path / "file" / "r")
    inputs.require_writable_dir(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()  # the trial folders are removed again


def test_closed_pipe_ends_quietly():
    out = subprocess.run(f"{sys.executable} -m assocmem evidence list | head -1", shell=True, capture_output=True,
                         text=True, cwd=ROOT)
    assert len(out.stdout.splitlines()) == 1
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


def test_cuda_without_gpu_is_refused_cleanly(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    rc, _, err = run(capsys, "snr", "--n-pairs", "4", "--d-k", "8", "--device", "cuda")
    assert rc == 2 and "no CUDA GPU" in err


# ----------------------------------------------------------------------------------------------- help text ---
def _subparsers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def test_every_option_has_help_and_no_raw_markup():
    parser, subs = _subparsers()
    assert "``" not in parser.format_help()
    for name, sp in subs.items():
        text = sp.format_help()
        assert "``" not in text, name
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 5, (name, action.dest)
            # a default that matters is stated; a flag with choices shows them
            if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
                assert "default" in action.help, (name, action.dest)
            if action.choices and action.option_strings:
                assert "{" in text, (name, action.dest)


# ------------------------------------------------------------------------------------------ report targets ---
def test_partial_reports_default_to_their_own_scratch_folder(capsys, monkeypatch):
    written = []
    monkeypatch.setattr(report, "write", lambda opts, out: written.append(Path(out)) or {"summary": "stub"})
    for args, where in ((["--quick"], "quick"), (["--only", "C4", "U2"], "only-C4-U2"),
                        (["--quick", "--only", "C4"], "quick-only-C4")):
        rc, _, err = run(capsys, "report", "--quiet", *args)
        assert rc == 0, err
        assert written[-1] == cli.reports_dir() / "scratch" / where
    rc, _, _ = run(capsys, "report", "--quiet")
    assert rc == 0 and written[-1] == cli.reports_dir()


def test_a_partial_report_never_replaces_another_subsets_report(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "REPORT.md").write_text("# assocmem report\n\nGenerated by `assocmem report` on cpu (x86_64) (float64).\n")
    for opts in (report.Options(quick=True), report.Options(only=("C4",))):
        with pytest.raises(InputError, match="full grids, every claim"):
            report.check_destination(opts, full)
    report.check_destination(report.Options(), full)  # the same subset may be regenerated
    quick = tmp_path / "quick"
    quick.mkdir()
    (quick / "REPORT.md").write_text("# x\n\nGenerated by `assocmem report --quick` on cpu (x86_64) (float64).\n")
    report.check_destination(report.Options(quick=True, seed=7), quick)
    with pytest.raises(InputError, match="quick grids, claims C4"):
        report.check_destination(report.Options(quick=True, only=("C4",)), quick)
    report.check_destination(report.Options(quick=True), tmp_path / "empty")


def test_bench_quick_never_replaces_the_full_benchmarks(capsys, tmp_path):
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# assocmem benchmarks\n\nGenerated by `assocmem bench`. Each row ...\n")
    rc, _, err = run(capsys, "bench", "--quick", "--out", str(target))
    assert rc == 2 and "--out" in err and target.read_text().startswith("# assocmem benchmarks")


# ------------------------------------------------------------------------------------------------- others ---
def test_check_verifies_derivations(capsys):
    rc, out, err = run(capsys, "check", "C2", "C3", "C4")
    assert rc == 0, out + err
    assert "✓ C4.probe_averaged" in out and "derivations verified" in out
    assert "C1.linear_memory" not in out  # filtered claims are not listed


def test_claims_lists_tags_and_references(capsys):
    rc, out, _ = run(capsys, "claims", "C4")
    assert rc == 0
    assert "C4.probe_averaged" in out and "[suite]" in out and "C7" not in out
    rc, out, _ = run(capsys, "claims", "--format", "json", "U2.deltanet")
    entries = json.loads(out)
    assert [e["id"] for e in entries] == ["U2.deltanet_forms"] and entries[0]["tag"] in ("paper", "reconstructed", "suite")
