"""Monte Carlo retrieval SNR of the linear associative memory, in every convention of docs/CLAIMS.md C3.

SNR^{-1} = E_others ||r||^2 / (c^2 ||v_i||^2) with S k_i = c v_i + r (paper Eq. 4). Estimators:

* ``probe_averaged``   E over everything of ||r_i||^2 / (c_i^2 ||v_i||^2). One trial writes a fresh memory of N
  Gaussian pairs and probes all N of them (S = V^T K, O = K S^T: 4 N d_k d_v flops); the trial mean over its N
  probes is one i.i.d. sample; t-interval over trials. Its variance is finite only for d_k > 4 and d_v > 4
  (E[1/chi^2_d^2] needs d > 4); below that the interval is not calibrated and the result says so.
* ``ratio_of_expectations``  E||r||^2 / E[c^2 ||v_i||^2] from the same trials (per-trial means of numerator and
  denominator), delta-method interval for the ratio of means.
* ``conditional``  one probe pair (k_i, v_i) drawn from the seed and held fixed; each trial redraws the other N-1
  pairs, writes the memory (the probe included) and reads o = S k_i; t-interval over trials. Theory:
  (N-1) d_v / (||k_i||^2 ||v_i||^2) at that probe.
* ``typical``  the conditional estimator with the probe rescaled to ||k_i||^2 = d_k, ||v_i||^2 = d_v.

All sampling is seeded (``impl.numerics.device.generator``); reference data is drawn in float64 on the CPU, then cast and
moved (``native=True`` draws on the device, for benchmarks). Statistics are accumulated in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from impl.estimators.sampling import gaussian
from impl.estimators.stats import mean_interval, ratio_interval
from impl.memories import linear as linear_memory
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int

CONVENTIONS = ("conditional", "probe_averaged", "ratio_of_expectations", "typical")


@dataclass
class TrialStats:
    """Per-trial means over all N probes (float64, CPU)."""

    ratio: list = field(default_factory=list)  # mean_i ||r_i||^2 / (c_i^2 ||v_i||^2)
    noise: list = field(default_factory=list)  # mean_i ||r_i||^2
    signal: list = field(default_factory=list)  # mean_i c_i^2 ||v_i||^2
    cos: list = field(default_factory=list)  # mean_i cos(o_i, v_i)


def validate(n_pairs, d_k, d_v, trials, conventions=CONVENTIONS):
    n_pairs = require_positive_int("n_pairs", n_pairs)
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, minimum=2)
    for c in conventions:
        if c not in CONVENTIONS:
            raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {c!r}")
    if "probe_averaged" in conventions and (d_k <= 2 or d_v <= 2):
        raise InputError(
            "d_k" if d_k <= 2 else "d_v",
            "the probe-averaged SNR^{-1} is infinite for d <= 2 (it needs E[1/chi^2_d] = 1/(d-2), finite only for "
            f"d > 2); got d_k = {d_k}, d_v = {d_v}; use another convention",
        )
    return n_pairs, d_k, d_v, trials


def _batch_size(n_pairs, d_k, d_v, budget_elems=2**23):
    return max(1, budget_elems // max(1, n_pairs * (d_k + 2 * d_v)))


def probe_statistics(K, V) -> dict:
    """Write the memories of a batch of trials (Eq. 1) and probe every stored key (Eq. 4): per probe, the ratio
    ||r_i||^2 / (c_i^2 ||v_i||^2), the noise ||r_i||^2, the signal c_i^2 ||v_i||^2 and cos(o_i, v_i)."""
    S = linear_memory.write(K, V)
    O = linear_memory.read(S, K)
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
    done = 0
    bs = _batch_size(n_pairs, d_k, d_v)
    while done < trials:
        b = min(bs, trials - done)
        K = gaussian((b, n_pairs, d_k), gen, device=device, dtype=dtype, native=native)
        V = gaussian((b, n_pairs, d_v), gen, device=device, dtype=dtype, native=native)
        for name, x in probe_statistics(K, V).items():
            getattr(out, name).extend(x.double().mean(-1).cpu().tolist())
        done += b
    return out


def conditional_trials(n_pairs, d_k, d_v, trials, gen, *, typical=False, device="cpu", dtype="float64", native=False):
    """Hold one probe pair fixed and redraw the other N-1 pairs per trial. Returns (samples, kappa, nu, cos)
    with samples_t = ||r||^2 / (c^2 ||v_i||^2), kappa = ||k_i||^2, nu = ||v_i||^2 of the probe as used."""
    k_i = gaussian((d_k,), gen, dtype="float64")
    v_i = gaussian((d_v,), gen, dtype="float64")
    if typical:
        k_i = k_i * math.sqrt(d_k) / k_i.norm()
        v_i = v_i * math.sqrt(d_v) / v_i.norm()
    kappa, nu = float(k_i @ k_i), float(v_i @ v_i)
    device, dtype_t = resolve_device(device), resolve_dtype(dtype)
    k_dev, v_dev = k_i.to(device, dtype_t), v_i.to(device, dtype_t)
    samples, coss = [], []
    bs = _batch_size(n_pairs, d_k, d_v)
    done = 0
    while done < trials:
        b = min(bs, trials - done)
        K = torch.empty((b, n_pairs, d_k), device=device, dtype=dtype_t)
        V = torch.empty((b, n_pairs, d_v), device=device, dtype=dtype_t)
        K[:, 0], V[:, 0] = k_dev, v_dev
        if n_pairs > 1:
            K[:, 1:] = gaussian((b, n_pairs - 1, d_k), gen, device=device, dtype=dtype, native=native)
            V[:, 1:] = gaussian((b, n_pairs - 1, d_v), gen, device=device, dtype=dtype, native=native)
        o = linear_memory.read(linear_memory.write(K, V), k_dev.expand(b, 1, d_k))[:, 0]
        c = (k_dev * k_dev).sum()
        r = o - c * v_dev
        samples.extend(((r * r).sum(-1) / (c * c * (v_dev * v_dev).sum())).double().cpu().tolist())
        coss.extend(((o * v_dev).sum(-1) / (o.norm(dim=-1) * v_dev.norm())).double().cpu().tolist())
        done += b
    return samples, kappa, nu, coss


def theory_value(convention, n_pairs, d_k, d_v, kappa=None, nu=None) -> float:
    """The exact SNR^{-1} (docs/CLAIMS.md C4) — numeric mirror of theory/snr_linear.py, used to print beside estimates.
    (The test suite checks that this mirror equals the SymPy derivation.)"""
    if convention == "conditional":
        return (n_pairs - 1) * d_v / (kappa * nu)
    if convention == "probe_averaged":
        return (n_pairs - 1) * d_v / ((d_k - 2) * (d_v - 2))
    if convention == "ratio_of_expectations":
        return (n_pairs - 1) / (d_k + 2)
    if convention == "typical":
        return (n_pairs - 1) / d_k
    raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


def estimate_linear_snr(n_pairs, d_k, d_v, trials, seed, *, device="cpu", dtype="float64", alpha=1e-6,
                        conventions=CONVENTIONS, native=False) -> dict:
    """Every requested convention's Monte Carlo SNR^{-1} with a level-(1-alpha) interval and the exact value.

    Returns {convention: {"estimate": Estimate, "theory": float, "note": str, ...}} plus "cos" (mean cosine of
    the read-out to its target, all-probe trials) when the all-probe trials ran.
    """
    n_pairs, d_k, d_v, trials = validate(n_pairs, d_k, d_v, trials, conventions)
    gen = generator(seed)
    out: dict = {}
    if "probe_averaged" in conventions or "ratio_of_expectations" in conventions:
        ts = all_probe_trials(n_pairs, d_k, d_v, trials, gen, device=device, dtype=dtype, native=native)
        if "probe_averaged" in conventions:
            note = "" if (d_k > 4 and d_v > 4) else (
                "variance infinite for d_k <= 4 or d_v <= 4: the t-interval is NOT calibrated here")
            out["probe_averaged"] = {"estimate": mean_interval(ts.ratio, alpha),
                                     "theory": theory_value("probe_averaged", n_pairs, d_k, d_v), "note": note}
        if "ratio_of_expectations" in conventions:
            out["ratio_of_expectations"] = {"estimate": ratio_interval(ts.noise, ts.signal, alpha),
                                            "theory": theory_value("ratio_of_expectations", n_pairs, d_k, d_v),
                                            "note": ""}
        out["cos"] = {"estimate": mean_interval(ts.cos, alpha), "note": "mean over probes of cos(o_i, v_i)"}
    for conv, typ in (("conditional", False), ("typical", True)):
        if conv in conventions:
            s, kappa, nu, _ = conditional_trials(n_pairs, d_k, d_v, trials, gen, typical=typ, device=device,
                                                 dtype=dtype, native=native)
            out[conv] = {"estimate": mean_interval(s, alpha),
                         "theory": theory_value(conv, n_pairs, d_k, d_v, kappa, nu),
                         "kappa": kappa, "nu": nu,
                         "note": f"probe with ||k_i||^2 = {kappa:.6g}, ||v_i||^2 = {nu:.6g}"}
    return out


def decoding_accuracy(n_pairs, d_k, d_v, trials, seed, *, device="cpu", dtype="float64") -> tuple[int, int]:
    """Nearest-stored-value decoding: probe every key, decode to argmax_j cos(o_i, v_j); returns
    (correct, total) over ``trials`` independent memories (a binomial count for an exact interval)."""
    n_pairs, d_k, d_v, trials = validate(n_pairs, d_k, d_v, trials, ())
    gen = generator(seed)
    correct = total = 0
    bs = max(1, _batch_size(n_pairs, d_k, d_v) // max(1, n_pairs // 64))
    done = 0
    while done < trials:
        b = min(bs, trials - done)
        K = gaussian((b, n_pairs, d_k), gen, device=device, dtype=dtype)
        V = gaussian((b, n_pairs, d_v), gen, device=device, dtype=dtype)
        O = linear_memory.read(linear_memory.write(K, V), K)
        sims = (O @ V.swapaxes(-1, -2)) / V.norm(dim=-1).unsqueeze(-2)  # cos up to the positive factor 1/||o_i||
        pred = sims.argmax(-1)
        correct += int((pred == torch.arange(n_pairs, device=pred.device)).sum())
        total += b * n_pairs
        done += b
    return correct, total
