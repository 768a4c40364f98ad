"""The FFN as an associative memory (paper §2.1.2, "Vignette 1"; docs/CLAIMS.md C11, C12), derived step by step.

FFN(x) = W_down s(W_up x) = sum_j v_j s(beta k_j^T x): the rows of W_up are keys (scaled by beta), the columns of
W_down values, one slot per stored pair, and the activation s plays the kernel kappa(k, x) = s(beta k^T x).
Probing with x = k_i (||k_i||^2 = kappa), the pre-activation of another slot is Z = beta k_j^T k_i ~ N(0, sigma2)
with sigma2 = beta^2 kappa, and the signal is s(beta kappa). By C6 (conditional convention):

    SNR^{-1} = (N - 1) (d_v / nu) E[s(Z)^2] / s(beta kappa)^2.

Second moments E[s(Z)^2], Z ~ N(0, sigma2):
    relu      sigma2 / 2                     squared relu (relu^2)   3 sigma2^2 / 2
    exp       e^{2 sigma2}                   linear                  sigma2
    gelu      z Phi(z), silu  z sigmoid(z):  no closed form used here; a SymPy numerical integral (``second_moment_integral``)
GLU (gate and up rows both the key): kappa(k, x) = s(z) z with z = beta k^T x, second moment E[s(Z)^2 Z^2]
(relu: 3 sigma2^2/2, the squared-ReLU value). Top-1 MoE with E experts of N/E slots each and exact (hash)
routing: only the N/E - 1 slots of the probe's own expert interfere, so SNR^{-1} is multiplied by (N/E - 1)/(N - 1).
Multi-head (C12): splitting d_k into h heads of d_k/h, each head a memory of its own, gives per-head typical
SNR^{-1} (N-1) h/d_k (linear) and (N-1) e^{-d_k/(2h)} (exp, tau = 2).
"""

from __future__ import annotations

import sympy as sp

from theory.moments import gaussian_mgf, wick
from theory.snr_linear import N, d_k, d_v, kappa, nu

sigma2 = sp.Symbol("sigma2", positive=True)
beta = sp.Symbol("beta", positive=True)
E_exp = sp.Symbol("E", positive=True, integer=True)
h = sp.Symbol("h", positive=True, integer=True)
z = sp.Symbol("z", real=True)

ACTIVATIONS = ("relu", "relu2", "gelu", "silu", "exp", "linear")
CLOSED = ("relu", "relu2", "exp", "linear")


def activation(name: str, x):
    """s(x) as a SymPy expression."""
    forms = {
        "relu": sp.Max(0, x), "relu2": sp.Max(0, x) ** 2, "exp": sp.exp(x), "linear": x,
        "gelu": x * (1 + sp.erf(x / sp.sqrt(2))) / 2, "silu": x / (1 + sp.exp(-x)),
    }
    if name not in forms:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
    return forms[name]


def _gauss_density(var):
    return sp.exp(-z**2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def second_moment(name: str, glu: bool = False) -> sp.Expr:
    """E[s(Z)^2] (or E[s(Z)^2 Z^2] for GLU), Z ~ N(0, sigma2): closed form for relu/relu2/exp/linear, else the
    numerical integral as an unevaluated sp.Integral (``.evalf()`` evaluates it)."""
    closed = {
        (False, "relu"): sigma2 / 2, (False, "relu2"): 3 * sigma2**2 / 2, (False, "exp"): sp.exp(2 * sigma2),
        (False, "linear"): sigma2, (True, "relu"): 3 * sigma2**2 / 2, (True, "linear"): 3 * sigma2**2,
        (True, "exp"): sigma2 * (1 + 4 * sigma2) * sp.exp(2 * sigma2),
    }
    if (glu, name) in closed:
        return closed[(glu, name)]
    return second_moment_integral(name, glu)


def second_moment_integral(name: str, glu: bool = False, var=sigma2) -> sp.Expr:
    """E[s(Z)^2 (Z^2 if glu)] as the integral int s(z)^2 (z^2) phi_var(z) dz (unevaluated)."""
    integrand = activation(name, z) ** 2 * (z**2 if glu else 1) * _gauss_density(var)
    return sp.Integral(integrand, (z, -sp.oo, sp.oo))


def signal(name: str, glu: bool = False) -> sp.Expr:
    """s(beta kappa) (times beta kappa for GLU)."""
    x = beta * kappa
    return activation(name, x) * (x if glu else 1)


def snr_inv(name: str, convention: str = "conditional", glu: bool = False, experts: int | sp.Expr = 1) -> sp.Expr:
    """Conditional or typical SNR^{-1} of the constructed FFN memory (top-1 MoE with ``experts`` equal experts)."""
    m2 = second_moment(name, glu).subs(sigma2, beta**2 * kappa)
    n_int = N / experts - 1
    e = n_int * (d_v / nu) * m2 / signal(name, glu) ** 2
    if convention == "typical":
        return e.subs({kappa: d_k, nu: d_v})
    if convention != "conditional":
        raise ValueError("FFN theory covers the conditional and typical conventions")
    return e


def derivation_second_moments() -> list:
    """Each closed form from an explicit Gaussian integral, Wick's theorem or the MGF."""
    g = _gauss_density(sigma2)
    half = lambda f: sp.integrate(f * g, (z, 0, sp.oo))  # noqa: E731
    w = sp.sqrt(sigma2)
    return [
        ("relu: int_0^oo z^2 phi = sigma2/2", half(z**2), second_moment("relu")),
        ("relu^2: int_0^oo z^4 phi = 3 sigma2^2/2", half(z**4), second_moment("relu2")),
        ("GLU relu: E[relu(Z)^2 Z^2] = int_0^oo z^4 phi", half(z**4), second_moment("relu", glu=True)),
        ("linear, Wick: E[Z^2] = sigma2", wick([sp.Matrix([w])] * 2), second_moment("linear")),
        ("GLU linear, Wick: E[Z^4] = 3 sigma2^2", wick([sp.Matrix([w])] * 4), second_moment("linear", glu=True)),
        ("exp, MGF: E[e^{2Z}] = e^{2 sigma2}", gaussian_mgf(sp.Matrix([2 * w])), second_moment("exp")),
        ("GLU exp: E[Z^2 e^{2Z}] = d^2/dt^2 E[e^{tZ}] at t = 2",
         sp.diff(gaussian_mgf(sp.Matrix([sp.Symbol('t') * w])), sp.Symbol('t'), 2).subs(sp.Symbol('t'), 2),
         second_moment("exp", glu=True)),
    ]


def derivation_snr() -> list:
    """C6 applied to the FFN: conditional forms, the ReLU FFN equals the ReLU kernel, MoE factor, multi-head."""
    steps = [
        ("relu FFN: (N-1)(d_v/nu)/(2 kappa), independent of beta (positive homogeneity)", snr_inv("relu"),
         (N - 1) * (d_v / nu) / (2 * kappa)),
        ("relu^2 FFN: (N-1)(d_v/nu) 3/(2 kappa^2) (= polynomial p = 2 halved)", snr_inv("relu2"),
         (N - 1) * (d_v / nu) * sp.Rational(3, 2) / kappa**2),
        ("GLU with relu gate = relu^2 FFN", snr_inv("relu", glu=True), snr_inv("relu2")),
        ("exp FFN: (N-1)(d_v/nu) e^{2 beta^2 kappa - 2 beta kappa} (the exp kernel with tau = 1/beta)",
         sp.simplify(snr_inv("exp")), (N - 1) * (d_v / nu) * sp.exp(2 * beta**2 * kappa - 2 * beta * kappa)),
        ("top-1 MoE, E experts: SNR^{-1} ratio to dense = (N/E - 1)/(N - 1) -> 1/E",
         sp.simplify(snr_inv("relu", experts=E_exp) / snr_inv("relu")), (N / E_exp - 1) / (N - 1)),
        ("... whose limit N -> oo is 1/E", sp.limit((N / E_exp - 1) / (N - 1), N, sp.oo), 1 / E_exp),
    ]
    return steps


def derivation_multihead() -> list:
    """C12: a head of width d_k/h is a memory of its own; substitute d_k -> d_k/h in the typical forms."""
    from theory.kernels import snr_inv as ksnr, tau

    lin_head = ksnr("linear", "typical").subs(d_k, d_k / h)
    exp_head = ksnr("exp", "typical").subs(tau, 2).subs(d_k, d_k / h)
    return [
        ("multi-head linear: typical per head (N-1) h/d_k", lin_head, (N - 1) * h / d_k),
        ("multi-head exp (tau = 2): typical per head (N-1) e^{-d_k/(2h)}", exp_head, (N - 1) * sp.exp(-d_k / (2 * h))),
        ("exp: one head of width d_k beats h heads: per-head ratio e^{-d_k/2}/e^{-d_k/(2h)} = e^{-d_k (h-1)/(2h)}",
         sp.simplify(exp_head.subs(h, 1) / exp_head), sp.exp(-d_k * (h - 1) / (2 * h))),
    ]
