"""The linear associative memory (paper Eq. 1) and its signal/noise split (Eq. 4).

    write:  S = sum_j v_j k_j^T = V^T K                    (Eq. 1; equivalently S_t = S_{t-1} + v_t k_t^T)
    read:   o = S q
    split:  S k_i = c v_i + r,  c = k_i^T k_i,  r = sum_{j != i} v_j (k_j^T k_i)      (Eq. 4)

Arrays are batched over independent trials: K [..., N, d_k], V [..., N, d_v], S [..., d_v, d_k].
``write``/``read``/``signal_noise`` work unchanged on NumPy arrays and PyTorch tensors (any device and dtype): only
``@`` and ``swapaxes``.

``LinearMemory`` is the memory's SNR interface (``impl.memories.memory``), estimated in every convention of C3:

* ``probe_averaged``   E over everything of ||r_i||^2 / (c_i^2 ||v_i||^2). One trial writes a fresh memory of N
  Gaussian pairs and probes all N of them (S = V^T K, O = K S^T: 4 N d_k d_v flops); the trial mean over its N
  probes is one i.i.d. sample. Its interval is Catoni's (``impl.estimators.catoni``, valid at every level for any
  distribution with a variance <= v) at v = the exact variance of ONE probe's ratio
  (``kernel_moments.plain_relvar("linear", "probe_averaged", ...)``), an upper bound on the variance of the mean
  of N identically distributed probes (Var(mean) = sum_ij Cov / N^2 <= Var(one) by Cauchy-Schwarz): conservative
  by the probes' decorrelation, but proven at 1e-6. That variance is finite only for d_k > 4 and d_v > 4
  (E[1/chi^2_d^2] needs d > 4); below that the interval is a Student t, not calibrated, and the result says so.
* ``ratio_of_expectations``  E||r||^2 / E[c^2 ||v_i||^2] from the same trials (per-trial means of numerator and
  denominator): Catoni's interval for each mean at alpha/2, at the exact variances of those per-trial means
  (``trial_mean_moments``), and the ratio of their ends (``snr_kernel.catoni_ratio_estimate``).
* ``conditional``  one probe pair (k_i, v_i) drawn from the seed and held fixed; each trial redraws the other N-1
  pairs, writes the memory (the probe included) and reads o = S k_i; t-interval over trials. Theory:
  (N-1) d_v / (||k_i||^2 ||v_i||^2) at that probe.
* ``typical``  the conditional estimator with the probe rescaled to ||k_i||^2 = d_k, ||v_i||^2 = d_v.

All sampling is seeded (``impl.numerics.device.generator``); reference data is drawn in float64 on the CPU, then cast
and moved (``native=True`` draws on the device, for benchmarks). Statistics are accumulated in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from impl.estimators import catoni
from impl.estimators import kernel_moments as km
from impl.estimators.sampling import batches, gaussian
from impl.estimators.stats import mean_interval, ratio_interval
from impl.memories.memory import Estimates, Memory, SNRResult, check_convention, typical_probe
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError

BUDGET = 2**23  # numbers per batch of trials


def write(K, V):
    """S = V^T K, i.e. sum_j v_j k_j^T (Eq. 1). K [..., N, d_k], V [..., N, d_v] -> S [..., d_v, d_k]."""
    if K.shape[:-1] != V.shape[:-1]:
        from impl.numerics.errors import InputError

        raise InputError("V", f"keys {tuple(K.shape)} and values {tuple(V.shape)} must agree in all but the last axis")
    return V.swapaxes(-1, -2) @ K


def write_recurrent(K, V):
    """The same memory built one pair at a time, S_t = S_{t-1} + v_t k_t^T (linear attention's update)."""
    S = V[..., :1, :].swapaxes(-1, -2) @ K[..., :1, :] * 0
    for t in range(K.shape[-2]):
        S = S + V[..., t : t + 1, :].swapaxes(-1, -2) @ K[..., t : t + 1, :]
    return S


def read(S, Q):
    """o = S q for each row q of Q [..., M, d_k] -> O [..., M, d_v]."""
    return Q @ S.swapaxes(-1, -2)


def signal_noise(K, V):
    """Eq. 4 for every probe i at once: returns (c [..., N], r [..., N, d_v]) with S k_i = c_i v_i + r_i,
    r computed as the explicit sum over j != i (the definition, not the difference)."""
    G = K @ K.swapaxes(-1, -2)  # G_ij = k_i^T k_j
    c = (K * K).sum(-1)
    off = G - _diag_embed(c, G)
    r = off @ V  # r_i = sum_{j != i} (k_i^T k_j) v_j
    return c, r


def _diag_embed(c, like):
    try:
        import torch

        if isinstance(like, torch.Tensor):
            return torch.diag_embed(c)
    except ImportError:  # pragma: no cover
        pass
    import numpy as np

    out = np.zeros(like.shape, dtype=like.dtype)
    idx = np.arange(c.shape[-1])
    out[..., idx, idx] = c
    return out


# ------------------------------------------------------------------------------------------------------------------
# Retrieval SNR (C3, C4)
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class TrialStats:
    """Per-trial means over all N probes (float64, CPU)."""

    ratio: list = field(default_factory=list)  # mean_i ||r_i||^2 / (c_i^2 ||v_i||^2)
    noise: list = field(default_factory=list)  # mean_i ||r_i||^2
    signal: list = field(default_factory=list)  # mean_i c_i^2 ||v_i||^2
    cos: list = field(default_factory=list)  # mean_i cos(o_i, v_i)


def per_trial(n_pairs, d_k, d_v) -> int:
    """Numbers held per trial (keys, values and read-outs): the unit of the batch budget."""
    return n_pairs * (d_k + 2 * d_v)


def trial_mean_moments(n_pairs: int, d_k: int, d_v: int) -> tuple[float, float, float]:
    """(E X, Var X, Var Y) of one trial's means over its N probes, X = mean_i c_i^2 ||v_i||^2 (the signal) and
    Y = mean_i ||r_i||^2 (the noise), exact for Gaussian pairs.

    X: the N terms are independent (each uses its own pair), c = ||k||^2 ~ chi^2_{d_k}, ||v||^2 ~ chi^2_{d_v}:
    E X = d_k (d_k + 2) d_v and Var X = (d_k (d_k + 2) (d_k + 4) (d_k + 6) d_v (d_v + 2) - (E X)^2) / N.

    Y: with W = K K^T minus its diagonal (W_ij = k_i^T k_j, W_ii = 0), r_i = sum_j W_ij v_j, so given the keys each
    value coordinate contributes ||W u||^2 with u ~ N(0, I_N): N Y = sum_{c <= d_v} u_c^T W^2 u_c, E[N Y | K] =
    d_v tr W^2 and Var[N Y | K] = 2 d_v tr W^4, hence N^2 Var Y = 2 d_v E tr W^4 + d_v^2 Var tr W^2. With
    E w^2 = d, E w^4 = 3 d (d + 2) for one off-diagonal entry, E[w_ij^2 w_il^2] = E||k_i||^4 = d (d + 2) for two
    sharing an index, E[W_ij W_jl W_lm W_mi] = tr I = d around a 4-cycle of distinct indices, and P = N (N - 1)/2
    unordered pairs (d = d_k):

        E tr W^4    = N (N - 1) (3 d (d + 2) + 2 (N - 2) d (d + 2) + (N - 2) (N - 3) d),
        E (tr W^2)^2 = 4 P (3 d (d + 2) + 2 (N - 2) d (d + 2) + (P - 1 - 2 (N - 2)) d^2),  E tr W^2 = 2 P d
    (closed walks of length 4 by which indices coincide; pairs of pairs by how many indices they share)."""
    n, d = n_pairs, d_k
    ex = d * (d + 2) * d_v
    vx = (d * (d + 2) * (d + 4) * (d + 6) * d_v * (d_v + 2) - ex**2) / n
    pairs = n * (n - 1) // 2
    tr4 = n * (n - 1) * (3 * d * (d + 2) + 2 * (n - 2) * d * (d + 2) + (n - 2) * (n - 3) * d)
    var_tr2 = 4 * pairs * (3 * d * (d + 2) + 2 * (n - 2) * d * (d + 2) + (pairs - 1 - 2 * (n - 2)) * d * d) \
        - (2 * pairs * d) ** 2
    return float(ex), float(vx), (2 * d_v * tr4 + d_v**2 * var_tr2) / n**2


def probe_statistics(K, V) -> dict:
    """Write the memories of a batch of trials (Eq. 1) and probe every stored key (Eq. 4): per probe, the ratio
    ||r_i||^2 / (c_i^2 ||v_i||^2), the noise ||r_i||^2, the signal c_i^2 ||v_i||^2 and cos(o_i, v_i)."""
    S = write(K, V)
    O = read(S, K)
    # Fused reductions (no temporaries beyond r): c_i = ||k_i||^2, r_i = o_i - c_i v_i computed directly
    # (not via ||o||^2 - 2c<o,v> + c^2||v||^2, which cancels catastrophically at high SNR).
    c = torch.linalg.vector_norm(K, dim=-1).square()
    vv = torch.linalg.vector_norm(V, dim=-1).square()
    rr = torch.linalg.vector_norm(torch.addcmul(O, c.unsqueeze(-1), V, value=-1), dim=-1).square()
    sig = c * c * vv
    cos = torch.linalg.vecdot(O, V) / (torch.linalg.vector_norm(O, dim=-1) * vv.sqrt())
    return {"ratio": rr / sig, "noise": rr, "signal": sig, "cos": cos}


def all_probe_trials(n_pairs, d_k, d_v, trials, gen, *, device="cpu", dtype="float64", native=False) -> TrialStats:
    """Write ``trials`` independent memories of N Gaussian pairs and probe every stored key (Eq. 1, Eq. 4)."""
    out = TrialStats()
    for b in batches(trials, per_trial(n_pairs, d_k, d_v), BUDGET):
        K = gaussian((b, n_pairs, d_k), gen, device=device, dtype=dtype, native=native)
        V = gaussian((b, n_pairs, d_v), gen, device=device, dtype=dtype, native=native)
        for name, x in probe_statistics(K, V).items():
            getattr(out, name).extend(x.double().mean(-1).cpu().tolist())
    return out


def conditional_trials(n_pairs, d_k, d_v, trials, gen, *, typical=False, device="cpu", dtype="float64", native=False):
    """Hold one probe pair fixed and redraw the other N-1 pairs per trial. Returns (samples, kappa, nu, cos)
    with samples_t = ||r||^2 / (c^2 ||v_i||^2), kappa = ||k_i||^2, nu = ||v_i||^2 of the probe as used."""
    k_i = gaussian((d_k,), gen, dtype="float64")
    v_i = gaussian((d_v,), gen, dtype="float64")
    if typical:
        k_i, v_i = typical_probe(k_i, v_i)
    kappa, nu = float(k_i @ k_i), float(v_i @ v_i)
    device, dtype_t = resolve_device(device), resolve_dtype(dtype)
    k_dev, v_dev = k_i.to(device, dtype_t), v_i.to(device, dtype_t)
    samples, coss = [], []
    for b in batches(trials, per_trial(n_pairs, d_k, d_v), BUDGET):
        K = torch.empty((b, n_pairs, d_k), device=device, dtype=dtype_t)
        V = torch.empty((b, n_pairs, d_v), device=device, dtype=dtype_t)
        K[:, 0], V[:, 0] = k_dev, v_dev
        if n_pairs > 1:
            K[:, 1:] = gaussian((b, n_pairs - 1, d_k), gen, device=device, dtype=dtype, native=native)
            V[:, 1:] = gaussian((b, n_pairs - 1, d_v), gen, device=device, dtype=dtype, native=native)
        o = read(write(K, V), k_dev.expand(b, 1, d_k))[:, 0]
        c = (k_dev * k_dev).sum()
        r = o - c * v_dev
        samples.extend(((r * r).sum(-1) / (c * c * (v_dev * v_dev).sum())).double().cpu().tolist())
        coss.extend(((o * v_dev).sum(-1) / (o.norm(dim=-1) * v_dev.norm())).double().cpu().tolist())
    return samples, kappa, nu, coss


class LinearMemory(Memory):
    """S = V^T K (Eq. 1), probed at a stored key (Eq. 4): every convention of C3 in closed form (C4)."""

    name = kind = "linear"
    min_pairs = 1

    def divergence(self, convention, d_k, d_v):
        if convention == "probe_averaged" and (d_k <= 2 or d_v <= 2):
            return "d_k > 2 and d_v > 2 (E[1/chi^2_d] = 1/(d-2) is finite only for d > 2)"
        return ""

    def infinite(self, convention, reason):
        return SNRResult(note="infinite for d_k <= 2 or d_v <= 2 (E[1/chi^2_d] needs d > 2): not estimated")

    def refuse(self, convention, n_pairs, d_k, d_v, reason):
        raise InputError(
                "d_k" if d_k <= 2 else "d_v",
                "the probe-averaged SNR^{-1} is infinite for d <= 2 (it needs E[1/chi^2_d] = 1/(d-2), finite only for "
                f"d > 2); got d_k = {d_k}, d_v = {d_v}; use another convention",
            )

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        """The exact SNR^{-1} (docs/CLAIMS.md C4) — numeric mirror of theory/snr_linear.py, used to print beside
        estimates. (The test suite checks that this mirror equals the SymPy derivation.)"""
        if convention == "conditional":
            return (n_pairs - 1) * d_v / (kappa * nu)
        if convention == "probe_averaged":
            return (n_pairs - 1) * d_v / ((d_k - 2) * (d_v - 2))
        if convention == "ratio_of_expectations":
            return (n_pairs - 1) / (d_k + 2)
        if convention == "typical":
            return (n_pairs - 1) / d_k
        check_convention(convention)

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        """All-probe trials first (probe-averaged, ratio of expectations and the mean cosine), then one fixed probe
        per conditional and typical convention, all from one generator."""
        gen = generator(seed)
        out = Estimates()
        if "probe_averaged" in conventions or "ratio_of_expectations" in conventions:
            ts = all_probe_trials(n_pairs, d_k, d_v, trials, gen, device=device, dtype=dtype, native=native)
            # N = 1: every sample is 0; a non-finite sample (overflow in a reduced dtype) has no Catoni interval, and
            # the t interval's inf/nan then says what happened
            bounded = (n_pairs > 1 and catoni.applicable(len(ts.ratio), alpha)
                       and all(map(math.isfinite, ts.ratio + ts.noise + ts.signal)))
            if "probe_averaged" in conventions:
                out["probe_averaged"] = self._probe_averaged(ts, n_pairs, d_k, d_v, alpha,
                                                             bounded and d_k > 4 and d_v > 4)
            if "ratio_of_expectations" in conventions:
                out["ratio_of_expectations"] = self._ratio_of_expectations(ts, n_pairs, d_k, d_v, alpha, bounded)
            out.extra["cos"] = mean_interval(ts.cos, alpha)
        for conv, typ in (("conditional", False), ("typical", True)):
            if conv in conventions:
                s, kappa, nu, _ = conditional_trials(n_pairs, d_k, d_v, trials, gen, typical=typ, device=device,
                                                     dtype=dtype, native=native)
                exact = self.exact(conv, n_pairs, d_k, d_v, kappa, nu)
                note = f"probe with ||k_i||^2 = {kappa:.6g}, ||v_i||^2 = {nu:.6g}"
                if n_pairs > 1 and catoni.applicable(len(s), alpha):  # one sample has an exact variance: Catoni
                    var = km.plain_relvar("linear", conv, n_pairs, d_k, d_v, kappa=kappa)[0] * exact**2
                    est, per_level = catoni.as_estimate(s, var, alpha)
                    out[conv] = SNRResult.measured(est, exact, "plain", note + "; Catoni interval at the exact "
                                                   "variance of one sample", kappa=kappa, nu=nu, interval="catoni",
                                                   intervals=per_level)
                else:  # N = 1 (nothing interferes: every sample and the exact value are 0) or too few trials
                    out[conv] = SNRResult.measured(mean_interval(s, alpha), exact, "plain", note, kappa=kappa, nu=nu)
        return out

    def _probe_averaged(self, ts, n_pairs, d_k, d_v, alpha, bounded):
        """Catoni's interval at the exact variance of one probe's ratio, a bound on the variance of a trial's mean
        over its N probes (module doc); a t interval where that variance is infinite or nothing interferes."""
        exact = self.exact("probe_averaged", n_pairs, d_k, d_v)
        if not bounded:
            note = "" if (d_k > 4 and d_v > 4) else (
                "variance infinite for d_k <= 4 or d_v <= 4: the t-interval is NOT calibrated here")
            return SNRResult.measured(mean_interval(ts.ratio, alpha), exact, "plain", note)
        var = km.plain_relvar("linear", "probe_averaged", n_pairs, d_k, d_v)[0] * exact**2
        est, per_level = catoni.as_estimate(ts.ratio, var, alpha)
        return SNRResult.measured(est, exact, "plain", "Catoni interval at the exact variance of one probe's ratio, "
                                  "a bound on the variance of a trial's mean over its N probes",
                                  interval="catoni", intervals=per_level)

    def _ratio_of_expectations(self, ts, n_pairs, d_k, d_v, alpha, bounded):
        """Catoni's intervals for the means of numerator and denominator (alpha/2 each) at the exact variances of a
        trial's means over its N probes (``trial_mean_moments``), and the ratio of their ends (module doc)."""
        from impl.estimators.snr_kernel import catoni_ratio_estimate

        exact = self.exact("ratio_of_expectations", n_pairs, d_k, d_v)
        if not bounded:
            return SNRResult.measured(ratio_interval(ts.noise, ts.signal, alpha), exact, "plain")
        ex, vx, vy = trial_mean_moments(n_pairs, d_k, d_v)
        est, per_level = catoni_ratio_estimate(ts.noise, ts.signal, 0.0, (vx / ex**2, vy / (exact * ex) ** 2,
                                                                          math.log(ex)), exact, alpha)
        return SNRResult.measured(est, exact, "plain", "Catoni intervals for E||r||^2 and E[c^2 ||v||^2] at the exact "
                                  "variances of a trial's means over its N probes, alpha/2 each, and the ratio of "
                                  "their ends", interval="catoni", intervals=per_level)

    def summary(self, results, n_pairs, d_k, d_v):
        extra = {"paper_asymptote": {"formula": "N/d_k", "value": n_pairs / d_k}, "cos_proxy": None}
        c = results.extra.get("cos")
        if c is not None:
            extra["cos_proxy"] = {"estimate": c.value, "lo": c.lo, "hi": c.hi, "level": c.level, "n": c.n,
                                  "proxy": 1 / math.sqrt(1 + self.exact("typical", n_pairs, d_k, d_v)),
                                  "note": "mean over probes of cos(o_i, v_i) against 1/sqrt(1 + SNR^-1), typical "
                                          "convention"}
        return extra
