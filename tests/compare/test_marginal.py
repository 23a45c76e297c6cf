"""Bridge and importance sampling against a marginal likelihood known in closed form (conjugate normal model)."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from cohortode.compare import bridge_sampling, importance_sampling

TOLERANCE = 0.1  # log units, from the issue
ERROR_FACTOR = 2.0  # the spread over seeds matches the reported error within this factor
N_SEEDS = 20


def conjugate_problem(seed=0, n_obs=8, d=2, tau=2.0, sigma=1.0):
    """y_i ~ N(mu, sigma^2 I) (d-vectors), mu ~ N(0, tau^2 I): log p(y), the log posterior, and its exact moments."""
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, sigma, size=(n_obs, d))
    # per coordinate, y[:, k] ~ N(0, sigma^2 I + tau^2 11')
    cov = sigma**2 * np.eye(n_obs) + tau**2 * np.ones((n_obs, n_obs))
    log_ml = sum(multivariate_normal(np.zeros(n_obs), cov).logpdf(y[:, k]) for k in range(d))

    def log_density(mu):  # (n, d) -> (n,)
        mu = np.atleast_2d(mu)
        loglik = -0.5 * (((y[None] - mu[:, None]) / sigma) ** 2).sum(axis=(1, 2)) \
            - 0.5 * n_obs * d * np.log(2 * np.pi * sigma**2)
        logprior = -0.5 * (mu**2).sum(axis=1) / tau**2 - 0.5 * d * np.log(2 * np.pi * tau**2)
        return loglik + logprior
    post_var = 1.0 / (n_obs / sigma**2 + 1.0 / tau**2)
    post_mean = post_var * y.sum(axis=0) / sigma**2
    return log_ml, log_density, post_mean, post_var


def test_bridge_sampling_matches_closed_form_and_its_error_is_honest():
    log_ml, log_density, mean, var = conjugate_problem()
    estimates, errors = [], []
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(100 + seed)
        draws = mean + np.sqrt(var) * rng.standard_normal((4, 200, mean.size))  # exact posterior draws
        result = bridge_sampling(log_density, draws, seed=seed)
        estimates.append(result.log_marginal_likelihood)
        errors.append(result.error)
    estimates, errors = np.array(estimates), np.array(errors)
    assert np.all(np.abs(estimates - log_ml) < TOLERANCE), (estimates - log_ml)
    spread, reported = np.std(estimates, ddof=1), np.mean(errors)
    assert reported / ERROR_FACTOR <= spread <= reported * ERROR_FACTOR, (spread, reported)


def test_importance_sampling_matches_closed_form():
    log_ml, log_density, mean, var = conjugate_problem(seed=1)
    result = importance_sampling(log_density, mean, var * np.eye(mean.size), n=4000, seed=0)
    assert abs(result.log_marginal_likelihood - log_ml) < TOLERANCE
    assert 0 < result.error < TOLERANCE


def test_bridge_sampling_with_autocorrelated_draws_reports_a_larger_error():
    _, log_density, mean, var = conjugate_problem(seed=2)
    rng = np.random.default_rng(0)
    iid = mean + np.sqrt(var) * rng.standard_normal((4, 400, mean.size))
    # an AR(1) chain with the same stationary law (rho = 0.9): ten times fewer effective draws
    ar = np.empty_like(iid)
    ar[:, 0] = iid[:, 0]
    for t in range(1, ar.shape[1]):
        ar[:, t] = mean + 0.9 * (ar[:, t - 1] - mean) + np.sqrt(1 - 0.81) * (iid[:, t] - mean)
    assert bridge_sampling(log_density, ar).error > 2 * bridge_sampling(log_density, iid).error


def test_bridge_sampling_needs_draws():
    _, log_density, mean, _ = conjugate_problem()
    with pytest.raises(ValueError, match="at least 4"):
        bridge_sampling(log_density, np.zeros((1, 2, mean.size)))
