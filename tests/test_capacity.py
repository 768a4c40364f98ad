"""``assocmem capacity``: a user's feature map, kernel or update rule measured against the theory (C3, C10).

Checks on the checker: the identity map is the linear memory (its derived exact values equal C4's closed forms; its
estimates cover them and overlap LinearMemory's); Performer positive features given as a frozen user map match
the frozen map's own closed form, and that closed form averaged over feature draws is PerformerMemory's value; the
predicted recall agrees with the measured one where C10 says it does; a map that collapses half the dimensions is
measured weaker, outside both intervals. The CLI runs from outside the repository on a temporary package, and
every bad input is one line, exit 2, nothing written.

Statistical checks declare their false-failure rate: alpha = 1e-6 per interval unless stated.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from assocmem import capacity as cap
from assocmem import cli
from impl.estimators.recall_prediction import predicted_recall_kernel
from impl.estimators.snr import estimate_snr
from impl.memories.kernel import PerformerMemory
from impl.memories.linear import LinearMemory
from impl.memories.memory import CONVENTIONS
from impl.memories.user import FeatureMapMemory

ROOT = Path(__file__).resolve().parent.parent
ALPHA = 1e-6

PACKAGE = '''
import math
import torch


def identity(x):
    return x


def half(x):
    return x[..., : x.shape[-1] // 2]


def dot(x, y):
    return (x * y).sum(-1)


def squared_relu(x):
    return torch.relu(x) ** 2


class GatedDelta:
    """S_t = a S_{t-1} (I - k_t k_t^T) + v_t k_t^T on unit keys, o = S q / |q|."""

    def __init__(self, d_k, d_v, gate=0.9):
        self.gate = gate

    def write(self, K, V):
        K = torch.nn.functional.normalize(K, dim=-1)
        S = torch.zeros(*K.shape[:-2], V.shape[-1], K.shape[-1], dtype=K.dtype)
        for t in range(K.shape[-2]):
            k, v = K[..., t, :], V[..., t, :]
            S = self.gate * (S - (S @ k[..., None]) @ k[..., None, :]) + v[..., :, None] @ k[..., None, :]
        return S

    def read(self, S, Q):
        return torch.nn.functional.normalize(Q, dim=-1) @ S.transpose(-1, -2)


class LinearRule:
    """The linear memory as an update rule: S = V^T K, o = S q."""

    def write(self, K, V):
        return V.transpose(-1, -2) @ K

    def read(self, S, Q):
        return Q @ S.transpose(-1, -2)


# bad inputs
def two_args(x, y):
    return x


def summed(x):
    return x.sum(-1)


def nan_map(x):
    return x * float("nan")


def to_double(x):
    return x.double()


def raises(x):
    raise RuntimeError("my map is broken")


def lopsided(x, y):
    return (x * y).sum(-1) + x[..., 0]


def negative(x, y):
    return -(x * y).sum(-1)


class Squashed(GatedDelta):
    def read(self, S, Q):
        return torch.tanh(super().read(S, Q))


class NoRead:
    def write(self, K, V):
        return K
'''


@pytest.fixture
def userpkg(tmp_path, monkeypatch):
    """A temporary package ``capmaps`` outside the repository, importable here (sys.path) and by subprocesses
    (PYTHONPATH)."""
    pkg = tmp_path / "capmaps"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("capmaps", None)
    yield tmp_path
    sys.modules.pop("capmaps", None)


def _overlap(a, b) -> bool:
    return a.lo <= b.hi and b.lo <= a.hi


# ------------------------------------------------------------------------------------------- identity = linear ---
def test_identity_map_has_the_linear_memorys_exact_values_and_estimates(userpkg):
    """Derived independently (key metric M = L L^T = I), the identity map's exact SNR^-1 equals C4's closed form in
    every convention, to round-off; its estimate covers it, and overlaps LinearMemory's at the same seed."""
    import capmaps

    d, N, T = 12, 40, 1500
    mem = FeatureMapMemory("capmaps:identity", capmaps.identity, d)
    lin = LinearMemory()
    got = estimate_snr(mem, N, d, d, T, 3, conventions=CONVENTIONS, alpha=ALPHA)
    ref = estimate_snr(lin, N, d, d, T, 3, conventions=CONVENTIONS, alpha=ALPHA)
    for conv in CONVENTIONS:
        r = got[conv]
        kappa, nu = r.details.get("probe_kappa"), r.details.get("probe_nu")
        want = lin.exact(conv, N, d, d, kappa, nu)
        assert r.exact == pytest.approx(want, rel=1e-12), conv
        assert r.lo <= want <= r.hi, (conv, r)
        if conv != "conditional":  # the conditional one is at each estimator's own drawn probe
            assert _overlap(r.interval(), ref[conv].interval()), (conv, r, ref[conv])


def test_linear_update_rule_has_the_linear_memorys_values(userpkg):
    """The linear memory written as a user update rule (weights from one-hot values, every N simulated): each
    convention's interval covers C4's closed form (at the rule's own probe for the conditional one)."""
    from assocmem.capacity.load import check_rule
    from impl.memories.user import RuleMemory

    import capmaps

    d, N = 12, 24
    check_rule(capmaps.LinearRule(), d, d)
    got = estimate_snr(RuleMemory("capmaps:LinearRule", capmaps.LinearRule()), N, d, d, 400, 5,
                       conventions=CONVENTIONS, alpha=ALPHA)
    for conv in CONVENTIONS:
        r = got[conv]
        want = LinearMemory().exact(conv, N, d, d, r.details.get("probe_kappa"), r.details.get("probe_nu"))
        assert r.lo <= want <= r.hi, (conv, r, want)


def test_weak_map_collapsing_half_the_dimensions_is_measured_weaker(userpkg):
    """phi(x) = x[:d/2] (rank d/2): exact probe-averaged SNR^-1 (N-1) d_v / ((d/2 - 2)(d_v - 2)); its SNR^-1 and
    capacity lie above / below the identity map's with the intervals apart, and its measured recall is lower with
    the Clopper-Pearson intervals apart (each interval at level 1 - 1e-6: false failure <= 1e-5 in all)."""
    d = 16
    kw = dict(d_k=d, n_pairs=(8, 32), measure_at=(32,), trials=1000, recall_trials=1000, alpha=ALPHA)
    full = cap.measure("capmaps:identity", "feature_map", **kw)
    weak = cap.measure("capmaps:half", "feature_map", **kw)
    for n in (8, 32):
        s_full, s_weak = full.user.row(n).snr, weak.user.row(n).snr
        assert s_weak["probe_averaged"].exact == pytest.approx((n - 1) * d / ((d / 2 - 2) * (d - 2)), rel=1e-12)
        for conv in ("typical", "probe_averaged", "ratio_of_expectations"):
            assert s_weak[conv].lo > s_full[conv].hi, (n, conv)
    assert weak.capacity.hi < full.capacity.lo, (weak.capacity, full.capacity)
    m_full, m_weak = full.user.row(32).measured, weak.user.row(32).measured
    assert m_weak.hi < m_full.lo, (m_weak, m_full)


# --------------------------------------------------------------------------------------------------- Performer ---
def _positive_features(W, tau):
    m = W.shape[0]

    def phi(x):
        return torch.exp(x / math.sqrt(tau) @ W.T.to(x.dtype) - (x * x).sum(-1, keepdim=True) / (2 * tau)) / math.sqrt(m)

    return phi


def _frozen_moments(W, tau, x):
    """For Performer positive features with frozen W and keys k ~ N(0, I): (phi(x)^T G phi(x), (phi(x)^T phi(x))^2)
    with G = E_k[phi(k) phi(k)^T], G_ab = (1 + 2/tau)^(-d/2) exp(|w_a + w_b|^2 / (2 tau (1 + 2/tau))) / m (a
    Gaussian integral; shares no code with the estimator)."""
    m, d = W.shape[-2], W.shape[-1]
    s2 = 1 / tau
    U = W[..., :, None, :] + W[..., None, :, :]
    G = (1 + 2 * s2) ** (-d / 2) * torch.exp(s2 * (U * U).sum(-1) / (2 * (1 + 2 * s2))) / m
    f = torch.exp(W @ x / math.sqrt(tau) - (x @ x) / (2 * tau)) / math.sqrt(m)
    return torch.einsum("...a,...ab,...b->...", f, G, f), (f * f).sum(-1) ** 2


def test_performer_positive_features_as_a_user_map():
    """A Performer map with frozen features W, given as a user map, has the typical SNR^-1 of its own kernel
    (N-1) phi^T G phi / (phi^T phi)^2 inside its interval; and that frozen-feature value, averaged over 4000 feature
    draws as PerformerMemory defines it (E_W of the noise over E_W of c^2), covers PerformerMemory's exact value
    (d_k = 4, tau = 16, m = 16, where the feature noise is resolved: the exp kernel's own value lies outside)."""
    from impl.estimators.stats import ratio_interval
    from impl.memories.kernel import KernelMemory

    d, tau, m, N = 4, 16.0, 16, 32
    g = torch.Generator().manual_seed(7)
    W = torch.randn(m, d, generator=g, dtype=torch.float64)
    mem = FeatureMapMemory("performer", _positive_features(W, tau), d)
    r = estimate_snr(mem, N, d, d, 2000, 1, conventions=("typical",), alpha=ALPHA)["typical"]
    x = torch.tensor(r.details["probe"], dtype=torch.float64)
    num, den = _frozen_moments(W, tau, x)
    assert r.lo <= (N - 1) * float(num / den) <= r.hi, r

    Ws = torch.randn(4000, m, d, generator=g, dtype=torch.float64)
    xt = torch.full((d,), 1.0, dtype=torch.float64)  # ||x||^2 = d: the typical probe (the value is isotropic)
    num, den = _frozen_moments(Ws, tau, xt)
    e = ratio_interval(((N - 1) * num).numpy(), den.numpy(), ALPHA)
    performer = PerformerMemory("positive", tau=tau, m=m).exact("typical", N, d, d, float(d), float(d))
    assert e.contains(performer), (e, performer)
    assert not e.contains(KernelMemory("exp", tau=tau).exact("typical", N, d, d, float(d), float(d)))


# ------------------------------------------------------------------------------------- predicted vs measured ---
def test_predicted_recall_agrees_with_measured_at_stated_points(userpkg):
    """Identity map at d_k = d_v = 16 (the linear memory, where C10.recall.linear holds at every N): at N = 16 and
    64 the measured recall's Clopper-Pearson interval (level 1 - 1e-3) comes within C10's 0.02 of the prediction,
    and the prediction (from per-probe factors) is within 0.01 of C10's quadrature over (kappa, nu)."""
    d = 16
    res = cap.measure("capmaps:identity", "feature_map", d_k=d, n_pairs=(16, 64), measure_at=(16, 64),
                      trials=500, recall_trials=2000, alpha=1e-3)
    for n in (16, 64):
        row = res.user.row(n)
        pred, meas = row.predicted[0], row.measured
        assert meas.lo - 0.02 <= pred <= meas.hi + 0.02, (n, pred, meas)
        assert abs(pred - predicted_recall_kernel("linear", n, d, d)) <= 0.01
        assert res.baselines["linear"].row(n).predicted[0] == predicted_recall_kernel("linear", n, d, d)


def test_capacity_is_the_crossing_of_the_predicted_recall(userpkg):
    """The capacity N has predicted recall >= level and N + 1 below it (bisection on the same prediction)."""
    from impl.estimators.capacity import predicted_from_factors

    d = 16
    res = cap.measure("capmaps:identity", "feature_map", d_k=d, n_pairs=(8, 16), measure_at=(8,), trials=200,
                      recall_trials=50, level=0.8)
    mem = FeatureMapMemory("capmaps:identity", __import__("capmaps").identity, d)
    g = mem.probe_factors(d, 0).numpy()
    n = int(res.capacity.estimate)
    assert predicted_from_factors(g, n, d) >= 0.8 > predicted_from_factors(g, n + 1, d)
    assert res.capacity.lo <= n <= res.capacity.hi


def test_the_capacity_fixture_measures_and_fails_bad_input_with_its_line(capacity, userpkg):
    res = capacity.measure("capmaps:identity", kind="feature_map", d_k=8, n_pairs=(4, 8), measure_at=(4,),
                           trials=100, recall_trials=50)
    assert isinstance(res, cap.CapacityResult) and res.as_dict()["schema"] == "assocmem.capacity/1"
    with pytest.raises(pytest.fail.Exception, match="capacity: PATH: .*NaN"):
        capacity.measure("capmaps:nan_map", d_k=8)


# ---------------------------------------------------------------------------------- the CLI from outside the repo ---
def _run_outside(tmp: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "assocmem", "capacity", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("path,kind", [("capmaps:squared_relu", "feature_map"), ("capmaps:dot", "kernel"),
                                       ("capmaps:GatedDelta", "memory")])
def test_cli_runs_a_users_memory_from_outside_the_repository(userpkg, path, kind):
    """Feature map, kernel and update rule from a temporary package: table, strict JSON of schema
    assocmem.capacity/1 with both baselines, the figure (rendered by rsvg-convert where installed)."""
    out = userpkg / "out"
    p = _run_outside(userpkg, path, "--kind", kind, "--d-k", "8", "--n-pairs", "4", "8", "16", "--measure-at", "8",
                     "--trials", "100", "--recall-trials", "100", "--json", "--out", str(out))
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["schema"] == "assocmem.capacity/1"
    assert set(res["memories"]) == {"user", "linear", "softmax"}
    for rows in (m["rows"] for m in res["memories"].values()):
        assert [r["n_pairs"] for r in rows] == [4, 8, 16]
        assert rows[1]["measured_recall"] is not None and rows[0]["measured_recall"] is None
    user = res["memories"]["user"]["rows"]
    assert all(r["snr"]["typical"]["lo"] <= r["snr"]["typical"]["estimate"] <= r["snr"]["typical"]["hi"] for r in user)
    assert json.loads((out / "capacity.json").read_text()) == res
    svg = out / "capacity.svg"
    assert svg.read_text().startswith("<?xml")
    if shutil.which("rsvg-convert"):
        assert subprocess.run(["rsvg-convert", str(svg), "-o", str(out / "c.png")]).returncode == 0
    assert not (ROOT / "reports" / "capacity.svg").exists()


# ----------------------------------------------------------------------------------------------- bad input ---
BAD = [
    (["capmaps.nothere:phi"], "PATH", "cannot import"),
    (["capmaps:missing"], "PATH", "has no attribute"),
    (["capmaps/maps.py:phi"], "PATH", "file path"),
    (["capmaps:two_args"], "PATH", "signature"),
    (["capmaps:summed"], "PATH", "shape"),
    (["capmaps:nan_map"], "PATH", "NaN"),
    (["capmaps:to_double"], "PATH", "dtype"),
    (["capmaps:raises"], "PATH", "RuntimeError: my map is broken"),
    (["capmaps:lopsided", "--kind", "kernel"], "PATH", "symmetric"),
    (["capmaps:negative", "--kind", "kernel"], "PATH", "k(x, x) must be > 0"),
    (["capmaps:Squashed", "--kind", "memory"], "PATH", "linear in the values"),
    (["capmaps:NoRead", "--kind", "memory"], "PATH", "read"),
    (["capmaps:identity", "--n-pairs", "8", "100000000", "--measure-at", "100000000"], "--measure-at", "N"),
    (["capmaps:GatedDelta", "--kind", "memory", "--n-pairs", "8", "3000000"], "--n-pairs", "available"),
    (["capmaps:identity", "--measure-at", "5"], "--measure-at", "grid"),
    (["capmaps:identity", "--n-pairs", "0"], "--n-pairs", ">= 2"),
    (["capmaps:identity", "--n-pairs", "-4"], "--n-pairs", ">= 2"),
    (["capmaps:identity", "--d-v", "2"], "--d-v", ">= 3"),
    (["capmaps:identity", "--level", "1.5"], "--level", "(0, 1)"),
    (["capmaps:identity", "--kind", "module"], "--kind", "invalid choice"),
]


@pytest.mark.parametrize("args,flag,words", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_exit_2_nothing_written(userpkg, capsys, args, flag, words):
    out = userpkg / "never"
    argv = ["capacity", *args, "--out", str(out)]
    if "--d-k" not in args:
        argv += ["--d-k", "0" if flag == "--d-k" else "8"]
    try:
        rc = cli.main(argv)
    except SystemExit as e:  # argparse's own refusals
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("assocmem: error:"), err
    assert flag in err and words in err, err
    assert not out.exists()


def test_zero_key_dimension_is_refused(userpkg, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["capacity", "capmaps:identity", "--d-k", "0"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and "--d-k" in err and ">= 1" in err


class _DecayedRule:
    """S = sum_j g^(N-1-j) v_j k_j^T (a decaying write, so the weights depend on position), o = S q."""

    g = 0.8

    def write(self, K, V):
        S = torch.zeros(*K.shape[:-2], V.shape[-1], K.shape[-1], dtype=K.dtype)
        for t in range(K.shape[-2]):
            S = self.g * S + V[..., t, :, None] @ K[..., t, None, :]
        return S

    def read(self, S, Q):
        return Q @ S.transpose(-1, -2)


def _loop_read(w, K, V, Q):
    """o[b, m] = sum_j w(j, k_j, q_m) v_j by explicit loops (floats)."""
    B, N, M, d_v = K.shape[0], K.shape[1], Q.shape[1], V.shape[2]
    out = torch.zeros(B, M, d_v, dtype=torch.float64)
    for b in range(B):
        for m in range(M):
            for j in range(N):
                out[b, m] += w(j, N, K[b, j], Q[b, m]) * V[b, j]
    return out


@pytest.mark.parametrize("kind", ["feature_map", "kernel", "rule"])
def test_user_memory_reads_are_the_kernel_sums_by_explicit_loops(kind):
    """The read each user memory hands to the recall measurement (`assocmem capacity`), o = sum_j w(k_j, q) v_j, and
    its weights, against loops; queries that are not the stored keys, so a read that drops or swaps Q fails."""
    from impl.memories.user import KernelFunctionMemory, RuleMemory

    g = torch.Generator().manual_seed(4)
    K, V, Q = (torch.randn((2, n, d), generator=g, dtype=torch.float64) for n, d in ((5, 3), (5, 2), (4, 3)))
    if kind == "feature_map":
        mem = FeatureMapMemory("t:phi", lambda x: torch.cat([x, x[..., :1] ** 2], -1), 3)
        w = lambda j, n, k, q: float(k @ q + k[0] ** 2 * q[0] ** 2)  # noqa: E731
    elif kind == "kernel":
        mem = KernelFunctionMemory("t:k", lambda x, y: torch.exp((x * y).sum(-1) / 2))
        w = lambda j, n, k, q: math.exp(float(k @ q) / 2)  # noqa: E731
    else:
        mem = RuleMemory("t:rule", _DecayedRule())
        w = lambda j, n, k, q: _DecayedRule.g ** (n - 1 - j) * float(k @ q)  # noqa: E731
    ref = _loop_read(w, K, V, Q)
    torch.testing.assert_close(mem.read(K, V, Q), ref, rtol=1e-13, atol=1e-13)
    W = mem.weights(K, Q) if kind == "rule" else mem.weights(Q, K)  # [B, M, N] either way
    torch.testing.assert_close(W @ V, ref, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------- a kernel function, in this process ---
def test_linear_kernel_function_has_the_linear_memorys_values(userpkg):
    """k(x, y) = x . y as a user kernel is C4's linear memory: each convention's interval (alpha 1e-6) covers C4's
    closed form (at the estimator's own probe for the conditional one)."""
    from impl.memories.user import KernelFunctionMemory

    import capmaps

    d, N = 12, 40
    got = estimate_snr(KernelFunctionMemory("capmaps:dot", capmaps.dot), N, d, d, 3000, 3, conventions=CONVENTIONS,
                       alpha=ALPHA)
    for conv in CONVENTIONS:
        r = got[conv]
        want = LinearMemory().exact(conv, N, d, d, r.details.get("probe_kappa"), r.details.get("probe_nu"))
        assert r.exact is None and r.n == 3000, conv  # estimated only: no closed form is claimed for a user kernel
        assert r.lo <= want <= r.hi and (r.hi - r.lo) < 0.5 * want, (conv, r, want)


def test_kernel_function_probe_factors_are_the_linear_memorys_per_probe_factor():
    """For k(x, y) = x . y the per-probe factor is g(x) = E_k (k . x)^2 / |x|^4 = 1 / |x|^2; estimated over one shared
    pool of P Gaussian keys it is x^T S x / |x|^4 with S the pool's second-moment matrix, so g |x|^2 lies between
    S's extreme eigenvalues, inside (1 +- sqrt(d / P))^2 (Marchenko-Pastur) up to edge fluctuations."""
    from impl.estimators.sampling import gaussian
    from impl.memories.user import KernelFunctionMemory
    from impl.numerics.device import generator

    d, seed, probes, pool = 8, 5, 256, 4096
    g = KernelFunctionMemory("t:dot", lambda x, y: (x * y).sum(-1)).probe_factors(d, seed, probes=probes, pool=pool)
    X = gaussian((probes, d), generator(seed + 1))  # the probes, drawn first from the documented stream
    ratio = g * (X * X).sum(-1)
    edge = math.sqrt(d / pool)
    assert g.shape == (probes,) and torch.isfinite(g).all()
    assert (1 - edge) ** 2 - 0.03 < float(ratio.min()) and float(ratio.max()) < (1 + edge) ** 2 + 0.03
    assert float(ratio.std()) > 1e-3  # a per-probe quantity, not one number for all probes


def test_a_kernel_without_signal_at_some_keys_is_infinite_there_not_estimated():
    """k(x, y) = relu(x_0) relu(y_0): the signal w(x, x) = relu(x_0)^2 is 0 for half the keys. The probe-averaged
    SNR^-1 is then infinite (not estimated, the count of zero-signal probes named); the ratio of expectations is
    finite, E[w^2] / E[c^2] = (1/2)(1/2) / (3/2) = 1/6 per other pair; a probe's factor is infinite where its signal is 0."""
    from impl.memories.user import KernelFunctionMemory

    mem = KernelFunctionMemory("t:relu0", lambda x, y: torch.relu(x[..., 0]) * torch.relu(y[..., 0]))
    N, trials = 9, 4000
    got = estimate_snr(mem, N, 4, 6, trials, 2, conventions=("probe_averaged", "ratio_of_expectations"), alpha=ALPHA)
    pa = got["probe_averaged"]
    assert pa.method == "none" and pa.estimate is None
    zero = int(pa.note.split(" at ")[1].split(" of ")[0])
    assert pa.note.startswith("infinite (not estimated): w(k_i, k_i) = 0 at ") and f" of {trials} probes" in pa.note
    assert abs(zero - trials / 2) < 6 * math.sqrt(trials / 4)  # Binomial(trials, 1/2)
    roe = got["ratio_of_expectations"]
    assert roe.lo <= (N - 1) / 6 <= roe.hi
    g = mem.probe_factors(4, 0, probes=400, pool=256)
    frac = float(torch.isinf(g).double().mean())
    assert abs(frac - 0.5) < 6 * math.sqrt(0.25 / 400) and (g > 0).all()


# --------------------------------------------------------------------------- an update rule's capacity curve ---
def test_interpolated_capacity_by_hand():
    """Linear in log N between grid points: recall 0.85 at N = 16 and 0.7 at 32 cross 0.8 a third of the way,
    at N = 16 * 2^(1/3); outside the grid a bound, said so."""
    from impl.estimators.capacity import interpolated

    n, note = interpolated([8, 16, 32], [0.9, 0.85, 0.7], 0.8)
    assert n == pytest.approx(16 * 2 ** (1 / 3), rel=1e-12) and note == "interpolated in log N between grid points"
    assert interpolated([8, 16, 32], [0.9, 0.8, 0.7], 0.8)[0] == pytest.approx(16.0, rel=1e-12)  # at the level: not below
    n, note = interpolated([8, 16], [0.7, 0.6], 0.8)
    assert n == 8.0 and "upper bound" in note and "N = 8" in note
    n, note = interpolated([8, 16], [0.95, 0.9], 0.8)
    assert n == 16.0 and "lower bound" in note and "N = 16" in note
    assert interpolated([4, 8, 16, 32], [0.9, 0.7, 0.9, 0.5], 0.8)[0] == pytest.approx(4 * 2 ** 0.5, rel=1e-12)  # first


def test_update_rule_capacity_in_process_brackets_the_linear_memorys(userpkg):
    """The linear memory as a user update rule (every N simulated, per-position predictions): its capacity at recall
    level 0.8 is interpolated between the grid points whose predicted recall brackets the level, its interval holds
    it, and the linear baseline's capacity (C4's closed forms, searched on the integers) lies within the same grid
    cell; the recall is measured at the N asked for only."""
    res = cap.measure("capmaps:LinearRule", "memory", d_k=16, n_pairs=(4, 8, 16, 32), measure_at=(8,), trials=300,
                      recall_trials=100, level=0.8)
    user = res.user
    assert [r.n_pairs for r in user.rows] == [4, 8, 16, 32]
    central = [r.predicted[0] for r in user.rows]
    assert all(a > b for a, b in zip(central, central[1:]))  # recall falls with N
    c = user.capacity
    assert c.note == "interpolated in log N between grid points" and c.lo <= c.estimate <= c.hi
    i = next(i for i in range(3) if central[i] >= 0.8 > central[i + 1])
    lo_n, hi_n = user.rows[i].n_pairs, user.rows[i + 1].n_pairs
    assert lo_n <= c.estimate <= hi_n
    assert lo_n <= res.baselines["linear"].capacity.estimate <= hi_n
    assert [r.n_pairs for r in user.rows if r.measured is not None] == [8]
