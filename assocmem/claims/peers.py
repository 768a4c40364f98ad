"""The report's *Peers* section: other projects' pure-PyTorch references run against the float64 oracles.

Evidence job ``peers`` (``assocmem evidence run peers``): every peer function of ``assocmem.conformance.peers`` whose
package is installed goes through the conformance run (``assocmem.conformance.check``: Hypothesis over shapes, input
regimes and dtypes, derandomised, so a rerun on the same code and peer versions gives the same record); the record
keeps rule x function x dtype x verdict with the minimal failing case and the peer versions. Nothing about a peer is
written here: every finding in the section is what the run found.
"""

from __future__ import annotations

from assocmem import evidence
from assocmem.registry import Section, register_section

JOB = "peers"
EXAMPLES, EXAMPLES_QUICK = 60, 12
# Earlier releases kept on record beside the pinned one (a defect found there and fixed since is still a finding
# about the suite's power, and a warning to anyone pinned to that release). Each is its own job, runnable only where
# that release is what imports: pip install --no-deps --target DIR fla-core==0.5.2, then PYTHONPATH=DIR.
EARLIER = {"fla-core": ("0.5.2",)}
MODULES = ("assocmem.conformance.adapter", "assocmem.conformance.cases", "assocmem.conformance.peers",
           "assocmem.conformance.rules", "assocmem.conformance.run", "impl.rules.linear_attention.recurrent",
           "impl.rules.decay.recurrent", "impl.rules.deltanet.recurrent", "impl.rules.gated_deltanet.recurrent",
           "impl.rules.softmax_attention.recurrent", "impl.rules.ttt.layernorm", "impl.rules.inputs",
           "impl.rules.data", "impl.deltaformer.recurrent", "impl.deltaformer.kernels", "impl.memories.kernels")


def run_peers(opts: evidence.JobOptions, *, only: tuple[str, str] | None = None) -> dict:
    """Every peer function whose package is installed; with ``only = (package, version)``, only that package's
    functions, and only if that exact version is what imports here."""
    from assocmem.conformance import check, peers

    versions = {p: peers.installed(p) for p in peers.PACKAGES}
    if only is not None:
        package, version = only
        if versions.get(package) != version:
            from impl.numerics.errors import InputError

            raise InputError("JOB", f"peers/{package}-{version} needs {package}=={version} importable (found "
                                    f"{versions.get(package) or 'none'}): pip install --no-deps --target DIR "
                                    f"{package}=={version}, then run with PYTHONPATH=DIR")
        versions = {package: version}
    rows = []
    for peer in peers.PEERS:
        if only is not None and peer.package != only[0]:
            continue
        row = {"peer": peer.id, "package": peer.package, "target": peer.target, "rule": peer.rule, "note": peer.note}
        if versions[peer.package] is None:
            rows.append(dict(row, verdicts=[], status="not installed"))
            continue
        try:
            fn = peers.load(peer)
        except Exception as e:  # noqa: BLE001 - an import failure is recorded, not fatal
            rows.append(dict(row, verdicts=[], status=f"import failed: {type(e).__name__}: {e}"))
            continue
        try:
            verdicts = check(fn, peer.rule, peer.adapter, max_examples=EXAMPLES_QUICK if opts.quick else EXAMPLES,
                             name=peer.id)
        except Exception as e:  # noqa: BLE001 - e.g. a peer that hangs on to global state; recorded, not fatal
            rows.append(dict(row, verdicts=[], status=f"check failed: {type(e).__name__}: {e}"))
            continue
        rows.append(dict(row, adapter=peer.adapter.describe(), verdicts=[v.as_dict() for v in verdicts], status="run"))
    return {"versions": versions, "examples": EXAMPLES_QUICK if opts.quick else EXAMPLES, "rows": rows}


evidence.register_job(evidence.Job(
    id=JOB, title="Peers: other projects' references against the float64 oracles", run=run_peers, modules=MODULES,
    cost="about a minute per installed peer package", description="rule x peer function x dtype x verdict"))


def _earlier_job(package: str, version: str) -> evidence.Job:
    from functools import partial

    run = partial(run_peers, only=(package, version))
    run.__module__ = __name__
    return evidence.Job(id=f"{JOB}/{package}-{version}", title=f"Peers: {package} {version} (an earlier release)",
                        run=run, modules=MODULES, cost="about a minute",
                        description=f"the {package} functions of the peers job, run against release {version}")


for _pkg, _versions in EARLIER.items():
    for _v in _versions:
        evidence.register_job(_earlier_job(_pkg, _v))


def _case(case: dict | None) -> str:
    if not case:
        return ""
    keys = ("dtype", "T", "d_k", "d_v", "chunk", "keys", "inputs", "state", "scale", "block", "B", "H", "seed")
    return ", ".join(f"{k}={case[k]}" for k in keys if k in case)


def render_peers(verdicts) -> str:
    parts = [_render_record(JOB)]
    for pkg, versions in EARLIER.items():
        for v in versions:
            job = f"{JOB}/{pkg}-{v}"
            res, st = evidence.results(job)
            parts.append(f"**Earlier release: {pkg} {v}** (`{job}`; refresh with `assocmem evidence run {job}` where that "
                         "release is what imports). " + ("No record." if res is None else _render_record(job, head=False)))
    return "\n\n".join(parts)


def _render_record(job: str, head: bool = True) -> str:
    res, st = evidence.results(job)
    show_head = head
    head = ("Other projects' pure-PyTorch references, run as clients of the suite's float64 oracles through "
            "`assocmem.conformance` (an adapter states each one's conventions: layout, log-gates, scale, state "
            "orientation; Hypothesis draws shapes, input regimes and dtypes; tolerance C n u of the dtype; the minimal "
            "failing case is shown). Install the peers with `pip install \"assocmem[peers]\"` and refresh with "
            f"`assocmem evidence run {JOB}`; check your own kernel with `assocmem conform MODULE:FUNCTION --rule ...`.")
    if not show_head:
        head = ""
    if res is None:
        return f"{head}\n\nNo record ({st.detail})."
    vers = ", ".join(f"{p} {v or 'not installed'}" for p, v in sorted(res["versions"].items()))
    lines = [head, "", f"Record: {st.state}" + (f" — {st.detail}" if st.detail else "") + f"; peers: {vers}; "
             f"{res['examples']} Hypothesis cases per function and dtype.", "",
             "| peer function | rule | dtype | verdict | minimal failing case: what fails |", "|---|---|---|---|---|"]
    missing = []
    for row in res["rows"]:
        if row["status"] != "run":
            missing.append(f"{row['peer']} ({row['status']})")
            continue
        for v in row["verdicts"]:
            if v["verdict"] == "conforms":
                what = f"— (worst error {v['worst']:.2g} x tolerance)"
            else:
                what = f"{_case(v['minimal'])}: " + "; ".join(f"**{k}** {m}" for k, m in v["failures"])
                if v.get("typical"):
                    what += "; at T = 16, d = 8: " + "; ".join(f"{k} {m}" for k, m in v["typical"])
            lines.append(f"| `{row['target']}`{(' ' + row['peer'].split(' ', 2)[-1]) if '(' in row['peer'] else ''} | "
                         f"{row['rule']} | {v['dtype']} | **{v['verdict']}** | {what} |")
    if missing:
        lines += ["", "Not run: " + "; ".join(missing) + "."]
    out = "\n".join(lines[:3] + _findings(res) + lines[3:])
    return out if show_head else out.lstrip("\n")


def _findings(res) -> list[str]:
    """The run's findings, grouped: wrong beyond precision (float32 too), float64 computed in float32 precision,
    dtype, in-place changes, exceptions. Read from the record only."""
    groups: dict[str, list[str]] = {k: [] for k in ("wrong", "precision", "dtype", "inputs", "error", "shape")}
    for row in res["rows"]:
        by_dtype = {v["dtype"]: v for v in row.get("verdicts", [])}
        label = f"`{row['target'].split(':')[-1]}`" + (f" {row['peer'].split(' ', 2)[-1]}" if "(" in row["peer"] else "")
        kinds = {dt: {k for k, _ in v["failures"]} | {k for k, _ in v.get("typical", [])} for dt, v in by_dtype.items()}
        low = [dt for dt in kinds if dt != "float64" and kinds[dt] & {"values", "state"}]
        if low:
            typ = next((m for k, m in by_dtype[low[0]].get("typical", []) if k == "values"), "")
            groups["wrong"].append(label + (f" ({low[0]}, at T = 16, d = 8: {typ})" if typ else f" ({low[0]})"))
        elif kinds.get("float64", set()) & {"values", "state"}:
            groups["precision"].append(label)
        for kind in ("dtype", "inputs", "error", "shape"):
            dts = [dt for dt, v in by_dtype.items() if kind in {k for k, _ in v["failures"]}]
            if dts:
                groups[kind].append(f"{label} ({', '.join(dts)})")
    says = {"wrong": "differ from the oracle beyond round-off in float32 too (a defect, not precision)",
            "precision": "agree with the oracle in float32 but compute float64 input in float32 precision",
            "dtype": "return another dtype than their input's", "inputs": "change an input tensor in place",
            "error": "raise on valid input", "shape": "return the wrong shape"}
    out = [f"- {len(v)} {says[k]}: {', '.join(v)}" for k, v in groups.items() if v]
    return (["", "Found by the run (minimal cases in the table):", ""] + out) if out else ["", "Every function run conforms."]


register_section(Section(id="U2.peers", group="U2", title="Peers: other projects' references against the oracles",
                         render=render_peers))
