"""Tests of PSIS-LOO from draws of an approximate posterior (the screening Laplace fit)."""

from __future__ import annotations

import numpy as np
import pytest

import arviz as az
from cohortode.infer._approximate_loo import approximate_posterior_loo


def _normal_loglik(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -0.5 * (y[None, :] - draws[:, None]) ** 2 - 0.5 * np.log(2 * np.pi)


def test_exact_posterior_draws_give_arviz_loo():
    """With draws from the posterior itself (density ratio constant) the estimate is arviz's PSIS-LOO."""
    rng = np.random.default_rng(1)
    y = rng.normal(1.0, 1.0, size=12)
    draws = rng.normal(y.mean(), 1 / np.sqrt(len(y)), size=2000)
    ll = _normal_loglik(draws, y)
    ours = approximate_posterior_loo(ll, np.zeros(len(draws)), np.zeros(len(draws)))
    idata = az.from_dict(posterior={"mu": draws[None, :]}, log_likelihood={"y": ll[None, :, :]})
    theirs = az.loo(idata, pointwise=True)
    assert ours.elpd_loo == pytest.approx(float(theirs.elpd_loo), abs=1e-6)
    np.testing.assert_allclose(np.asarray(ours.pareto_k), np.asarray(theirs.pareto_k), atol=1e-6)


def test_too_few_finite_draws_is_a_clear_floating_point_error():
    """A Laplace approximation whose draws nearly all give NaN solutions has no leave-one-out estimate; the error
    says how many draws were finite (before: an IndexError from inside arviz's smoothing)."""
    rng = np.random.default_rng(2)
    y = rng.normal(size=8)
    ll = _normal_loglik(rng.normal(size=200), y)
    ll[1:] = np.nan
    with pytest.raises(FloatingPointError, match=r"only 1 of 200 draws"):
        approximate_posterior_loo(ll, np.zeros(200), np.zeros(200))
