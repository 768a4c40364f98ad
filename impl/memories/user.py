"""A researcher's own memory on the SNR interface (``impl.memories.memory``): a feature map phi, a kernel k, or an
update rule with its own write and read. Keys and values are Gaussian, k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}),
as for every memory of the suite; a rule that needs unit keys normalises them itself.

Kernel sums (``FeatureMapMemory``: w(x, y) = phi(x)^T phi(y); ``KernelFunctionMemory``: w(x, y) = k(x, y)) read
o = sum_j w(k_j, q) v_j (C5). Probing pair i, o = c v_i + r with c = w(k_i, k_i) and r = sum_{j != i} w(k_j, k_i) v_j
(paper Eq. 4); the values integrate out in closed form, E_values ||r||^2 = d_v sum_{j != i} w(k_j, k_i)^2, and the
other keys are i.i.d., so every convention of C3 is (N - 1) times a quantity that does not depend on N:

    conditional             (N - 1) (d_v / nu) m2(k_i) / c^2,       m2(x) = E_k w(k, x)^2, nu = ||v_i||^2
    typical                 the same at the probe rescaled to ||k_i||^2 = d_k, nu = d_v
    probe_averaged          (N - 1) d_v / (d_v - 2) E_x[m2(x) / w(x, x)^2]          (E[1/nu] = 1/(d_v - 2))
    ratio_of_expectations   (N - 1) E[w(k, x)^2] / E[w(x, x)^2]

The N-free factor is estimated once (``unit``: per trial one probe and ``inner`` other keys, sample mean of
w^2 / c^2, t-interval; the ratio of expectations by the delta method) and scaled, interval and all, to every N.
A feature map that is linear, phi(x) = L^T x, has the closed forms of a linear memory with key metric M = L L^T:
conditional (N-1)(d_v/nu) x^T M^2 x / (x^T M x)^2, ratio of expectations (N-1) tr M^2 / ((tr M)^2 + 2 tr M^2),
and, when M is a multiple of a rank-r projection, probe-averaged (N-1) d_v / ((r - 2)(d_v - 2)) (the identity map:
C4's linear memory exactly).

An update rule (``RuleMemory``) is a user object with ``write(K, V) -> state`` and ``read(state, Q) -> O`` whose
read is linear in the values, o = sum_j w_j(K, q) v_j (checked by the caller): writing the one-hot values I_N gives
the weights w, and the values again integrate out. Nothing scales with N here, so every N is simulated (write N
pairs, probe every stored key): probe_averaged is the trial mean of d_v / (d_v - 2) sum_{j != i} w_j^2 / w_i^2 over
the stored keys; ratio_of_expectations E[sum_{j != i} w_j^2] / E[w_i^2]; conditional (and typical) hold one probe
pair fixed at a uniformly drawn position and take E_others ||r||^2 / (E_others[c^2] nu) (the Performer memory's
definition where the signal is random too; equal to Eq. 4's for a fixed c).
"""

from __future__ import annotations

import torch

from impl.estimators.sampling import batches, gaussian
from impl.estimators.stats import Estimate, mean_interval, ratio_interval
from impl.memories.memory import Estimates, Memory, SNRResult, typical_probe
from impl.numerics.device import generator

BUDGET = 2**22  # numbers per batch


def scaled(est: Estimate, factor: float) -> Estimate:
    """The estimate of ``factor`` times the quantity (interval and standard error scaled alike; factor > 0)."""
    return Estimate(est.value * factor, est.lo * factor, est.hi * factor, est.level, est.n, est.se * factor, est.dof)


class UserMemory(Memory):
    """Common to the user's memories: probe-averaged needs d_v > 2 (E[1/chi^2_{d_v}]); a label from the path."""

    kind = "user"
    samplers = ("auto", "analytic")
    what = "memory"

    def __init__(self, path: str):
        self.path = path
        self.name = path

    def label(self):
        return f"{self.what} {self.path}"

    def title(self):
        return f"user {self.what} {self.path}"

    def divergence(self, convention, d_k, d_v):
        if convention == "probe_averaged" and d_v <= 2:
            return "d_v > 2 (E[1/chi^2_{d_v}] = 1/(d_v - 2) is finite only for d_v > 2)"
        return ""


class KernelSumMemory(UserMemory):
    """o = sum_j w(k_j, q) v_j for a user's w (module doc). Subclasses give ``pair(X, Y)`` (w of matching rows) and
    ``weights(Q, K)`` ([..., M, N]: w(k_j, q_m))."""

    inner = 64  # other keys per trial
    min_pairs = 2
    width = 1  # numbers per key beyond its d_k that a weight evaluation holds (a feature map's F)

    def __init__(self, path: str):
        super().__init__(path)
        self._unit_cache: dict = {}

    def pair(self, X, Y):
        raise NotImplementedError

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None, probe=None):
        return None

    def weights(self, Q, K):
        raise NotImplementedError

    def read(self, K, V, Q):
        """The memory read o = sum_j w(k_j, q) v_j for each row of Q: [..., M, d_v]."""
        return self.weights(Q, K) @ V

    def unit(self, d_k, d_v, trials, seed, conventions, alpha) -> dict:
        """{convention: (Estimate of the N-free factor, details)}: SNR^{-1} = (N - 1) times it (module doc)."""
        key = (d_k, d_v, trials, seed, tuple(conventions), alpha)
        if key not in self._unit_cache:
            self._unit_cache[key] = self._unit(d_k, d_v, trials, seed, conventions, alpha)
        return self._unit_cache[key]

    def _unit(self, d_k, d_v, trials, seed, conventions, alpha):
        gen = generator(seed)
        k0, v0 = gaussian((d_k,), gen), gaussian((d_v,), gen)
        b = self.inner
        out = {}
        if "probe_averaged" in conventions or "ratio_of_expectations" in conventions:
            per, num, den = [], [], []
            for t in batches(trials, (b + 1) * (d_k + self.width), BUDGET):
                P = gaussian((t, 1, d_k), gen)
                K = gaussian((t, b, d_k), gen)
                c2 = self.pair(P[:, 0], P[:, 0]).double() ** 2
                m2 = (self.pair(K, P).double() ** 2).mean(-1)
                per.append(m2 / c2)
                num.append(m2)
                den.append(c2)
            per, num, den = torch.cat(per), torch.cat(num), torch.cat(den)
            zero = int((den == 0).sum())
            if "probe_averaged" in conventions:
                out["probe_averaged"] = (None, {"note": _no_signal(zero, trials)}) if zero else (
                    scaled(mean_interval(per.numpy(), alpha), d_v / (d_v - 2)), {})
            if "ratio_of_expectations" in conventions:
                out["ratio_of_expectations"] = (ratio_interval(num.numpy(), den.numpy(), alpha), {})
        for conv in ("conditional", "typical"):
            if conv not in conventions:
                continue
            k, v = (k0, v0) if conv == "conditional" else typical_probe(k0, v0)
            kappa, nu = float(k @ k), float(v @ v)
            c = float(self.pair(k, k))
            if c == 0:
                out[conv] = (None, {"note": _no_signal(1, 1), "probe_kappa": kappa, "probe_nu": nu})
                continue
            m2 = []
            for t in batches(trials, b * (d_k + self.width), BUDGET):
                K = gaussian((t, b, d_k), gen)
                m2.append((self.pair(K, k.expand_as(K)).double() ** 2).mean(-1))
            est = scaled(mean_interval(torch.cat(m2).numpy(), alpha), d_v / (nu * c * c))
            out[conv] = (est, {"probe_kappa": kappa, "probe_nu": nu})
        return out

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        out = Estimates()
        for conv, (est, details) in self.unit(d_k, d_v, trials, seed, conventions, alpha).items():
            if est is None:
                out[conv] = SNRResult(method="none", note=details["note"])
                continue
            exact = self.exact(conv, n_pairs, d_k, d_v, details.get("probe_kappa"), details.get("probe_nu"),
                               probe=details.get("probe"))
            out[conv] = SNRResult.measured(
                scaled(est, n_pairs - 1), exact, "analytic",
                f"values integrated in closed form, {self.inner} other keys per trial; (N - 1) x one estimate",
                **details)
        return out

    def probe_factors(self, d_k, seed, probes=2048, pool=4096) -> torch.Tensor:
        """g(x) = m2(x) / w(x, x)^2 at ``probes`` Gaussian probes, m2 averaged over one shared pool of ``pool``
        Gaussian keys: the per-probe factor of the conditional SNR^{-1} = (N - 1)(d_v / nu) g (for C10's
        probe-averaged recall prediction)."""
        gen = generator(seed + 1)
        X = gaussian((probes, d_k), gen)
        pool_k = gaussian((pool, d_k), gen)
        out = []
        for start in range(0, probes, 32):
            x = X[start:start + 32]
            w = self.weights(x, pool_k).double()  # [p, pool]
            c = self.pair(x, x).double()
            out.append(_ratio((w * w).mean(-1), c * c))
        return torch.cat(out)


class FeatureMapMemory(KernelSumMemory):
    """w(x, y) = phi(x)^T phi(y) for a user's feature map phi: [..., d_k] -> [..., F]; S = sum_j v_j phi(k_j)^T,
    o = S phi(q) (C5). Exact values when phi is linear (module doc; ``linear_metric``)."""

    what = "feature map"

    def __init__(self, path: str, phi, d_k: int):
        super().__init__(path)
        self.phi = phi
        self.metric = linear_metric(phi, d_k)
        self.width = int(phi(torch.zeros((1, d_k), dtype=torch.float64)).shape[-1])

    def pair(self, X, Y):
        return (self.phi(X) * self.phi(Y)).sum(-1)

    def probe_factors(self, d_k, seed, probes=2048, pool=4096) -> torch.Tensor:
        """Exact per-probe factors g(x) = x^T M^2 x / (x^T M x)^2 for a linear map; estimated otherwise (the
        pool's features computed once)."""
        gen = generator(seed + 1)
        X = gaussian((probes, d_k), gen)
        if self.metric is None:
            pool_f = self.phi(gaussian((pool, d_k), gen))
            out = []
            for start in range(0, probes, 32):
                fx = self.phi(X[start:start + 32])
                w = (fx @ pool_f.T).double()
                out.append(_ratio((w * w).mean(-1), (fx * fx).sum(-1).double() ** 2))
            return torch.cat(out)
        XM = X @ self.metric
        return (XM * XM).sum(-1) / (XM * X).sum(-1) ** 2

    def weights(self, Q, K):
        return self.phi(Q) @ self.phi(K).transpose(-1, -2)

    def read(self, K, V, Q):
        S = V.transpose(-1, -2) @ self.phi(K)  # S = sum_j v_j phi(k_j)^T
        return self.phi(Q) @ S.transpose(-1, -2)

    def divergence(self, convention, d_k, d_v):
        why = super().divergence(convention, d_k, d_v)
        if why or convention != "probe_averaged" or self.metric is None:
            return why
        r = projection_rank(self.metric)
        if r is not None and r <= 2:
            return f"a linear map of rank > 2 (E[1/chi^2_r] = 1/(r - 2); this map has rank {r})"
        return ""

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None, probe=None):
        """The linear memory's closed forms with key metric M = L L^T when phi is linear; None otherwise."""
        M = self.metric
        if M is None:
            return None
        if convention in ("conditional", "typical"):
            if probe is None:
                return None
            x = torch.as_tensor(probe, dtype=torch.float64)
            return (n_pairs - 1) * d_v / nu * float(x @ M @ M @ x) / float(x @ M @ x) ** 2
        if convention == "ratio_of_expectations":
            t1, t2 = float(torch.trace(M)), float(torch.trace(M @ M))
            return (n_pairs - 1) * t2 / (t1 * t1 + 2 * t2)
        r = projection_rank(M)
        if convention == "probe_averaged" and r is not None and r > 2:
            return (n_pairs - 1) * d_v / ((r - 2) * (d_v - 2))
        return None

    def _unit(self, d_k, d_v, trials, seed, conventions, alpha):
        out = super()._unit(d_k, d_v, trials, seed, conventions, alpha)
        gen = generator(seed)  # the probe as drawn first by the base class, for the exact value at it
        k0, v0 = gaussian((d_k,), gen), gaussian((d_v,), gen)
        for conv in ("conditional", "typical"):
            if conv in out:
                k = k0 if conv == "conditional" else typical_probe(k0, v0)[0]
                out[conv][1]["probe"] = k.tolist()
        return out


class KernelFunctionMemory(KernelSumMemory):
    """w(x, y) = k(x, y) for a user's kernel k(x [..., d_k], y [..., d_k]) -> [...] (broadcasting, symmetric,
    k(x, x) > 0); o = sum_j k(k_j, q) v_j (C5). Estimated only (no closed form is derived for an arbitrary k)."""

    what = "kernel"

    def __init__(self, path: str, k):
        super().__init__(path)
        self.k = k

    def pair(self, X, Y):
        return self.k(X, Y)

    def weights(self, Q, K):
        return self.k(Q.unsqueeze(-2), K.unsqueeze(-3))


class RuleMemory(UserMemory):
    """A user's update rule with ``write(K, V) -> state`` and ``read(state, Q) -> O``, read linear in the values
    (module doc); every N simulated, values integrated out through the weights w = read(write(K, I_N), q)."""

    what = "memory"
    min_pairs = 2

    def __init__(self, path: str, rule):
        super().__init__(path)
        self.rule = rule
        self.positions: dict = {}  # n_pairs -> (E[sum_{j != p} w_j^2], E[w_p^2]) per position p, from the last run

    def read(self, K, V, Q):
        return self.rule.read(self.rule.write(K, V), Q)

    def weights(self, K, Q):
        """w[..., m, j]: the weight of stored pair j in the read at query m (one-hot values)."""
        n = K.shape[-2]
        eye = torch.eye(n, dtype=K.dtype).expand(*K.shape[:-1], n)
        return self.rule.read(self.rule.write(K, eye), Q)

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        gen = generator(seed)
        k0, v0 = gaussian((d_k,), gen), gaussian((d_v,), gen)
        out = Estimates()
        per_trial = n_pairs * (d_k + 2 * n_pairs)
        if "probe_averaged" in conventions or "ratio_of_expectations" in conventions:
            per, num, den, pnum, pden = [], [], [], 0, 0
            for t in batches(trials, per_trial, BUDGET):
                K = gaussian((t, n_pairs, d_k), gen)
                W = self.weights(K, K).double()  # [t, N, N], row i = probe i
                c2 = torch.diagonal(W, dim1=-2, dim2=-1) ** 2
                off = (W * W).sum(-1) - c2
                per.append((off / c2).mean(-1))
                num.append(off.mean(-1))
                den.append(c2.mean(-1))
                pnum, pden = pnum + off.sum(0), pden + c2.sum(0)
            per, num, den = torch.cat(per), torch.cat(num), torch.cat(den)
            self.positions[n_pairs] = (pnum / trials, pden / trials)
            if "probe_averaged" in conventions:
                out["probe_averaged"] = SNRResult.measured(
                    scaled(mean_interval(per.numpy(), alpha), d_v / (d_v - 2)), None, "analytic",
                    "values integrated in closed form; every stored key probed")
            if "ratio_of_expectations" in conventions:
                out["ratio_of_expectations"] = SNRResult.measured(
                    ratio_interval(num.numpy(), den.numpy(), alpha), None, "analytic",
                    "values integrated in closed form; every stored key probed")
        for conv in ("conditional", "typical"):
            if conv not in conventions:
                continue
            k, v = (k0, v0) if conv == "conditional" else typical_probe(k0, v0)
            kappa, nu = float(k @ k), float(v @ v)
            num, den = [], []
            for t in batches(trials, per_trial, BUDGET):
                K = gaussian((t, n_pairs, d_k), gen)
                pos = torch.randint(0, n_pairs, (t,), generator=gen)
                rows = torch.arange(t)
                K[rows, pos] = k
                w = self.weights(K, k.expand(t, 1, d_k)).double()[:, 0]  # [t, N]
                c2 = w[rows, pos] ** 2
                num.append((w * w).sum(-1) - c2)
                den.append(c2)
            est = scaled(ratio_interval(torch.cat(num).numpy(), torch.cat(den).numpy(), alpha), d_v / nu)
            out[conv] = SNRResult.measured(est, None, "analytic",
                                           "values integrated in closed form; the probe at a uniformly drawn "
                                           "position; E||r||^2 / (E[c^2] ||v_i||^2)", probe_kappa=kappa, probe_nu=nu)
        return out


def _ratio(m2, c2):
    """m2 / c2, infinite where the signal c2 is 0 (whatever m2 is)."""
    return torch.where(c2 > 0, m2 / torch.where(c2 > 0, c2, 1.0), torch.inf)


def _no_signal(zero: int, of: int) -> str:
    return (f"infinite (not estimated): w(k_i, k_i) = 0 at {zero} of {of} probes drawn: a stored key with no signal "
            "(its recall is chance, 1/N)")


def linear_metric(phi, d_k: int) -> torch.Tensor | None:
    """M = L L^T when phi(x) = L^T x for every x (checked at 8 Gaussian points to float64 round-off), else None."""
    eye = torch.eye(d_k, dtype=torch.float64)
    L = phi(eye).double()  # row i: phi(e_i)
    X = gaussian((8, d_k), generator(12345))
    got, want = phi(X).double(), X @ L
    scale = float(X.abs().sum(-1).max() * L.abs().max()) or 1.0
    if float((got - want).abs().max()) > 64 * d_k * torch.finfo(torch.float64).eps * scale:
        return None
    return L @ L.T


def projection_rank(M: torch.Tensor) -> int | None:
    """r when M = s P for a rank-r orthogonal projection P (its nonzero eigenvalues equal), else None."""
    ev = torch.linalg.eigvalsh(M)
    top = float(ev.max())
    if top <= 0:
        return None
    tol = 1e-10 * top * M.shape[0]
    nonzero = ev[ev.abs() > tol]
    if float(nonzero.max() - nonzero.min()) > tol:
        return None
    return int(nonzero.numel())
