"""theory.ffn.second_moment: the documented closed forms of E[s(Z)^2] (and E[s(Z)^2 Z^2] for the GLU),
Z ~ N(0, sigma2), against Gaussian quadrature of integrands written here independently of theory/."""

import math

import mpmath
import pytest
import sympy as sp

from theory import ffn as tf

ACT = {
    "relu": lambda x: max(x, 0.0), "relu2": lambda x: max(x, 0.0) ** 2, "exp": mpmath.exp, "linear": lambda x: x,
}
CLOSED = [(False, "relu"), (False, "relu2"), (False, "exp"), (False, "linear"),
          (True, "relu"), (True, "linear"), (True, "exp")]


def gaussian_expectation(f, var):
    """E[f(Z)], Z ~ N(0, var), by tanh-sinh quadrature split at 0 (the kink of relu)."""
    with mpmath.workdps(30):
        dens = lambda x: mpmath.exp(-x * x / (2 * var)) / mpmath.sqrt(2 * mpmath.pi * var)  # noqa: E731
        return float(mpmath.quad(lambda x: f(x) * dens(x), [-mpmath.inf, 0, mpmath.inf]))


@pytest.mark.parametrize("glu,name", CLOSED)
def test_closed_second_moment_is_an_expression_in_sigma2_matching_quadrature(glu, name):
    m2 = tf.second_moment(name, glu)
    assert not m2.has(sp.Integral), (name, glu)  # the docstring: closed form for relu/relu2/exp/linear
    assert m2.free_symbols == {tf.sigma2}
    s = ACT[name]
    for var in (0.3, 1.7):
        want = gaussian_expectation(lambda x: s(x) ** 2 * (x * x if glu else 1), var)
        assert float(m2.subs(tf.sigma2, var)) == pytest.approx(want, rel=1e-12)


def test_glu_relu_closed_form_is_three_halves_sigma2_squared():
    """E[relu(Z)^2 Z^2] = int_0^oo z^4 phi = 3 sigma2^2 / 2: the squared-ReLU value (the GLU/relu^2 identity)."""
    assert sp.simplify(tf.second_moment("relu", glu=True) - sp.Rational(3, 2) * tf.sigma2**2) == 0
    assert sp.simplify(tf.second_moment("relu", glu=True) - tf.second_moment("relu2")) == 0


def test_glu_with_relu_gate_has_the_relu2_snr_in_closed_form():
    lhs, rhs = tf.snr_inv("relu", glu=True), tf.snr_inv("relu2")
    assert not lhs.has(sp.Integral)
    assert sp.simplify(lhs - rhs) == 0
    assert sp.simplify(rhs - (tf.N - 1) * (tf.d_v / tf.nu) * sp.Rational(3, 2) / tf.kappa**2) == 0


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_activations_without_closed_form_give_the_unevaluated_integral(name):
    m2 = tf.second_moment(name)
    assert isinstance(m2, sp.Integral)
    s = {"gelu": lambda x: x * (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2, "silu": lambda x: x / (1 + mpmath.exp(-x))}[name]
    want = gaussian_expectation(lambda x: s(x) ** 2, 0.8)
    integrand = sp.lambdify(tf.z, m2.function.subs(tf.sigma2, 0.8), "mpmath")
    assert gaussian_expectation(lambda x: 1, 0.8) == pytest.approx(1.0, rel=1e-14)
    with mpmath.workdps(30):
        got = float(mpmath.quad(integrand, [-mpmath.inf, 0, mpmath.inf]))
    assert got == pytest.approx(want, rel=1e-12)
    assert math.isfinite(want)


@pytest.mark.parametrize("beta, kappa", [(0.1, 4.0), (0.05, 6.0), (0.25, 3.0), (0.5, 1.5), (0.3, 5.0), (1.0, 8.0)])
def test_numeric_ffn_theory_on_both_sides_of_beta_kappa_one(beta, kappa):
    """impl.memories.ffn.ffn_theory against the C6 closed forms worked by hand, at beta kappa below 1 (where an
    activation clipped at 1 instead of 0, max(x, 1), would change the signal) as well as above:
    relu (N-1)(d_v/nu)(beta^2 kappa/2)/(beta kappa)^2 = (N-1)(d_v/nu)/(2 kappa); relu^2 (3/2)(beta^2 kappa)^2/(beta kappa)^4;
    GLU relu (signal relu(x) x = x^2): the same as relu^2; linear (N-1)(d_v/nu)/kappa."""
    from impl.memories.ffn import ffn_theory

    n1, d_v, nu = 15, 8, 6.5
    base = n1 * d_v / nu
    assert ffn_theory("relu", n1, d_v, kappa, nu, beta) == pytest.approx(base / (2 * kappa), rel=1e-12)
    assert ffn_theory("relu2", n1, d_v, kappa, nu, beta) == pytest.approx(base * 1.5 / kappa**2, rel=1e-12)
    assert ffn_theory("relu", n1, d_v, kappa, nu, beta, glu=True) == pytest.approx(base * 1.5 / kappa**2, rel=1e-12)
    assert ffn_theory("linear", n1, d_v, kappa, nu, beta) == pytest.approx(base / kappa, rel=1e-12)
    assert ffn_theory("exp", n1, d_v, kappa, nu, beta) == pytest.approx(
        base * math.exp(2 * beta**2 * kappa - 2 * beta * kappa), rel=1e-12)
