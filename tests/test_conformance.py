"""The conformance tool (assocmem.conformance, `assocmem conform`, the pytest fixture) and the installed peers.

The tool must pass the suite's own forms behind a non-trivial adapter (sequence-first layout, log-gates, transposed
state), and must catch each kind of defect it claims to: a dropped term (with a shrunk minimal case), a wrong dtype,
an input changed in place, an exception on valid input. Peer tests skip cleanly when the peer is not installed.
"""

from __future__ import annotations

import pytest
import torch

from assocmem import cli
from assocmem.conformance import Adapter, check
from assocmem.conformance.plugin import Conformance
from impl.numerics.errors import InputError
from impl.rules.deltanet.chunk import delta_rule_chunk

FLA_STYLE = "layout=bthd,gates=log,state=kv,chunk=any"
TARGETS = "tests.conformance_targets"


def test_own_rule_through_fla_style_adapter_conforms(capsys):
    rc = cli.main(["conform", f"{TARGETS}:chunk_gated_delta_rule", "--rule", "gated_deltanet", "--adapter", FLA_STYLE,
                   "--max-examples", "25"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("conforms (25 cases") == 2 and "float64" in out and "float32" in out


def test_broken_copy_fails_with_minimal_example(capsys):
    rc = cli.main(["conform", f"{TARGETS}:chunk_delta_rule_no_state_passing", "--rule", "deltanet",
                   "--adapter", "layout=bthd,state=kv,chunk=any", "--dtype", "float64", "--max-examples", "40"])
    out = capsys.readouterr().out
    assert rc == 1 and "differs" in out and "minimal failing case" in out
    (v,) = check(f"{TARGETS}:chunk_delta_rule_no_state_passing", "deltanet", "layout=bthd,state=kv,chunk=any",
                 dtypes=["float64"], max_examples=40)
    assert not v.ok
    m = v.minimal
    # shrunk: one batch, one head, one channel each, and the shortest sequence that crosses a chunk boundary
    assert (m["B"], m["H"], m["d_k"], m["d_v"]) == (1, 1, 1, 1) and m["T"] == m["chunk"] + 1
    assert [k for k, _ in v.failures] == ["values", "state"] or [k for k, _ in v.failures] == ["values"]


def _float32_out(*a, **kw):
    o, S = delta_rule_chunk(*a, **kw)
    return o.float(), S


def _mutates_q(q, k, v, beta, **kw):
    q.mul_(1.0)  # harmless ...
    q[..., :1] *= 2.0  # ... and not
    return delta_rule_chunk(q, k, v, beta, **kw)


def _raises_at_T1(q, k, v, beta, **kw):
    if q.shape[2] == 1:
        raise ValueError("T must be > 1")
    return delta_rule_chunk(q, k, v, beta, **kw)


@pytest.mark.parametrize("fn,kind,dtype", [(_float32_out, "dtype", "float64"), (_mutates_q, "inputs", "float32"),
                                           (_raises_at_T1, "error", "float32")])
def test_each_defect_kind_is_caught(fn, kind, dtype):
    (v,) = check(fn, "deltanet", Adapter(chunk="any"), dtypes=[dtype], max_examples=20)
    assert not v.ok and kind in [k for k, _ in v.failures]


def test_fixture_passes_and_fails():
    Conformance().check(delta_rule_chunk, "deltanet", "chunk=any", max_examples=10)
    with pytest.raises(pytest.fail.Exception, match="minimal failing case"):
        Conformance().check(f"{TARGETS}:chunk_delta_rule_no_state_passing", "deltanet",
                            "layout=bthd,state=kv,chunk=any", dtypes=["float32"], max_examples=30)


def test_fixture_is_registered(conformance):
    assert isinstance(conformance, Conformance)


@pytest.mark.parametrize("spec,param", [("colour=red", "--adapter"), ("layout=tbhd", "adapter.layout"),
                                        ("scale=big", "adapter.scale"), ("dtypes=float8", "dtype"), ("chunk", "--adapter")])
def test_bad_adapter_specs(spec, param):
    with pytest.raises(InputError) as e:
        Adapter.parse(spec)
    assert e.value.parameter == param


def test_adapter_round_trip():
    a = Adapter.parse('{"layout": "bthd", "gates": "log", "names": {"q": "query"}, "dtypes": ["float32"]}')
    assert Adapter.parse(a.describe()) == a


def test_cli_bad_input(capsys):
    assert cli.main(["conform", "nomodule", "--rule", "deltanet"]) == 2
    assert cli.main(["conform", "impl.rules.deltanet.chunk:delta_rule_chunk", "--rule", "nope"]) == 2
    assert cli.main(["conform", "impl.rules.deltanet.chunk:delta_rule_chunk", "--rule", "deltanet", "--adapter", "x=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("assocmem: error: ") for line in err)
    assert "--rule" in err[1] and "--adapter" in err[2]


def test_log_gates_accept_gates_below_float32_range():
    from impl.rules.decay.chunk import decay_chunk
    from impl.rules.decay.recurrent import decay_recurrent

    g = torch.full((1, 1, 6), -110.0)  # a = exp(-110): 0 in float32
    q, k, v = (torch.randn(1, 1, 6, 3) for _ in range(3))
    with pytest.raises(InputError):
        decay_chunk(q, k, v, torch.exp(g))
    o, _ = decay_chunk(q, k, v, g, log_gates=True, chunk_size=4)
    r, _ = decay_recurrent(q.double(), k.double(), v.double(), g.double(), log_gates=True)
    assert torch.allclose(o.double(), r, atol=1e-5)


# ------------------------------------------------------------------------------------------ peers ---------
def _peer(pid):
    from assocmem.conformance import peers

    return next(p for p in peers.PEERS if p.id == pid)


def _run_peer(pid, dtypes, n=10):
    from assocmem.conformance import peers

    p = _peer(pid)
    return check(peers.load(p), p.rule, p.adapter, dtypes=dtypes, max_examples=n, name=p.id)


def test_fla_titans_layernorm_backward_is_found():
    """At one typical case (the full search runs in the peers evidence job): Titans' LayerNorm backward is off,
    TTT's (the same LayerNorm, written correctly) agrees in float32."""
    pytest.importorskip("einops")
    pytest.importorskip("fla")
    from assocmem.conformance import peers, rules
    from assocmem.conformance.run import evaluate, typical_case

    for pid, rule, bad in (("fla titans.chunk_titans_linear_ref (use_chunk=True)", "titans_ln", True),
                           ("fla ttt.chunk_ttt_linear_ref", "ttt_ln", False)):
        p = _peer(pid)
        fails, worst = evaluate(peers.load(p), rules.get(rule), p.adapter, typical_case(rules.get(rule), p.adapter, "float32"))
        kinds = [k for k, _ in fails]
        assert ("values" in kinds and worst > 1e3) if bad else ("values" not in kinds and worst < 1), (pid, fails)


def test_fla_references_compute_float64_in_float32_and_agree_in_float32():
    pytest.importorskip("einops")
    pytest.importorskip("fla")
    v64, v32 = _run_peer("fla gated_delta_rule.naive_chunk_gated_delta_rule", ["float64", "float32"])
    assert not v64.ok and "dtype" in [k for k, _ in v64.failures]
    assert v32.ok


def test_fla_dpfp_checked_through_its_kernel():
    pytest.importorskip("einops")
    pytest.importorskip("fla")
    (v,) = _run_peer("fla modules.feature_map.DPFPFeatureMap (nu=1)", ["float64"])
    from assocmem.conformance import peers

    fixed = peers.installed("fla-core") not in ("0.3.2", "0.4.0", "0.4.1", "0.4.2", "0.5.0", "0.5.1", "0.5.2")
    assert v.ok == fixed  # fla-core <= 0.5.2 used cat([relu(x), -relu(x)]); 0.6.0 has relu(-x)


def test_hf_fallbacks_conform_in_float32():
    pytest.importorskip("transformers")
    for pid in ("hf torch_chunk_gated_delta_rule", "hf torch_recurrent_gated_delta_rule"):
        (v,) = _run_peer(pid, ["float32"], n=10)
        assert v.ok, v.line()


def test_peers_section_says_when_there_is_no_record(tmp_path, monkeypatch):
    from assocmem.claims import peers as section

    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path))
    text = section.render_peers({})
    assert "No record" in text and "assocmem evidence run peers" in text


def test_peers_job_records_verdicts_and_missing_packages(tmp_path, monkeypatch):
    from assocmem import evidence
    from assocmem.claims import peers as section
    from assocmem.conformance import peers

    own = peers.Peer("own deltanet chunk", "assocmem", "impl.rules.deltanet.chunk", "delta_rule_chunk", "deltanet",
                     Adapter(chunk="any", dtypes=("float32",)))
    absent = peers.Peer("absent", "no-such-dist", "nowhere", "f", "deltanet", Adapter())
    monkeypatch.setattr(peers, "PEERS", [own, absent])
    monkeypatch.setattr(peers, "PACKAGES", ("assocmem", "no-such-dist"))
    monkeypatch.setattr(section, "EXAMPLES_QUICK", 5)
    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path))
    evidence.run_job(evidence.get_job("peers"), evidence.JobOptions(quick=True, backend="serial"))
    text = section.render_peers({})
    assert "| deltanet | float32 | **conforms** |" in text
    assert "Not run: absent (not installed)" in text and "no-such-dist not installed" in text


def test_earlier_release_job_runs_only_that_release(tmp_path, monkeypatch):
    """The record of an earlier peer release is made only where that release is what imports; elsewhere the job
    refuses in one line naming the install command, and the section says there is no record."""
    from assocmem import evidence
    from assocmem.claims import peers as section
    from assocmem.conformance import peers

    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path))
    (pkg, (version, *_)), = section.EARLIER.items()
    job = evidence.get_job(f"peers/{pkg}-{version}")
    monkeypatch.setattr(peers, "installed", lambda p: "0.0.0-not-it")
    with pytest.raises(InputError, match=rf"needs {pkg}=={version}.*--target"):
        evidence.run_job(job, evidence.JobOptions(quick=True, backend="serial"))
    assert not list(tmp_path.rglob("*.json"))
    assert f"Earlier release: {pkg} {version}" in section.render_peers({}) and "No record." in section.render_peers({})


# ------------------------------------------------------------------------------ help, hints, Hypothesis home ---
def test_conform_help_lists_every_adapter_key_with_an_example_that_parses():
    import dataclasses

    from assocmem.conformance.adapter import KEYS

    sub = cli.build_parser()._subparsers._group_actions[0].choices["conform"]
    helptext = " ".join(sub.format_help().split())
    defaults = Adapter()
    assert set(KEYS) == {f.name for f in dataclasses.fields(Adapter)}
    for key, (what, example) in KEYS.items():
        assert f"{key}: {' '.join(what.split())}; e.g. {example}" in helptext, key
        assert example.startswith(f"{key}=")
        parsed = Adapter.parse(example)  # the example is valid input and sets its own key
        assert getattr(parsed, key) != getattr(defaults, key), (key, example)
        assert key in parsed.describe(), (key, parsed.describe())
    for line in sub.epilog.splitlines():  # the peer examples are the peers' real adapters, and parse back
        if line.strip().startswith("assocmem conform "):
            spec = line.split("--adapter ")[1]
            assert Adapter.parse(spec).describe() == spec


def test_field_case_adapter_is_in_the_help():
    """The spec that took three tries to find: fla's chunkwise delta rule with a final state it always returns."""
    sub = cli.build_parser()._subparsers._group_actions[0].choices["conform"]
    assert "names=output_final_state:" in sub.epilog and "state=kv" in sub.epilog and "layout=bthd" in sub.epilog


@pytest.mark.parametrize("target,says", [
    ("mypkg_not_there.ops:fn", ["no module named 'mypkg_not_there'", "PYTHONPATH", "pip install"]),
    ("src/mypkg/ops.py:fn", ["file path", "PYTHONPATH=src assocmem conform mypkg.ops:fn"]),
])
def test_an_unimportable_function_gets_a_hint_naming_the_fix(capsys, target, says):
    assert cli.main(["conform", target, "--rule", "deltanet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("assocmem: error: FUNCTION: "), err
    for word in says:
        assert word in err, (word, err)


def test_a_missing_dependency_of_the_module_is_named(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "peerpkg_with_missing_dep"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import dependency_not_installed_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["conform", "peerpkg_with_missing_dep:fn", "--rule", "deltanet"]) == 2
    err = capsys.readouterr().err
    assert "it imports 'dependency_not_installed_xyz', which is not installed" in err and "pip install" in err


@pytest.mark.parametrize("target,rule,adapter,hint", [
    # the field case: a kernel that takes log-gates and does not check them, run without gates=log
    ("gated_delta_rule_unchecked_log_gates", "gated_deltanet", "", "add gates=log to --adapter"),
    ("chunk_gated_delta_rule", "gated_deltanet", "layout=bthd,state=kv,chunk=any", "add gates=log to --adapter"),
    ("delta_rule_own_scale", "deltanet", "", "add scale=rsqrt_dk to --adapter"),
    ("chunk_gated_delta_rule", "gated_deltanet", "layout=bthd,gates=log,chunk=any", "add state=kv to --adapter"),
])
def test_a_convention_mismatch_is_named_with_the_key_to_set(target, rule, adapter, hint):
    (v,) = check(f"{TARGETS}:{target}", rule, adapter, dtypes=["float64"], max_examples=10)
    assert not v.ok and hint in v.hint and hint in v.line() and v.as_dict()["hint"] == v.hint
    fixed = ",".join(filter(None, [adapter, hint.split()[1]]))
    (w,) = check(f"{TARGETS}:{target}", rule, fixed, dtypes=["float64"], max_examples=10)
    assert w.ok, w.line()  # the hinted key is the whole fix


def test_a_real_defect_gets_no_convention_hint():
    (v,) = check(f"{TARGETS}:chunk_delta_rule_no_state_passing", "deltanet", FLA_STYLE.replace(",gates=log", "")
                 + ",scale=rsqrt_dk", dtypes=["float64"], max_examples=10)
    assert not v.ok and v.hint == ""


def test_the_numeric_error_alone_did_not_say_gates():
    """Before the hint, a missing gates=log showed only a relative error; the error text itself still says nothing
    about gates (the hint is what names it)."""
    (v,) = check(f"{TARGETS}:gated_delta_rule_unchecked_log_gates", "gated_deltanet", "", dtypes=["float64"],
                 max_examples=10)
    assert all(kind in ("values", "state") for kind, _ in v.failures) and "gates" not in str(v.failures)


def test_conform_leaves_no_hypothesis_folder_in_the_callers_folder(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    here, store = tmp_path / "caller", tmp_path / "store"
    here.mkdir()
    env = dict(os.environ, PYTHONPATH=str(root), ASSOCMEM_CACHE=str(store))
    r = subprocess.run([sys.executable, "-m", "assocmem", "conform", f"{TARGETS}:chunk_gated_delta_rule", "--rule",
                        "gated_deltanet", "--adapter", FLA_STYLE + ",scale=rsqrt_dk", "--max-examples", "5"],
                       cwd=here, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert list(here.iterdir()) == []  # no .hypothesis/ (and nothing else) where the user ran it
    assert (store / "hypothesis").is_dir()  # Hypothesis' data went under the suite's cache
