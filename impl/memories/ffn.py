"""The FFN as an associative memory (paper §2.1.2; docs/CLAIMS.md C11), constructed and trained.

    FFN(x) = W_down s(W_up x) = sum_j v_j s(beta k_j^T x)

Constructed: W_up = beta K (one row per stored key), W_down = V^T; probing with x = k_i gives
o = s(beta ||k_i||^2) v_i + r, r = sum_{j != i} v_j s(beta k_j^T k_i) (C2/C6 with kappa(k, x) = s(beta k^T x)).
GLU: o = W_down (s(W_gate x) * (W_up x)) with W_gate = W_up = beta K (product kernel s(z) z).
Top-1 MoE: E experts; each stored pair lives in one expert; the probe is routed to one expert and only that
expert's slots answer. Routing "hash": pairs split evenly by index (exact routing); "router": expert =
argmax_e (R k)_e for a Gaussian router R [E, d_k] (keys in one expert are correlated).

Its SNR interface is ``FFNMemory(activation, beta=None, glu=False, experts=1, routing="hash")``, estimated by
``impl.estimators.snr.estimate_snr`` in the conditional and typical conventions (ACTIVATIONS names the activations).

SoLU (x * softmax(x) over the hidden units, Elhage et al. 2022) is not elementwise: its memory, estimator and
theory are in ``impl.memories.solu``; ``FFNMemory("solu")`` reads that memory (no GLU; with hash-routed experts, the
probe's expert is a SoLU memory of N/E pairs).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from scipy import integrate, special

from impl.estimators import catoni
from impl.estimators.sampling import batches
from impl.estimators.stats import mean_interval
from impl.memories.memory import Estimates, Memory, SNRResult, typical_probe
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int

ACTIVATIONS = ("relu", "relu2", "gelu", "silu", "exp", "linear", "solu")
FFN_CONVENTIONS = ("conditional", "typical")


def activation(name: str, x):
    """s(x) in torch."""
    if name == "relu":
        return torch.relu(x)
    if name == "relu2":
        return torch.relu(x) ** 2
    if name == "gelu":
        return torch.nn.functional.gelu(x)  # exact erf form: x Phi(x)
    if name == "silu":
        return torch.nn.functional.silu(x)
    if name == "exp":
        return torch.exp(x)
    if name == "linear":
        return x
    if name == "solu":  # over the hidden units (the last axis)
        from impl.memories.solu import solu

        return solu(x)
    raise InputError("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {name!r}")


def _act_np(name, x):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "relu2":
        return np.maximum(x, 0) ** 2
    if name == "gelu":
        return x * special.ndtr(x)
    if name == "silu":
        return x * special.expit(x)
    if name == "exp":
        return np.exp(x)
    if name == "solu":  # the unnormalised slot kernel z e^z (the softmax normaliser cancels in the SNR)
        return x * np.exp(x)
    return x


def second_moment(name: str, var: float, glu: bool = False) -> float:
    """E[s(Z)^2] (GLU: E[s(Z)^2 Z^2]), Z ~ N(0, var): closed form where one exists, else adaptive quadrature
    (scipy.integrate.quad on the Gaussian-weighted integrand, in units of the standard deviation)."""
    if name not in ACTIVATIONS:
        raise InputError("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    closed = {
        (False, "relu"): lambda: var / 2, (False, "relu2"): lambda: 1.5 * var**2, (False, "exp"): lambda: math.exp(2 * var),
        (False, "linear"): lambda: var, (True, "relu"): lambda: 1.5 * var**2, (True, "linear"): lambda: 3 * var**2,
        (True, "exp"): lambda: var * (1 + 4 * var) * math.exp(2 * var),
        (False, "solu"): lambda: var * (1 + 4 * var) * math.exp(2 * var),
    }
    if (glu, name) in closed:
        return closed[(glu, name)]()
    sd = math.sqrt(var)

    def f(u):
        x = sd * u
        return _act_np(name, x) ** 2 * (x * x if glu else 1.0) * math.exp(-u * u / 2) / math.sqrt(2 * math.pi)

    val, _ = integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    return val


def fourth_moment(name: str, var: float, glu: bool = False) -> float:
    """E[s(Z)^4] (GLU: E[s(Z)^4 Z^4]), Z ~ N(0, var): what the variance of one Monte Carlo sample needs
    (``sample_relvar``). Closed forms for the ReLU family and exp (half of the Gaussian's 2m-th moment
    (2m - 1)!! var^m; E e^{4Z} = e^{8 var}; E Z^4 e^{4Z} = e^{8 var} E Y^4, Y ~ N(4 var, var), by the exponential
    tilt), else adaptive quadrature as in ``second_moment``."""
    if name not in ACTIVATIONS or name == "solu":
        raise InputError("activation", f"must be one of {', '.join(a for a in ACTIVATIONS if a != 'solu')}, got {name!r}")
    closed = {
        (False, "relu"): lambda: 1.5 * var**2, (False, "relu2"): lambda: 52.5 * var**4,
        (False, "exp"): lambda: math.exp(8 * var), (False, "linear"): lambda: 3 * var**2,
        (True, "exp"): lambda: math.exp(8 * var) * var**2 * (3 + 96 * var + 256 * var**2),
        (True, "relu"): lambda: 52.5 * var**4, (True, "linear"): lambda: 105 * var**4,
    }
    if (glu, name) in closed:
        return closed[(glu, name)]()
    sd = math.sqrt(var)

    def f(u):
        x = sd * u
        return _act_np(name, x) ** 4 * (x**4 if glu else 1.0) * math.exp(-u * u / 2) / math.sqrt(2 * math.pi)

    val, _ = integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    return val


def sample_relvar(name: str, n_interfering: int, d_v: int, var: float, glu: bool = False) -> float:
    """Var X / (E X)^2 for one sample X = ||r||^2 / (s(beta kappa)^2 nu) at a fixed probe. Given the interfering
    keys, r = sum_j w_j v_j ~ N(0, (sum_j w_j^2) I_{d_v}) with w_j = s(Z_j) i.i.d. (Z_j = beta k_j^T x ~
    N(0, var), var = beta^2 kappa), so X = (sum_j w_j^2) chi^2_{d_v} / (c^2 nu) and, with m2 = E s(Z)^2 and
    m4 = E s(Z)^4 (GLU: times Z^2, Z^4),

        E X^2 / (E X)^2 = (m4 / (n m2^2) + (n - 1)/n) (1 + 2/d_v),   n = n_interfering.
    """
    n = n_interfering
    m2, m4 = second_moment(name, var, glu), fourth_moment(name, var, glu)
    return (m4 / (n * m2 * m2) + (n - 1) / n) * (1 + 2 / d_v) - 1


def ffn_theory(name: str, n_interfering: int, d_v: int, kappa: float, nu: float, beta: float, glu: bool = False) -> float:
    """(n_interfering) (d_v/nu) E[s(Z)^2] / s(beta kappa)^2 with Z ~ N(0, beta^2 kappa) (C6 for the FFN)."""
    x = beta * kappa
    sig = float(_act_np(name, np.array(x))) * (x if glu else 1.0)
    return n_interfering * (d_v / nu) * second_moment(name, beta**2 * kappa, glu) / sig**2


def construct(K, V, beta: float):
    """Write pairs into an FFN: W_up = beta K [N, d_k], W_down = V^T [d_v, N]."""
    return beta * K, V.transpose(-1, -2)


def ffn_forward(W_up, W_down, X, name: str, glu: bool = False, W_gate=None):
    """FFN(x) = W_down s(W_up x) (GLU: W_down (s(W_gate x) * (W_up x))) for rows x of X [..., M, d_k]."""
    pre = X @ W_up.transpose(-1, -2)
    hidden = activation(name, (X @ W_gate.transpose(-1, -2)) if glu else pre) * (pre if glu else 1)
    return hidden @ W_down.transpose(-1, -2)


# ------------------------------------------------------------------------------------------------------------------
# Trained FFN memories (tiny, CPU, seconds)
# ------------------------------------------------------------------------------------------------------------------


def train_ffn_memory(n_pairs: int, d_k: int, d_v: int, d_ff: int, activation_name: str, seed: int, *, glu: bool = False,
                     steps: int = 400, lr: float = 1e-2):
    """Teach a one-hidden-layer FFN (no biases) to map N random Gaussian keys to N random Gaussian values by full-batch
    Adam on the mean squared error; return the fraction of keys whose output's nearest stored value (cosine) is
    their own value, and the final loss."""
    if activation_name not in ACTIVATIONS:
        raise InputError("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {activation_name!r}")
    d_ff = require_positive_int("d_ff", d_ff)
    gen = generator(seed)
    K = torch.randn((n_pairs, d_k), generator=gen, dtype=torch.float64)
    V = torch.randn((n_pairs, d_v), generator=gen, dtype=torch.float64)
    W_up = (torch.randn((d_ff, d_k), generator=gen, dtype=torch.float64) / math.sqrt(d_k)).requires_grad_()
    W_gate = (torch.randn((d_ff, d_k), generator=gen, dtype=torch.float64) / math.sqrt(d_k)).requires_grad_()
    W_down = (torch.randn((d_v, d_ff), generator=gen, dtype=torch.float64) / math.sqrt(d_ff)).requires_grad_()
    params = [W_up, W_down] + ([W_gate] if glu else [])
    opt = torch.optim.Adam(params, lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread avoids OpenMP spin-wait stalls on a busy machine
    try:
        for _ in range(steps):
            opt.zero_grad()
            loss = ((ffn_forward(W_up, W_down, K, activation_name, glu, W_gate) - V) ** 2).mean()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        out = ffn_forward(W_up, W_down, K, activation_name, glu, W_gate)
        cos = torch.nn.functional.normalize(out, dim=-1) @ torch.nn.functional.normalize(V, dim=-1).T
        acc = float((cos.argmax(-1) == torch.arange(n_pairs)).double().mean())
    return acc, float(loss.detach())


# ------------------------------------------------------------------------------------------------------------------
# The SNR interface
# ------------------------------------------------------------------------------------------------------------------


class FFNMemory(Memory):
    """The constructed FFN memory (W_up = beta K, W_down = V^T; GLU, top-1 MoE optional) with activation s, probed
    at a stored key with a fixed probe and fresh other pairs per trial: the conditional and typical conventions, exact
    value (N-1)(d_v/nu) E[s(Z)^2] / s(beta kappa)^2 (C6 for the FFN; None for routing "router": no closed form).
    beta defaults to 1/sqrt(d_k). Both conventions are always drawn (conditional first), so either one alone has
    the same numbers. SoLU is read through ``impl.memories.solu`` (no GLU; hash-routed experts: the probe's expert
    is a SoLU memory of N/E pairs)."""

    kind = "ffn"
    conventions = listed = FFN_CONVENTIONS

    def __init__(self, activation_name: str, *, beta=None, glu: bool = False, experts: int = 1, routing: str = "hash"):
        if activation_name not in ACTIVATIONS:
            raise InputError("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {activation_name!r}")
        experts = require_positive_int("experts", experts)
        if routing not in ("hash", "router"):
            raise InputError("routing", f"must be 'hash' or 'router', got {routing!r}")
        if beta is not None and not (isinstance(beta, (int, float)) and not isinstance(beta, bool)
                                     and math.isfinite(beta) and beta > 0):
            raise InputError("beta", f"the key scale must be a finite number > 0, got {beta!r}")
        if activation_name == "solu" and glu:
            raise InputError("glu", "SoLU is not gated here (glu must be False with activation solu)")
        if activation_name == "solu" and routing != "hash":
            raise InputError("routing", "SoLU memories support exact (hash) routing only")
        self.name, self.beta, self.glu, self.experts, self.routing = activation_name, beta, glu, experts, routing

    def parameters(self):
        return {"activation": self.name}

    def label(self):
        return f"FFN ({self.name})"

    def title(self):
        return f"FFN memory, activation {self.name}"

    def _beta(self, d_k):
        return 1 / math.sqrt(d_k) if self.beta is None else self.beta

    def _interfering(self, n_pairs):
        return n_pairs // self.experts - 1 if self.routing == "hash" else n_pairs - 1

    def check(self, n_pairs, d_k, d_v, trials, conventions, sampler):
        if self.routing == "hash" and n_pairs % self.experts:
            raise InputError("experts", f"hash routing splits the N = {n_pairs} pairs evenly: E must divide N")
        if self.name == "solu" and n_pairs // self.experts < 2:
            raise InputError("experts", f"each expert needs at least 2 pairs: N/E = {n_pairs // self.experts}")

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        if self.routing == "router":
            return None
        if kappa is None:
            kappa, nu = float(d_k), float(d_v)
        return ffn_theory(self.name, self._interfering(n_pairs), d_v, kappa, nu, self._beta(d_k), self.glu)

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        if self.name == "solu":
            return self._solu(n_pairs, d_k, d_v, trials, seed, alpha, device, dtype)
        name, glu, beta = self.name, self.glu, self._beta(d_k)
        dev, dt = resolve_device(device), resolve_dtype(dtype)
        gen = generator(seed)
        pk = torch.randn(d_k, generator=gen, dtype=torch.float64)
        pv = torch.randn(d_v, generator=gen, dtype=torch.float64)
        R = torch.randn((self.experts, d_k), generator=gen, dtype=torch.float64) if self.routing == "router" else None
        note = (f"plain: constructed FFN (W_up = beta K, W_down = V^T, beta = {beta:.4g}{', GLU' if glu else ''}"
                f"{f', top-1 MoE E={self.experts} routing {self.routing}' if self.experts > 1 else ''}), fixed probe")
        n_int = self._interfering(n_pairs)
        out = Estimates()
        for conv in FFN_CONVENTIONS:
            k0, v0 = (pk, pv) if conv == "conditional" else typical_probe(pk, pv)
            kappa, nu = float(k0 @ k0), float(v0 @ v0)
            samples = []
            for t in batches(trials, n_pairs * (d_k + d_v)):
                K = torch.randn((t, n_int, d_k), generator=gen, dtype=torch.float64)
                V = torch.randn((t, n_int, d_v), generator=gen, dtype=torch.float64)
                mask = None
                if R is not None:  # only keys routed to the probe's expert answer
                    mask = ((K @ R.T).argmax(-1) == int((R @ k0).argmax())).to(torch.float64)
                K, V, x = K.to(dev, dt), V.to(dev, dt), k0.to(dev, dt)
                pre = beta * (K @ x)  # [t, n]
                w = activation(name, pre) * (pre if glu else 1)
                if mask is not None:
                    w = w * mask.to(dev, dt)
                r = (w[:, None, :] @ V)[:, 0]
                c = activation(name, torch.tensor(beta * kappa, dtype=dt, device=dev)) * (beta * kappa if glu else 1)
                samples.append(((r * r).sum(-1) / (c * c * nu)).to("cpu", torch.float64).numpy())
            x = np.concatenate(samples)
            exact = self.exact(conv, n_pairs, d_k, d_v, kappa, nu)
            if exact and catoni.applicable(x.size, alpha):  # one sample has an exact variance: Catoni's interval
                var = sample_relvar(name, n_int, d_v, beta**2 * kappa, glu) * exact**2
                est, per_level = catoni.as_estimate(x, var, alpha)
                out[conv] = SNRResult.measured(est, exact, "plain", note + "; Catoni interval at the exact variance "
                                               "of one sample", probe_kappa=kappa, probe_nu=nu, beta=beta,
                                               interval="catoni", intervals=per_level)
            else:  # a random router (no exact value), N/E = 1 (nothing interferes: every sample is 0), few trials
                out[conv] = SNRResult.measured(mean_interval(x, alpha), exact, "plain", note, probe_kappa=kappa,
                                               probe_nu=nu, beta=beta)
        return out

    def _solu(self, n_pairs, d_k, d_v, trials, seed, alpha, device, dtype):
        """The SoLU layer (impl.memories.solu) on the probe's expert of N/E pairs."""
        from impl.memories.solu import SoLUMemory

        out = SoLUMemory(beta=self.beta).sample(n_pairs // self.experts, d_k, d_v, trials, seed, FFN_CONVENTIONS,
                                                sampler="plain", alpha=alpha, device=device, dtype=dtype, native=False)
        if self.experts > 1:
            moe = (f"; top-1 MoE E={self.experts}, hash routing: the probe's expert holds N/E = "
                   f"{n_pairs // self.experts} pairs")
            out = Estimates({c: replace(r, note=r.note + moe) for c, r in out.items()})
        return out
