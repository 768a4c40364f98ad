"""``kernel_moments.ratio_parts`` (exact relative variances of X and Y, and log E[X]) against an independent
brute-force numpy Monte Carlo of one plain sample of the ratio-of-expectations convention.

What one sample is (read from ``impl.estimators.snr_kernel.plain``, the fresh-probe branch, and the docstring of
``ratio_parts``): pair 0 is the probe, so per trial a fresh probe key q ~ N(0, I_{d_k}) and its own value
v_0 ~ N(0, I_{d_v}), and n_pairs - 1 other pairs k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}), all independent;
    Y = ||r||^2 with r = sum_{j >= 1} kappa(k_j, q) v_j,     X = c^2 nu with c = kappa(q, q), nu = ||v_0||^2.
ratio_parts returns (Var X / E[X]^2, Var Y / E[Y]^2, log E[X]).

The kernels are written here again in numpy from ``impl.memories.kernels.log_kernel`` (nothing of impl is used but
the function under test): linear x^T y, relu max(x^T y, 0), poly (x^T y)^p, exp e^{x^T y / tau},
rbf e^{-||x - y||^2 / (2 s^2)}; these are the five names ratio_parts accepts (``ANALYTIC_KERNELS``).

Statistics: N samples are split into N_BATCHES batches; each statistic (relative variance Var/mean^2 of X and of Y,
log of the mean of X) is computed per batch, the estimate is the mean over batches and its standard error the
batches' standard deviation / sqrt(N_BATCHES). Each check asserts (a) the SE is small enough to be decisive
(SE < 2 % of the relative variance; SE < 0.02 in log E[X], i.e. 2 % of E[X]) and (b) |exact - MC| <= 5 SE.
False-failure rate of (b): the batch statistic is a mean of N / N_BATCHES samples, close to normal, so
(estimate - exact) / SE is close to Student t with N_BATCHES - 1 = 49 degrees of freedom: P(|t_49| > 5) = 7.7e-6
per comparison, about 2e-4 for the file's 26 comparisons (were the seed random; the seed is fixed, so the outcome is
deterministic). The bias of a batch's relative variance (a ratio of sample moments) is O(1/batch size): measured as
(mean of the batches - pooled estimate), at most 0.17 SE in these cases; over 40 other seeds the z-scores of the first
exp case had standard deviation 0.95-1.1 and none exceeded 3.1. The parameters keep every moment this needs finite:
the batch relative variance of Z needs E[Z^4] < inf for its own CLT, so for exp with tau > 16
(E[X^4] = E[e^{8 ||q||^2 / tau}] d_v(d_v+2)(d_v+4)(d_v+6) needs 16 / tau < 1) all three are checked, and at tau = 12
only ry (E[Y^4] needs tau > 8) and log E[X] (E[X^2] needs tau > 8) are.

Power (mutants of ratio_parts applied by hand, each failing this file): ``8 / tau**2 -> 8 / tau**3`` in the exp
E[w^4] term (every exp case: ry off by 8 % at tau = 20, z = +43, +164, +78); the rbf shared-probe cross term
E[w_1^2 w_2^2] replaced by E[w^2]^2 (``log1p(4 * b2) -> log1p(2 * b2)``, z = -109, rbf at n_pairs = 3 only, as it
should: the term has weight 0 at n_pairs = 2); the same for the homogeneous kernels (``e_kappa(2 * g) ->
2 * e_kappa(g)`` in lm22: linear and relu at n_pairs = 3, z = +16 and +6.5; the poly case alone would miss it, 3 SE).
"""

import math

import numpy as np
import pytest

from impl.estimators.kernel_moments import ratio_parts

N_BATCHES = 50
Z_LIMIT = 5.0  # |exact - MC| <= 5 SE: P(|t_49| > 5) = 7.7e-6 per comparison (module docstring)
MAX_RELATIVE_SE = 0.02  # the check must be decisive: SE below 2 % of the value (below 0.02 in log E[X])
SEED = 20_260_611
PARTS = ("rx", "ry", "log_ex")


def kernel_values(kernel, keys, probes, *, tau, p, s):
    """kappa(k, q) for keys [n, m, d] against probes [n, d] -> [n, m], float64 numpy, written from the conventions
    of impl.memories.kernels.log_kernel (not imported)."""
    dots = np.einsum("nmd,nd->nm", keys, probes)
    if kernel == "linear":
        return dots
    if kernel == "relu":
        return np.maximum(dots, 0.0)
    if kernel == "poly":
        return dots**p
    if kernel == "exp":
        return np.exp(dots / tau)
    if kernel == "rbf":
        squared_distance = ((keys - probes[:, None, :]) ** 2).sum(-1)
        return np.exp(-squared_distance / (2 * s**2))
    raise ValueError(kernel)


def sample_x_y(kernel, n_pairs, d_k, d_v, n_samples, rng, **params):
    """n_samples independent plain samples (X, Y) of the ratio-of-expectations convention (module docstring)."""
    probe_key = rng.standard_normal((n_samples, d_k))
    probe_value = rng.standard_normal((n_samples, d_v))
    other_keys = rng.standard_normal((n_samples, n_pairs - 1, d_k))
    other_values = rng.standard_normal((n_samples, n_pairs - 1, d_v))
    signal = kernel_values(kernel, probe_key[:, None, :], probe_key, **params)[:, 0]  # c = kappa(q, q)
    weights = kernel_values(kernel, other_keys, probe_key, **params)  # kappa(k_j, q)
    noise = np.einsum("nm,nmd->nd", weights, other_values)  # r = sum_j kappa(k_j, q) v_j
    x = signal**2 * (probe_value**2).sum(-1)
    y = (noise**2).sum(-1)
    return x, y


def batch_means_estimate(kernel, n_pairs, d_k, d_v, batch_size, rng, **params):
    """{part: (estimate, standard error)} from N_BATCHES batches of batch_size samples each."""
    per_batch = []
    for _ in range(N_BATCHES):
        x, y = sample_x_y(kernel, n_pairs, d_k, d_v, batch_size, rng, **params)
        per_batch.append((x.var(ddof=1) / x.mean() ** 2, y.var(ddof=1) / y.mean() ** 2, math.log(x.mean())))
    per_batch = np.array(per_batch)
    estimates = per_batch.mean(0)
    standard_errors = per_batch.std(0, ddof=1) / math.sqrt(N_BATCHES)
    return {part: (estimates[i], standard_errors[i]) for i, part in enumerate(PARTS)}


# (kernel, n_pairs, d_k, d_v, parameters, batch size, parts checked)
CASES = [
    ("exp", 3, 3, 4, dict(tau=20.0), 20_000, PARTS),
    ("exp", 2, 4, 6, dict(tau=20.0), 20_000, PARTS),
    ("exp", 3, 3, 4, dict(tau=12.0), 20_000, ("ry", "log_ex")),  # E[X^4] = inf at tau <= 16: rx not estimable
    ("linear", 3, 4, 4, {}, 20_000, PARTS),
    ("relu", 3, 6, 8, {}, 20_000, PARTS),
    ("relu", 2, 4, 4, {}, 20_000, PARTS),
    ("poly", 3, 16, 8, dict(p=2), 80_000, PARTS),  # w^2 = (k^T q)^4 is heavy-tailed: 4e6 samples for ry's 2 %
    ("rbf", 3, 3, 4, dict(s=1.5), 20_000, PARTS),
    ("rbf", 2, 3, 4, dict(s=1.0), 20_000, PARTS),
]


def _case_id(case):
    kernel, n_pairs, d_k, d_v, params = case[:5]
    return "-".join([kernel, f"N{n_pairs}", f"dk{d_k}", f"dv{d_v}"] + [f"{k}{v:g}" for k, v in params.items()])


@pytest.mark.parametrize("case_number, case", list(enumerate(CASES)), ids=[_case_id(c) for c in CASES])
def test_ratio_parts_match_brute_force_monte_carlo(case_number, case):
    kernel, n_pairs, d_k, d_v, params, batch_size, parts_checked = case
    kernel_params = {"tau": 1.0, "p": 2, "s": 1.0, **params}
    exact = dict(zip(PARTS, ratio_parts(kernel, n_pairs, d_k, d_v, **kernel_params)))
    rng = np.random.default_rng([SEED, case_number])
    monte_carlo = batch_means_estimate(kernel, n_pairs, d_k, d_v, batch_size, rng, **kernel_params)
    problems = []
    for part in parts_checked:
        estimate, standard_error = monte_carlo[part]
        scale = 1.0 if part == "log_ex" else abs(exact[part])  # log E[X]: SE in log = relative SE of E[X]
        line = (f"{part}: exact {exact[part]:.6g}, MC {estimate:.6g} +- {standard_error:.3g} "
                f"(z = {(estimate - exact[part]) / standard_error:+.2f}, SE/scale = {standard_error / scale:.2%})")
        if not math.isfinite(exact[part]):
            problems.append(f"{line}: the exact value is not finite")
        elif standard_error >= MAX_RELATIVE_SE * scale:
            problems.append(f"{line}: SE too large for a decisive check")
        elif abs(estimate - exact[part]) > Z_LIMIT * standard_error:
            problems.append(f"{line}: more than {Z_LIMIT:g} SE apart")
    assert not problems, f"{_case_id(case)}:\n" + "\n".join(problems)
