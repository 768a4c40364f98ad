"""The h-head linear memory at fixed total width as an SNR memory (paper §3.1; docs/CLAIMS.md C12).

Keys and values are split into h blocks, head m is a linear memory of its own over the blocks, and the read-out
concatenates the heads (impl.estimators.multihead). At the typical probe (each block rescaled to ||k^(m)||^2 = d/h,
||v^(m)||^2 = d_v/h) every head has the same signal c = d/h, and the concatenated read's SNR^{-1} is the per-head value
(N-1) h/d (typical convention; probe-averaged the per-head value is (N-1) h d_v/((d-2h)(d_v-2h)), theory.ffn.multihead_linear_snr_inv).
"""

from __future__ import annotations

import math

import torch

from impl.estimators import catoni
from impl.estimators.multihead import check_split, multihead_read
from impl.estimators.sampling import batches
from impl.estimators.stats import mean_interval
from impl.memories.memory import Estimates, Memory, SNRResult
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import require_positive_int


def sample_relvar(n_pairs: int, d_k: int, d_v: int, h: int) -> float:
    """Var X / (E X)^2 of one sample X = ||r||^2 / (c^2 nu) at the typical probe. Head m's noise is
    r^(m) = sum_{j>0} v_j^(m) a_j^(m) with a_j^(m) = k_j^(m) . k_0^(m) ~ N(0, d/h) independent over heads and pairs,
    so ||r||^2 = sum_m S_m Q_m with S_m = (d/h) chi^2_{N-1} and Q_m ~ chi^2_{d_v/h} all independent: the sum of h
    i.i.d. terms, each of relative variance (1 + 2/(N-1))(1 + 2h/d_v) - 1, has 1/h of it."""
    return ((1 + 2 / (n_pairs - 1)) * (1 + 2 * h / d_v) - 1) / h


class MultiHeadLinearMemory(Memory):
    """h linear heads of width d_k/h (d_k the total key width): the typical convention, plain sampling, Catoni's
    interval at the exact variance of one sample (``sample_relvar``; below 30 trials, where the bound does not exist, the
    t interval)."""

    name = kind = "multihead_linear"
    conventions = listed = ("typical",)

    def __init__(self, h: int):
        self.h = require_positive_int("h", h)

    def parameters(self):
        return {"h": self.h}

    def label(self):
        return f"{self.h}-head linear"

    def check(self, n_pairs, d_k, d_v, trials, conventions, sampler):
        check_split(d_k, d_v, self.h)

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        return (n_pairs - 1) * self.h / d_k

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        """The probe's key and value blocks (each rescaled to its typical norm), then fresh other pairs per batch."""
        d, h = d_k, self.h
        dev, dt = resolve_device(device), resolve_dtype(dtype)
        gen = generator(seed)
        kb = torch.randn((d,), generator=gen, dtype=torch.float64).reshape(h, d // h)  # blocks as ``split`` cuts them
        vb = torch.randn((d_v,), generator=gen, dtype=torch.float64).reshape(h, d_v // h)
        k0 = (kb * math.sqrt(d / h) / kb.norm(dim=-1, keepdim=True)).reshape(d)  # typical per block
        v0 = (vb * math.sqrt(d_v / h) / vb.norm(dim=-1, keepdim=True)).reshape(d_v)
        c, nu = d / h, float(d_v)
        samples = []
        for t in batches(trials, n_pairs * (d + d_v)):
            K = torch.randn((t, n_pairs, d), generator=gen, dtype=torch.float64)
            V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64)
            K[:, 0], V[:, 0] = k0, v0
            o = multihead_read("linear", K.to(dev, dt), V.to(dev, dt), k0.expand(t, d).to(dev, dt), h).double().cpu()
            r = o - c * v0
            samples.append((r * r).sum(-1) / (c * c * nu))
        x = torch.cat(samples).numpy()
        exact = self.exact("typical", n_pairs, d, d_v)
        note = f"h = {h} linear heads of width {d // h}, typical probe per block"
        if catoni.applicable(x.size, alpha):
            e, per_level = catoni.as_estimate(x, sample_relvar(n_pairs, d, d_v, h) * exact**2, alpha)
            return Estimates(typical=SNRResult.measured(e, exact, "plain", note + "; Catoni interval at the exact "
                                                        "variance of one sample", interval="catoni",
                                                        intervals=per_level))
        return Estimates(typical=SNRResult.measured(mean_interval(x, alpha), exact, "plain", note))
