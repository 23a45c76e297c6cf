"""Observation models against SciPy's distributions (an independent implementation), and the count likelihood."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cohortode as co
from cohortode.likelihood import CountLikelihood, get_observation_model

K = np.array([0.0, 1.0, 7.0, 30.0, 120.0])
RTOL = 1e-10


def test_binomial_matches_scipy():
    n, p = 150.0, 0.23
    got = np.asarray(get_observation_model("binomial").log_prob(K, n, p * n, {}))
    np.testing.assert_allclose(got, stats.binom.logpmf(K, n, p), rtol=RTOL)


def test_poisson_matches_scipy():
    got = np.asarray(get_observation_model("poisson").log_prob(K, np.inf, 12.5, {}))
    np.testing.assert_allclose(got, stats.poisson.logpmf(K, 12.5), rtol=RTOL)


def test_negative_binomial_matches_scipy():
    mu, alpha = 25.0, 0.3
    r = 1 / alpha
    got = np.asarray(get_observation_model("negative_binomial").log_prob(K, np.inf, mu, {"overdispersion": alpha}))
    np.testing.assert_allclose(got, stats.nbinom.logpmf(K, r, r / (r + mu)), rtol=RTOL)


@pytest.mark.parametrize("name", ["binomial", "poisson", "negative_binomial"])
def test_failed_solves_and_impossible_means_give_minus_inf(name):
    model = get_observation_model(name)
    params = {"overdispersion": np.array(0.2)}
    got = np.asarray(model.log_prob(np.array([3.0, 3.0]), 10.0, np.array([np.nan, -1.0]), params))
    assert np.all(got == -np.inf)


@pytest.mark.parametrize("name", ["binomial", "poisson", "negative_binomial"])
def test_samples_have_the_model_mean_and_variance(name):
    model = get_observation_model(name)
    n, mu, alpha = 200.0, 40.0, 0.25
    draws = model.sample(np.random.default_rng(0), np.full(20000, n), np.full(20000, mu), {"overdispersion": alpha})
    var = {"binomial": mu * (1 - mu / n), "poisson": mu, "negative_binomial": mu + alpha * mu**2}[name]
    assert abs(draws.mean() - mu) < 4 * np.sqrt(var / draws.size)
    assert abs(draws.var() / var - 1) < 0.05


def test_unknown_and_cohort_mean_names():
    with pytest.raises(ValueError, match="unknown observation model"):
        get_observation_model("gaussian")
    with pytest.raises(ValueError, match="CohortData"):
        get_observation_model("cohort_mean")


def test_count_likelihood_rows_and_sites():
    """Per-row log-likelihood of a decay model against SciPy, with a reporting fraction and two observables."""
    model = co.ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"on": "x", "events": "k*x"},
                        initial={"x": 1.0})
    df = pd.DataFrame({"time": [1.0, 2.0, 1.0, 2.0], "observable": ["on", "on", "events", "events"],
                       "count": [70, 50, 20, 12], "population": [100, 100, 100, 100]})
    data = co.CountData(df, observation={"events": "negative_binomial"}, reporting=["events"])
    lik = CountLikelihood(model, data)
    values = {"k": 0.3, "overdispersion_events": 0.2, "reporting_events": 0.5}
    got = np.asarray(jax.jit(lik.pointwise)(values))
    obs = data.observations
    x = np.exp(-0.3 * obs["time"].to_numpy())
    expect = np.where(obs["observable"] == "on", stats.binom.logpmf(obs["count"], 100, x),
                      stats.nbinom.logpmf(obs["count"], 5.0, 5.0 / (5.0 + 0.5 * 100 * 0.3 * x)))
    np.testing.assert_allclose(got, expect, rtol=1e-5)
    problem = co.infer.BayesianProblem.build(lik)
    assert problem.site_names == ["k", "overdispersion_events", "reporting_events"]
    assert not any(s.startswith(("omega_", "sigma_")) for s in problem.site_names)


def test_epidemic_motif_structures_take_count_data():
    """A structure built by the epidemic motifs for a count table has a finite count likelihood at its priors."""
    from cohortode.propose import Problem
    from cohortode.propose.motifs import default_library

    df = pd.DataFrame({"time": [1.0, 2.0, 3.0], "count": [8, 15, 24], "population": [300, 300, 300]})
    data = co.CountData(df, observable="cases")
    problem = Problem("outbreak", ["S", "I", "R"], {"cases": "I"}, data=data, domain="epidemic",
                      initial={"S": "0.99", "I": "0.01"})
    model = default_library().build(problem, ("seir", "frequency_dependent", "constant_contact"))
    lik = CountLikelihood(model, data)
    problem_ = co.infer.BayesianProblem.build(lik)
    values = {name: prior.typical() for name, prior in problem_.priors.items()}
    assert "overdispersion_cases" not in values  # binomial: a population is given
    assert np.isfinite(np.asarray(jax.jit(lik.pointwise)(values))).all()
