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
SNR^{-1} (N-1) h/d_k (linear) and (N-1) e^{-d_k/(2h)} (exp, tau = 2). "Splitting multiplies SNR^{-1} by h" holds in
the typical convention only: probe-averaged, the linear head's value is (N-1) h d_v/((d_k-2h)(d_v-2h)), infinite once
d_k/h <= 2 or d_v/h <= 2.
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


def multihead_linear_snr_inv(convention: str = "typical") -> sp.Expr:
    """Per-head SNR^{-1} of an h-head linear memory of total key width d_k and value width d_v (head m: blocks of d_k/h
    and d_v/h): typical (N-1) h/d_k; probe-averaged (N-1) h d_v / ((d_k - 2h)(d_v - 2h)) while d_k/h > 2 and d_v/h > 2
    (E[1/chi^2] of each block), infinite otherwise. Splitting multiplies the typical value by h, the probe-averaged one
    by h (d_k - 2)(d_v - 2)/((d_k - 2h)(d_v - 2h)) > h."""
    if convention == "typical":
        return (N - 1) * h / d_k
    if convention == "probe_averaged":
        return sp.Piecewise(((N - 1) * h * d_v / ((d_k - 2 * h) * (d_v - 2 * h)), (d_k > 2 * h) & (d_v > 2 * h)), (sp.oo, True))
    raise ValueError(f"convention must be typical or probe_averaged, got {convention!r}")


def derivation_multihead() -> list:
    """C12: a head of width d_k/h is a memory of its own; substitute d_k -> d_k/h (and d_v -> d_v/h) in the single-head
    forms."""
    from theory.kernels import snr_inv as ksnr, tau

    lin_head = ksnr("linear", "typical").subs(d_k, d_k / h)
    lin_pa = ksnr("linear", "probe_averaged").subs({d_k: d_k / h, d_v: d_v / h}, simultaneous=True)
    pa_finite = multihead_linear_snr_inv("probe_averaged").args[0][0]
    exp_head = ksnr("exp", "typical").subs(tau, 2).subs(d_k, d_k / h)
    return [
        ("multi-head linear: typical per head (N-1) h/d_k", lin_head, multihead_linear_snr_inv("typical")),
        ("multi-head linear: probe-averaged per head (N-1) h d_v/((d_k-2h)(d_v-2h)) (finite iff d_k/h > 2, d_v/h > 2)",
         lin_pa, pa_finite),
        ("... so splitting multiplies the probe-averaged SNR^{-1} by h (d_k-2)(d_v-2)/((d_k-2h)(d_v-2h)), not h",
         sp.simplify(pa_finite / pa_finite.subs(h, 1)), h * (d_k - 2) * (d_v - 2) / ((d_k - 2 * h) * (d_v - 2 * h))),
        ("multi-head exp (tau = 2): typical per head (N-1) e^{-d_k/(2h)}", exp_head, (N - 1) * sp.exp(-d_k / (2 * h))),
        ("exp: one head of width d_k beats h heads: per-head ratio e^{-d_k/2}/e^{-d_k/(2h)} = e^{-d_k (h-1)/(2h)}",
         sp.simplify(exp_head.subs(h, 1) / exp_head), sp.exp(-d_k * (h - 1) / (2 * h))),
    ]


# ---- SoLU (Elhage et al. 2022): x * softmax(x) over the hidden units -------------------------------------------
#
# The constructed SoLU FFN has one hidden unit per stored pair, pre-activations z_j = beta k_j^T x and hidden
# activations z_j e^{z_j} / Z with Z = sum_l e^{z_l} (the probe's own slot included). Probing with x = k_i:
#     o = (c_u v_i + r_u) / Z,   c_u = z_i e^{z_i} (z_i = beta kappa),   r_u = sum_{j != i} v_j z_j e^{z_j},
# so the normaliser divides signal and noise alike (as in C8) and the per-sample ratio ||r||^2/(c^2 nu) is that of the
# unnormalised slot kernel s(z) = z e^{z}, exactly. The normaliser is correlated with the noise (it contains the noise
# slots' e^{z_j}), so a ratio of separately averaged energies E||r_u/Z||^2 / E[(c_u/Z)^2] is NOT the kernel value:
# there the cancellation is only approximate (measured, claim C11.solu.normaliser).

a_tilt = sp.Symbol("a", positive=True)  # slot activation z e^{a z}; SoLU is a = 1
lam = sp.Symbol("lambda", positive=True)  # rate of a tilted chi-square integral


def solu_second_moment(a=1) -> sp.Expr:
    """E[Z^2 e^{2aZ}] for Z ~ N(0, sigma2): sigma2 (1 + 4 a^2 sigma2) e^{2 a^2 sigma2}."""
    return sigma2 * (1 + 4 * a**2 * sigma2) * sp.exp(2 * a**2 * sigma2)


def solu_snr_inv(convention: str = "conditional") -> sp.Expr:
    """SNR^{-1} of the constructed SoLU FFN memory (Gaussian keys k ~ N(0, I), key scale beta), per convention:

        conditional            (N-1)(d_v/nu) (1 + 4 beta^2 kappa)/kappa  e^{2 beta^2 kappa - 2 beta kappa}
        typical                the conditional form at kappa = d_k, nu = d_v
        probe-averaged         (N-1) d_v/(d_v-2) [ (1-2b)^{1-d_k/2}/(d_k-2) + 4 beta^2 (1-2b)^{-d_k/2} ],
                               b = 2 beta^2 - 2 beta            (finite iff d_k > 2, d_v > 2, 1 - 2b > 0)
        ratio of expectations  (N-1) [ (1-4beta^2)^{-d_k/2-1} + 4 beta^2 (d_k+2)(1-4beta^2)^{-d_k/2-2} ]
                               / [ (d_k+2)(1-4beta)^{-d_k/2-2} ]   for beta < 1/4; 0 for 1/4 <= beta < 1/2
                               (E[c_u^2] infinite, E||r_u||^2 finite: a degenerate limit); undefined (nan) from
                               beta = 1/2 (both infinite; the Piecewise in beta has no branch there).
    """
    b = 2 * beta**2 - 2 * beta
    cond = (N - 1) * (d_v / nu) * (1 + 4 * beta**2 * kappa) / kappa * sp.exp(b * kappa)
    if convention == "conditional":
        return cond
    if convention == "typical":
        return cond.subs({kappa: d_k, nu: d_v})
    if convention == "probe_averaged":
        return (N - 1) * d_v / (d_v - 2) * ((1 - 2 * b) ** (1 - d_k / 2) / (d_k - 2) + 4 * beta**2 * (1 - 2 * b) ** (-d_k / 2))
    if convention == "ratio_of_expectations":
        # no branch from beta = 1/2 on: undefined there (substituting such a beta gives nan)
        return sp.Piecewise((solu_ratio_of_expectations_finite(), beta < sp.Rational(1, 4)), (0, beta < sp.Rational(1, 2)))
    raise ValueError(f"convention must be one of conditional, typical, probe_averaged, ratio_of_expectations; got {convention!r}")


def solu_ratio_of_expectations_finite() -> sp.Expr:
    """The ratio-of-expectations SoLU SNR^{-1} on its finite branch beta < 1/4 (outside it the expression is not the
    value: at beta = 0.3 it is negative)."""
    t = 1 - 4 * beta**2
    return (N - 1) * (t ** (-d_k / 2 - 1) + 4 * beta**2 * (d_k + 2) * t ** (-d_k / 2 - 2)) / (
        (d_k + 2) * (1 - 4 * beta) ** (-d_k / 2 - 2))


SOLU_FINITENESS = {
    "conditional": "", "typical": "",
    "probe_averaged": "d_k > 2 and d_v > 2 (E[1/chi^2]); 1 - 2b > 0 with b = 2 beta^2 - 2 beta, i.e. beta < (1 + sqrt 2)/2",
    "ratio_of_expectations": "beta < 1/4 (E[kappa^2 e^{2 beta kappa}] = d_k (d_k+2)(1 - 4 beta)^{-d_k/2-2}); at "
                             "1/4 <= beta < 1/2 only E[c_u^2] is infinite (SNR^{-1} = 0, degenerate); from beta = 1/2 "
                             "E||r_u||^2 is infinite too (undefined)",
}


def derivation_solu() -> list:
    """The SoLU memory's conditional SNR, every step decided by SymPy (the [reconstructed] completion of the
    appendix's SoLU derivation under the paper's assumptions: Gaussian keys, C6)."""
    zi, z2, z3, Z = sp.symbols("z_i z_2 z_3 Z", positive=True)
    v2, v3, vi = (sp.Matrix(sp.symbols(f"{n}0 {n}1", real=True)) for n in ("v2_", "v3_", "vi_"))
    r_u = v2 * z2 * sp.exp(z2) + v3 * z3 * sp.exp(z3)
    c_u = zi * sp.exp(zi)
    nrm = (vi.T * vi)[0, 0]
    ratio = lambda c, r: (r.T * r)[0, 0] / (c**2 * nrm)  # noqa: E731
    g = _gauss_density(sigma2)
    mu = sp.Symbol("mu", real=True)
    shifted = sp.exp(-(z - mu) ** 2 / (2 * sigma2)) / sp.sqrt(2 * sp.pi * sigma2)
    direct = sp.integrate(z**2 * sp.exp(2 * a_tilt * z) * g, (z, -sp.oo, sp.oo), conds="none")
    t = sp.Symbol("t", real=True)
    mgf = sp.exp(sigma2 * t**2 / 2)
    cond = (N - 1) * (d_v / nu) * solu_second_moment().subs(sigma2, beta**2 * kappa) / (beta * kappa * sp.exp(beta * kappa)) ** 2
    exp_ffn = (N - 1) * (d_v / nu) * sp.exp(2 * beta**2 * kappa) / sp.exp(2 * beta * kappa)
    return [
        ("normaliser cancels per sample (N = 3, d_v = 2): ||r_u/Z||^2 / ((c_u/Z)^2 nu) = ||r_u||^2 / (c_u^2 nu)",
         ratio(c_u / Z, r_u / Z), ratio(c_u, r_u)),
        ("completing the square: z^2 e^{2az} e^{-z^2/(2 sigma2)} = e^{2 a^2 sigma2} z^2 e^{-(z - 2 a sigma2)^2/(2 sigma2)}",
         z**2 * sp.exp(2 * a_tilt * z) * sp.exp(-z**2 / (2 * sigma2)),
         sp.exp(2 * a_tilt**2 * sigma2) * z**2 * sp.exp(-(z - 2 * a_tilt * sigma2) ** 2 / (2 * sigma2))),
        ("second moment of N(mu, sigma2): int z^2 phi(z - mu) dz = mu^2 + sigma2",
         sp.integrate(z**2 * shifted, (z, -sp.oo, sp.oo)), mu**2 + sigma2),
        ("hence E[Z^2 e^{2aZ}] = e^{2a^2 sigma2} ((2 a sigma2)^2 + sigma2)", sp.exp(2 * a_tilt**2 * sigma2) * (
            (2 * a_tilt * sigma2) ** 2 + sigma2), solu_second_moment(a_tilt)),
        ("direct Gaussian integral of z^2 e^{2az} agrees", direct, solu_second_moment(a_tilt)),
        ("MGF check: d^2/dt^2 E[e^{tZ}] at t = 2a", sp.diff(mgf, t, 2).subs(t, 2 * a_tilt), solu_second_moment(a_tilt)),
        ("SoLU slot (a = 1) = the GLU with exp gate and gate = up (the same product kernel z e^z)",
         solu_second_moment(), second_moment("exp", glu=True)),
        ("C6, conditional: (N-1)(d_v/nu) E[Z^2 e^{2Z}] / (beta kappa e^{beta kappa})^2, Z ~ N(0, beta^2 kappa)",
         cond, solu_snr_inv("conditional")),
        ("SoLU / exp-kernel FFN (tau = 1/beta): ratio (1 + 4 beta^2 kappa)/kappa", sp.simplify(cond / exp_ffn),
         (1 + 4 * beta**2 * kappa) / kappa),
        ("typical at beta = 1/sqrt(d_k): (N-1)(5/d_k) e^{2 - 2 sqrt(d_k)}",
         solu_snr_inv("typical").subs(beta, 1 / sp.sqrt(d_k)), (N - 1) * 5 / d_k * sp.exp(2 - 2 * sp.sqrt(d_k))),
    ]


def _chi2_tilted(power, rate, d):
    """E[kappa^power e^{-(rate - 1/2) kappa}] for kappa ~ chi^2_d: the Gamma integral int x^{d/2-1+power} e^{-rate x} dx
    over the chi-square normaliser 2^{d/2} Gamma(d/2); ``rate`` must be a positive symbol (the finiteness condition)."""
    x = sp.Symbol("x", positive=True)
    dens = x ** (d / 2 - 1) / (2 ** (d / 2) * sp.gamma(d / 2))
    return sp.powsimp(sp.gammasimp(sp.integrate(x**power * dens * sp.exp(-rate * x), (x, 0, sp.oo), conds="none")), force=True)


def derivation_solu_conventions() -> list:
    """The SoLU memory's probe-averaged and ratio-of-expectations SNR^{-1} from tilted chi-square (Gamma) integrals.
    Each tilted integral is taken at a positive rate w/2 (w = 1 - 2b, 1 - 4 beta^2, 1 - 4 beta: the finiteness
    conditions), then w is substituted."""
    b = 2 * beta**2 - 2 * beta
    w = sp.Symbol("w", positive=True)
    e_inv = _chi2_tilted(-1, w / 2, d_k)
    e_one = _chi2_tilted(0, w / 2, d_k)
    e_k1 = _chi2_tilted(1, w / 2, d_k)
    e_k2 = _chi2_tilted(2, w / 2, d_k)
    inv_nu = _chi2_tilted(-1, sp.Rational(1, 2), d_v)
    pa_w = (N - 1) * d_v * inv_nu * (e_inv + 4 * beta**2 * e_one)
    pa_target = (N - 1) * d_v / (d_v - 2) * (w ** (1 - d_k / 2) / (d_k - 2) + 4 * beta**2 * w ** (-d_k / 2))
    ra_w = (N - 1) * beta**2 * (e_k1 + 4 * beta**2 * e_k2).subs(w, 1 - 4 * beta**2) / (beta**2 * e_k2.subs(w, 1 - 4 * beta))
    return [
        ("E[1/nu] = 1/(d_v - 2) (Gamma integral, d_v > 2)", inv_nu, 1 / (d_v - 2)),
        ("E[e^{-(w-1)kappa/2}/kappa] = w^{1-d_k/2}/(d_k-2) (Gamma integral at rate w/2 > 0, d_k > 2)", e_inv,
         w ** (1 - d_k / 2) / (d_k - 2)),
        ("E[e^{-(w-1)kappa/2}] = w^{-d_k/2}", e_one, w ** (-d_k / 2)),
        ("E[kappa e^{-(w-1)kappa/2}] = d_k w^{-d_k/2-1}", e_k1, d_k * w ** (-d_k / 2 - 1)),
        ("E[kappa^2 e^{-(w-1)kappa/2}] = d_k (d_k+2) w^{-d_k/2-2}", e_k2, d_k * (d_k + 2) * w ** (-d_k / 2 - 2)),
        ("probe-averaged: (N-1) d_v E[1/nu] E[(1/kappa + 4 beta^2) e^{b kappa}] at w = 1 - 2b > 0",
         pa_w, pa_target),
        ("... with w = 1 - 2b, b = 2 beta^2 - 2 beta: the closed form of solu_snr_inv", pa_target.subs(w, 1 - 2 * b),
         solu_snr_inv("probe_averaged")),
        ("ratio of expectations: (N-1) E[M2(kappa)] / E[c^2], M2 = beta^2 kappa (1 + 4 beta^2 kappa) e^{2 beta^2 kappa} "
         "(w = 1 - 4 beta^2), c^2 = beta^2 kappa^2 e^{2 beta kappa} (w = 1 - 4 beta > 0: beta < 1/4)",
         ra_w, solu_ratio_of_expectations_finite()),
        ("... which is solu_snr_inv's branch for beta < 1/4", solu_snr_inv("ratio_of_expectations").subs(beta, sp.Rational(1, 5)),
         solu_ratio_of_expectations_finite().subs(beta, sp.Rational(1, 5))),
    ]
