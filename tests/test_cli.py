"""The command line: each job, JSON output, and one-line errors with exit status 2 for bad input."""

import json
import subprocess
import sys

import pytest


def cli(*args):
    return subprocess.run([sys.executable, "-m", "assocmem", *args], capture_output=True, text=True)


def test_snr_json_agrees_with_theory_inside_intervals():
    out = cli("snr", "--n-pairs", "48", "--d-k", "12", "--d-v", "10", "--trials", "600", "--seed", "7", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    for conv in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"):
        assert res[conv]["lo"] <= res[conv]["theory"] <= res[conv]["hi"], (conv, res[conv])
    assert res["paper_asymptote_N_over_dk"] == 4.0


def test_snr_human_output_names_every_convention():
    out = cli("snr", "--n-pairs", "16", "--d-k", "8", "--trials", "100")
    assert out.returncode == 0
    for conv in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"):
        assert conv in out.stdout


@pytest.mark.parametrize("args,param", [
    (["snr", "--n-pairs", "0", "--d-k", "4"], "n_pairs"),
    (["snr", "--n-pairs", "4", "--d-k", "0"], "d_k"),
    (["snr", "--n-pairs", "4", "--d-k", "4", "--trials", "1"], "trials"),
    (["snr", "--n-pairs", "4", "--d-k", "2", "--convention", "probe_averaged"], "d_k"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--device", "quantum"], "device"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--dtype", "float7"], "dtype"),
    (["snr", "--n-pairs", "4", "--d-k", "8", "--alpha", "2"], "--alpha"),
    (["snr", "--n-pairs", "four", "--d-k", "8"], "--n-pairs"),
    (["report", "--only", "Z9"], "--only"),
])
def test_bad_input_is_one_line_exit_2(args, param, tmp_path):
    out = cli(*args, *(["--out", str(tmp_path / "r")] if args[0] == "report" else []))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and param in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "r" / "REPORT.md").exists()


def test_cuda_without_gpu_is_refused_cleanly():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out = cli("snr", "--n-pairs", "4", "--d-k", "8", "--device", "cuda")
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr


def test_check_verifies_derivations():
    out = cli("check", "C2", "C3", "C4")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "✓ C4.probe_averaged" in out.stdout and "all derivations verified" in out.stdout
