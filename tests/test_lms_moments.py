"""theory.lms_moments (the delta rule's squared-error moments on a Gaussian stream, and the exact variance of
U4.delta_neighbourhood's time average) against sources that share none of its algebra: numpy simulations of one
step from fixed errors, of whole streams, the claim's own sampler, and the claim's closed-form limit."""

import math

import numpy as np
import pytest

from impl.rules.experiments import delta_msd_theory, delta_stream_time_average
from theory import lms_moments as lm


def _one_step_numpy(E, b, sigma, n, rng):
    """n independent draws of E' = E (I - b k k^T) + b sigma nz k^T from one fixed E: (F', G')."""
    d_v, d_k = E.shape
    k = rng.standard_normal((n, d_k)) / math.sqrt(d_k)
    nz = rng.standard_normal((n, d_v))
    resid = k @ E.T - sigma * nz  # E k - sigma n, per draw
    En = E[None] - b * resid[:, :, None] * k[:, None, :]
    M = np.einsum("nij,nik->njk", En, En)
    return np.einsum("njj->n", M), np.einsum("njk,nkj->n", M, M)


@pytest.mark.parametrize("b,d_k,d_v,sigma", [(0.6, 3, 2, 0.7), (1.2, 5, 1, 0.3), (0.2, 2, 3, 1.0)])
def test_one_step_conditional_moments_match_a_simulation(b, d_k, d_v, sigma):
    """From three fixed errors E with different F^2 : G : F balances (one direction dominant, isotropic, tiny), the
    simulated E[F'], E[F'^2] and E[G'] lie within 5 standard errors (300,000 draws each) of the coefficients'
    prediction. Together the three E separate the coefficients of F^2, G, F and 1."""
    rng = np.random.default_rng(int(1000 * b) + 10 * d_k + d_v)
    q = lm.one_step(b, d_k, d_v, sigma)
    bases = [rng.standard_normal((d_v, d_k)) * 0.3, rng.standard_normal((d_v, d_k)), rng.standard_normal((d_v, d_k))]
    bases[2][:, 0] *= 6.0  # one dominant direction: G close to F^2
    for E in bases:
        M = E.T @ E
        F, G = np.trace(M), np.trace(M @ M)
        f1, g1 = _one_step_numpy(E, b, sigma, 300_000, rng)
        n = f1.size
        for sample, pred in ((f1, q["rho"] * F + q["c"]),
                             (f1**2, q["A_FF"] * F**2 + q["A_FG"] * G + q["A_F"] * F + q["A_0"]),
                             (g1, q["B_FF"] * F**2 + q["B_G"] * G + q["B_F"] * F + q["B_0"])):
            assert abs(sample.mean() - pred) < 5 * sample.std() / math.sqrt(n), (sample.mean(), pred)


def test_stream_moments_match_a_simulation():
    """Whole streams from E_0 = -W (numpy, 100,000 trials): E F_t, E F_t^2, E G_t at t = 0, 1, 7, 40 within 5 se."""
    rng = np.random.default_rng(7)
    b, d_k, d_v, sigma, trials = 0.7, 3, 2, 0.5, 100_000
    mom = lm.moments(b, d_k, d_v, sigma, 40)
    E = -rng.standard_normal((trials, d_v, d_k))
    for t in range(41):
        if t in (0, 1, 7, 40):
            M = np.einsum("nij,nik->njk", E, E)
            F, G = np.einsum("njj->n", M), np.einsum("njk,nkj->n", M, M)
            for sample, pred in ((F, mom[t, 0]), (F**2, mom[t, 1]), (G, mom[t, 2])):
                assert abs(sample.mean() - pred) < 5 * sample.std() / math.sqrt(trials), (t, sample.mean(), pred)
        k = rng.standard_normal((trials, d_k)) / math.sqrt(d_k)
        nz = rng.standard_normal((trials, d_v))
        resid = np.einsum("nij,nj->ni", E, k) - sigma * nz
        E = E - b * resid[:, :, None] * k[:, None, :]


@pytest.mark.parametrize("b,d_k,d_v,sigma,burn,window", [(0.6, 3, 2, 0.7, 20, 30), (0.3, 2, 1, 0.4, 5, 60)])
def test_time_average_variance_matches_the_claims_sampler(b, d_k, d_v, sigma, burn, window):
    """The exact mean and variance of one trial's time average against 40,000 trials of the claim's sampler
    (``delta_stream_time_average``): the sample variance within 5 of its standard errors (from the fourth central
    moment); the variance without the autocovariances (sum of Var F_t / w^2) lies far outside."""
    x = delta_stream_time_average(d_k=d_k, d_v=d_v, b=b, sigma=sigma, burn=burn, window=window, trials=40_000,
                                  seed=3).numpy()
    mean, var = lm.time_average_mean_variance(b, d_k, d_v, sigma, burn, window)
    assert abs(x.mean() - mean) < 5 * x.std() / math.sqrt(x.size)
    s2 = x.var(ddof=1)
    se = math.sqrt((((x - x.mean()) ** 4).mean() - s2**2) / x.size)
    assert abs(s2 - var) < 5 * se
    mom = lm.moments(b, d_k, d_v, sigma, burn + window)[burn + 1:]
    independent = (mom[:, 1] - mom[:, 0] ** 2).sum() / window**2
    assert abs(s2 - independent) > 10 * se


@pytest.mark.parametrize("b,d_k,d_v,sigma", [(0.1, 8, 4, 0.3), (0.8, 4, 2, 0.5), (1.0, 8, 4, 0.3), (0.05, 1, 1, 1.0)])
def test_limit_is_the_claims_closed_form(b, d_k, d_v, sigma):
    assert lm.limit_mean(b, d_k, d_v, sigma) == pytest.approx(delta_msd_theory(b, d_k, d_v, sigma), rel=1e-12)
    mom = lm.moments(b, d_k, d_v, sigma, 20_000)
    assert mom[-1, 0] == pytest.approx(delta_msd_theory(b, d_k, d_v, sigma), rel=1e-9)
    assert lm.limit_mean(2 * d_k / (d_k + 2), d_k, d_v, sigma) == math.inf


def test_radial_moments_are_chi_square_moments():
    from scipy import stats

    for d in (1, 2, 5, 16):
        m = lm._radial_moments(d)
        for j in range(1, 5):
            assert m[j - 1] == pytest.approx(stats.chi2(d).moment(j) / d**j, rel=1e-12)


def test_no_step_leaves_the_start():
    """b = 0: nothing is written, so every moment stays at its Wishart start (d_v d_k, (d_v d_k)^2 + 2 d_v d_k,
    d_v d_k (d_v + d_k + 1)), and the time average's variance is Var F_0, the window fully correlated."""
    d_k, d_v = 3, 2
    mom = lm.moments(0.0, d_k, d_v, 0.5, 5)
    f0 = d_v * d_k
    assert np.allclose(mom, [[f0, f0**2 + 2 * f0, f0 * (d_v + d_k + 1)]] * 6, rtol=1e-15)
    mean, var = lm.time_average_mean_variance(0.0, d_k, d_v, 0.5, 3, 10)
    assert mean == f0 and var == pytest.approx(2 * f0, rel=1e-12)
