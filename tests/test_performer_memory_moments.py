"""impl.estimators.performer_memory_moments (C9.performer.memory_snr's exact per-trial moments) against sources that
share none of its coincidence-pattern algebra: the closed forms of impl.estimators.snr_performer (second moments),
SciPy quadrature at one feature, a multinomial expansion over i.i.d. lognormal terms (the features' coincidences
counted a second way), and numpy simulations of the memory's trial."""

import math

import numpy as np
import pytest
from scipy import integrate

from impl.estimators import performer_memory_moments as pmm
from impl.estimators.snr_performer import performer_extra_noise, performer_signal_second_moment


def test_set_partitions_are_the_bell_numbers():
    assert [sum(1 for _ in pmm.set_partitions(n)) for n in range(1, 6)] == [1, 2, 5, 15, 52]
    assert len(set(pmm.set_partitions(4))) == 15


@pytest.mark.parametrize("kind,tau", [("positive", 96.0), ("positive", 20.0), ("trigonometric", 16.0),
                                      ("trigonometric", 5.0)])
@pytest.mark.parametrize("kappa,d,m", [(3.0, 2, 1), (5.0, 4, 4), (0.5, 3, 16)])
def test_second_moments_are_the_closed_forms(kind, tau, kappa, d, m):
    """E w^2 = E_k[kappa^2] + E_k Var_w kappa_hat (snr_performer's closed form, derived by hand) and, for positive
    features, E c_hat^2 = SM^2 + Var (Lemma 2)."""
    w2 = pmm.product_moment(kind, (0, 0), m, d, tau, kappa)
    assert w2 == pytest.approx(math.exp(2 * kappa / tau**2) + performer_extra_noise(kind, kappa, d, tau, m), rel=1e-12)
    if kind == "positive":
        c2 = pmm.product_moment(kind, (None, None), m, d, tau, kappa)
        assert c2 == pytest.approx(performer_signal_second_moment(kind, kappa, tau, m), rel=1e-12)


def _phi(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("kind", ["positive", "trigonometric"])
def test_fourth_moments_by_quadrature_at_one_feature(kind):
    """m = 1, d = 1, tau = 20, kappa = 2: E w^4 (one key), E[w_1^2 w_2^2] (two keys sharing the feature) and, for
    positive features, E c_hat^4, by SciPy quadrature over the key and the feature."""
    tau, kappa = 20.0, 2.0
    y = math.sqrt(kappa / tau)
    s = 1 / math.sqrt(tau)

    def f(u, x):
        if kind == "positive":
            return math.exp(u * (x + y) - (x * x + y * y) / 2)
        return math.exp((x * x + y * y) / 2) * math.cos(u * (x - y))

    def key_avg(g):  # E over x ~ N(0, 1/tau), over +-40 sd (the integrands are Gaussian within a few sd of 0)
        return integrate.quad(lambda x: g(x) * _phi(x / s) / s, -40 * s, 40 * s, epsabs=0, epsrel=1e-12, limit=400)[0]

    if kind == "positive":  # the feature integrates in closed form first: E_u e^{4u(x+y)} = e^{8 (x+y)^2}
        w4 = key_avg(lambda x: math.exp(8 * (x + y) ** 2 - 2 * x * x - 2 * y * y))
    else:
        w4 = integrate.dblquad(lambda x, u: f(u, x) ** 4 * _phi(u) * _phi(x / s) / s, -14, 14, -14 * s, 14 * s,
                               epsabs=0, epsrel=1e-11)[0]
    w22 = integrate.quad(lambda u: key_avg(lambda x: f(u, x) ** 2) ** 2 * _phi(u), -14, 14, epsabs=0, epsrel=1e-11,
                         limit=400)[0]
    assert pmm.product_moment(kind, (0, 0, 0, 0), 1, 1, tau, kappa) == pytest.approx(w4, rel=1e-9)
    assert pmm.product_moment(kind, (0, 0, 1, 1), 1, 1, tau, kappa) == pytest.approx(w22, rel=1e-9)
    assert w22 > pmm.product_moment(kind, (0, 0), 1, 1, tau, kappa) ** 2 * (1 + 1e-6)  # shared features: correlated
    if kind == "positive":
        c4 = integrate.quad(lambda u: math.exp(4 * (2 * u * y - y * y)) * _phi(u), -14, 14, epsabs=0, epsrel=1e-12)[0]
        assert pmm.product_moment(kind, (None,) * 4, 1, 1, tau, kappa) == pytest.approx(c4, rel=1e-10)


def _mean_fourth_power(m, e1, e2, e3, e4):
    """E (mean of m i.i.d. terms)^4 from the raw moments e_j = E T^j: the multinomial expansion by index pattern."""
    return (m * e4 + 4 * m * (m - 1) * e3 * e1 + 3 * m * (m - 1) * e2**2 + 6 * m * (m - 1) * (m - 2) * e2 * e1**2
            + m * (m - 1) * (m - 2) * (m - 3) * e1**4) / m**4


@pytest.mark.parametrize("m", [1, 2, 3, 5, 64])
@pytest.mark.parametrize("kappa,d,tau", [(3.0, 2, 96.0), (8.0, 4, 30.0)])
def test_positive_fourth_moments_by_the_lognormal_multinomial(m, kappa, d, tau):
    """Positive features give lognormal terms, so the fourth moments of an m-term mean follow from the raw moments by
    the multinomial expansion: c_hat's terms exp(2 u^T y - ||y||^2) (log-mean -yy, log-variance 4 yy); one key's
    terms given the key, E_u T^j = exp(-j (xx + yy)/2 + j^2 (xx + yy + 2 xy)/2), then the key's Gaussian quadratic
    MGF E_k exp(a xx + b xy) = (1 - 2a/tau)^{-d/2} exp(b^2 kappa / (2 tau^2 (1 - 2a/tau)))."""
    yy = kappa / tau
    e = [math.exp(-j * yy + 2 * j * j * yy) for j in range(1, 5)]
    assert pmm.product_moment("positive", (None,) * 4, m, d, tau, kappa) == pytest.approx(
        _mean_fourth_power(m, *e), rel=1e-11)

    def key_mgf(a, b, g):  # E_k exp(a xx + b xy + g yy)
        one = 1 - 2 * a / tau
        return one ** (-d / 2) * math.exp(b * b * kappa / (2 * tau**2 * one) + g * yy)

    def raw(js):  # E_k prod_j E_u[T^j | k], each E_u T^j = exp((j^2 - j)/2 (xx + yy) + j^2 xy)
        a = sum((j * j - j) / 2 for j in js)
        return key_mgf(a, sum(j * j for j in js), a)

    w4 = (m * raw([4]) + 4 * m * (m - 1) * raw([3, 1]) + 3 * m * (m - 1) * raw([2, 2])
          + 6 * m * (m - 1) * (m - 2) * raw([2, 1, 1]) + m * (m - 1) * (m - 2) * (m - 3) * raw([1, 1, 1, 1])) / m**4
    assert pmm.product_moment("positive", (0, 0, 0, 0), m, d, tau, kappa) == pytest.approx(w4, rel=1e-11)


def _simulate_trial(kind, kappa, n_pairs, d, d_v, tau, m, trials, rng):
    """numpy: Y = ||sum_j kappa_hat(k_j, q) v_j||^2 per trial, features shared by the trial's keys."""
    q = np.zeros(d)
    q[0] = math.sqrt(kappa)
    y = q / math.sqrt(tau)
    U = rng.standard_normal((trials, m, d))
    X = rng.standard_normal((trials, n_pairs - 1, d)) / math.sqrt(tau)
    px, py = np.einsum("tmd,tnd->tnm", U, X), U @ y
    xx = (X * X).sum(-1)
    if kind == "positive":
        w = np.exp(px + py[:, None, :] - (xx[..., None] + y @ y) / 2).mean(-1)
    else:
        w = np.exp((xx + y @ y) / 2) * np.cos(px - py[:, None, :]).mean(-1)
    V = rng.standard_normal((trials, n_pairs - 1, d_v))
    r = np.einsum("tn,tnv->tv", w, V)
    return (r * r).sum(-1)


@pytest.mark.parametrize("kind,tau,m", [("trigonometric", 16.0, 3), ("trigonometric", 8.0, 2), ("positive", 96.0, 3)])
def test_trial_mean_and_variance_match_a_simulation(kind, tau, m):
    """One trial's noise energy Y simulated in numpy (200,000 trials, N = 5, d = 2, d_v = 3): its mean and sample
    variance within 5 standard errors of the exact values; dropping the shared-feature correlation (E[w_1^2 w_2^2]
    replaced by (E w^2)^2) moves the variance outside."""
    rng = np.random.default_rng([len(kind), int(tau), m])
    kappa, n_pairs, d, d_v = 2.5, 5, 2, 3
    ys = _simulate_trial(kind, kappa, n_pairs, d, d_v, tau, m, 200_000, rng)
    mom = pmm.sample_moments(kind, kappa, 1.0, n_pairs, d, d_v, tau, m)
    assert abs(ys.mean() - mom["mean_y"]) < 5 * ys.std() / math.sqrt(ys.size)
    s2 = ys.var(ddof=1)
    se = math.sqrt((((ys - ys.mean()) ** 4).mean() - s2**2) / ys.size)
    assert abs(s2 - mom["var_y"]) < 5 * se
    n = n_pairs - 1
    independent = d_v * (d_v + 2) * (n * mom["w4"] + n * (n - 1) * mom["w2"] ** 2) - mom["mean_y"] ** 2
    assert abs(s2 - independent) > 5 * se


def test_infinite_moments_are_reported():
    """Positive features: E w^4 needs I - 2Q positive definite, 16/(tau + 4) < 1 at one feature (tau > 12);
    trigonometric: a key carrying four factors needs tau > 4."""
    assert pmm.product_moment("positive", (0, 0, 0, 0), 1, 2, 12.0, 1.0) == math.inf
    assert math.isfinite(pmm.product_moment("positive", (0, 0, 0, 0), 1, 2, 12.5, 1.0))
    assert pmm.product_moment("trigonometric", (0, 0, 0, 0), 2, 2, 4.0, 1.0) == math.inf
    assert not pmm.finite(pmm.sample_moments("positive", 1.0, 1.0, 8, 2, 4, 10.0, 4))
    with pytest.raises(ValueError):
        pmm.sample_moments("relu", 1.0, 1.0, 8, 2, 4, 10.0, 4)


# ------------------------------------------------------------------ the memory's interval -------------------------
def test_memory_uses_catoni_where_the_moments_are_finite_and_says_otherwise():
    from impl.estimators import catoni
    from impl.memories.kernel import kernel_memory
    from impl.estimators.snr import estimate_snr

    res = estimate_snr(kernel_memory("performer_trig", tau=16.0, m=4), 16, 2, 8, 2000, 3, alpha=1e-6,
                       conventions=("conditional",))["conditional"]
    assert res.details["interval"] == "catoni" and set(res.details["intervals"]) >= {"0.05", "0.01", "0.001"}
    mom = pmm.sample_moments("trigonometric", res.details["probe_kappa"], res.details["probe_nu"], 16, 2, 8, 16.0, 4)
    assert mom["ratio"] == pytest.approx(res.exact, rel=1e-12)
    iv = res.interval()
    assert (iv.hi - iv.lo) / 2 == pytest.approx(catoni.half_width(2000, mom["var_y"], 1e-6) / mom["mean_x"], rel=1e-9)
    pos = estimate_snr(kernel_memory("performer_positive", tau=96.0, m=4), 16, 2, 8, 2000, 3, alpha=1e-6,
                       conventions=("conditional",))["conditional"]
    assert pos.details["interval"] == "catoni" and "union bound" in pos.note
    heavy = estimate_snr(kernel_memory("performer_positive", tau=10.0, m=4), 16, 2, 8, 2000, 3, alpha=1e-6,
                         conventions=("conditional",))["conditional"]
    assert "interval" not in heavy.details and "fourth moment is infinite" in heavy.note


@pytest.mark.parametrize("nu", [0.5, 3.0])
def test_signal_moments_by_the_lognormal_multinomial(nu):
    """One trial's signal X = nu c_hat^2 (positive features): E X = nu E c_hat^2 and Var X = nu^2 (E c_hat^4 -
    (E c_hat^2)^2), with c_hat's moments from its i.i.d. lognormal terms (log-mean -yy, log-variance 4 yy) counted
    by the multinomial expansion; trigonometric features give an exact signal, Var X = 0."""
    kappa, tau, m, d = 4.0, 96.0, 3, 2
    yy = kappa / tau
    e = [math.exp(-j * yy + 2 * j * j * yy) for j in range(1, 5)]
    c2 = (m * e[1] + m * (m - 1) * e[0] ** 2) / m**2
    c4 = _mean_fourth_power(m, *e)
    mom = pmm.sample_moments("positive", kappa, nu, 8, d, 4, tau, m)
    assert mom["mean_x"] == pytest.approx(nu * c2, rel=1e-12)
    assert mom["var_x"] == pytest.approx(nu**2 * (c4 - c2**2), rel=1e-9)
    trig = pmm.sample_moments("trigonometric", kappa, nu, 8, d, 4, 16.0, m)
    assert trig["var_x"] == 0 and trig["mean_x"] == pytest.approx(nu * math.exp(2 * kappa / 16.0), rel=1e-15)
