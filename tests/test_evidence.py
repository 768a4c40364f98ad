"""Evidence jobs (``assocmem.evidence``): records are written atomically and byte-identically, read back with
their freshness, and a corrupt record is ignored with a one-line notice, never used and never a crash."""

import json

import pytest

from assocmem import cache, calibration, evidence, report
from impl.numerics.errors import InputError

JOB = "calibration/C4.typical"


@pytest.fixture
def evdir(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path / "evidence"))
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "evidence"


def _opts(**kw):
    return evidence.JobOptions(**{**dict(backend="serial", progress=False, quick=True), **kw})


def test_every_statistical_claim_has_a_calibration_job():
    from assocmem import registry

    ids = {j.id for j in evidence.jobs()}
    stat = [c.id for c in registry.claims() if c.kind == "statistical"]
    assert stat and all(f"calibration/{c}" in ids for c in stat)


def test_record_roundtrip_is_fresh_and_byte_identical(evdir):
    job = evidence.get_job(JOB)
    assert evidence.status(JOB).state == "missing"
    path = evidence.run_job(job, _opts())
    first = path.read_bytes()
    rec = json.loads(first)
    rows = rec["results"]["rows"]
    assert rec["job"] == JOB and rec["quick"] is True and rows[0]["seeds"] == calibration.SEEDS_QUICK
    assert rows[0]["point"] == calibration.calibration_point(__import__("assocmem.registry").registry.get("C4.typical"))
    assert 0 <= rows[0]["failures"] <= rows[0]["seeds"] and rows[0]["declared"] == 1e-6
    st = evidence.status(JOB)
    assert st.state == "fresh" and st.fingerprint == rec["fingerprint"][:12]
    evidence.run_job(job, _opts(fresh=True))  # recomputed, not read from the cache: same bytes
    assert path.read_bytes() == first
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]


def test_changed_code_makes_a_record_stale_and_names_the_module(evdir, monkeypatch):
    job = evidence.get_job(JOB)
    evidence.run_job(job, _opts())
    real = cache.module_fingerprint
    monkeypatch.setattr(cache, "module_fingerprint",
                        lambda m: "edited" if m == "impl.estimators.snr" else real(m))
    st = evidence.status(JOB)
    assert st.state == "stale" and "impl.estimators.snr" in st.detail and st.record is not None


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b"[1, 2]",
                                    lambda b: b.replace(b'"job"', b'"jab"')])
def test_corrupt_record_is_unreadable_with_one_notice(evdir, capsys, damage):
    path = evidence.run_job(evidence.get_job(JOB), _opts())
    path.write_bytes(damage(path.read_bytes()))
    for _ in range(5):  # a report reads a record once per claim and grid point: still one notice
        st = evidence.status(JOB)
        assert evidence.results(JOB) == (None, st) and evidence.load(JOB) is None
    assert st.state == "unreadable" and st.record is None and str(path) in st.detail
    assert st.absent.startswith(f"the record of the evidence job {JOB} is unreadable: {path}")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable" in err[0] and JOB in err[0] and str(path) in err[0]


def test_half_written_record_says_why_and_a_missing_one_stays_missing(evdir, capsys):
    path = evidence.run_job(evidence.get_job(JOB), _opts())
    path.write_bytes(path.read_bytes()[:100])
    st = evidence.status(JOB)
    assert st.state == "unreadable" and "half-written" in st.detail
    path.unlink()
    st = evidence.status(JOB)
    assert st.state == "missing" and st.detail == f"run `assocmem evidence run {JOB}`"
    assert st.absent == f"no record of the evidence job {JOB}: run `assocmem evidence run {JOB}`"


def test_unknown_job_is_an_input_error():
    with pytest.raises(InputError, match="JOB"):
        evidence.select(["no-such-job"])
    assert len(evidence.select(["calibration"])) == len([j for j in evidence.jobs() if j.id.startswith("calibration/")])


def test_report_shows_calibration_records_with_freshness(evdir, tmp_path):
    evidence.run_job(evidence.get_job(JOB), _opts())
    opts = report.Options(quick=True, backend="serial", progress=False, only=("C4.typical", "C4.probe_averaged"))
    report.write(opts, tmp_path / "r")
    text = (tmp_path / "r" / "REPORT.md").read_text()
    fp = evidence.status(JOB).fingerprint
    assert "| C4.typical | " in text and f"fresh ({fp})" in text
    assert "| C4.probe_averaged | — |" in text and "assocmem evidence run calibration/C4.probe_averaged" in text


def test_a_record_names_the_code_its_run_started_from(tmp_path, monkeypatch):
    """Code edited while a job runs makes the record stale: fingerprints are taken before the run, not at writing."""
    src = tmp_path / "pkg_started_from.py"
    src.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path / "evidence"))

    def run(opts):
        src.write_text("X = 2\n")  # edited while the job runs
        return {"ok": True}

    job = evidence.Job(id="test/started-from", title="t", run=run, modules=("pkg_started_from",))
    monkeypatch.setitem(evidence._JOBS, job.id, job)
    evidence.run_job(job, evidence.JobOptions())
    rec = evidence.load(job.id)
    cache.module_fingerprint.cache_clear()  # a later process hashes the edited file
    assert rec["modules"]["pkg_started_from"] != evidence.module_fingerprints(job)["pkg_started_from"]
    assert evidence.status(job.id).state == "stale"


def test_report_names_a_half_written_record_once_as_unreadable(evdir, tmp_path, capsys):
    """The D4 claims, their table, the search sentence and the evidence table all read d4.swap's record: one
    notice on stderr, and the report calls it unreadable (with its path and why), never missing."""
    committed = evidence.ROOT / "reports" / "evidence" / "d4.swap.json"
    evdir.mkdir(parents=True)
    (evdir / "d4.swap.json").write_bytes(committed.read_bytes()[:3000])
    report.write(report.Options(quick=True, backend="serial", progress=False, only=("D4",)), tmp_path / "r")
    err = [line for line in capsys.readouterr().err.splitlines() if "d4.swap" in line]
    assert len(err) == 1 and "unreadable" in err[0] and "half-written" in err[0], err
    text = (tmp_path / "r" / "REPORT.md").read_text()
    assert "no record of the evidence job d4.swap" not in text and "| d4.swap | missing" not in text
    assert text.count(f"the record of the evidence job d4.swap is unreadable: {evdir / 'd4.swap.json'}") >= 5
