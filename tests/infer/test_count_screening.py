"""Screening fits (fixed-grid RK4, finite-difference Laplace) on counts of one population agree with the exact fit."""

import numpy as np
import pytest

import cohortode as co
from cohortode.synthetic_counts import epidemic_model, simulate_counts

TIMES = tuple(float(t) for t in range(1, 29))
START = {"S": 0.99, "I": 0.01}
MAP_RTOL = 1e-3  # the grid's error at the optimum is held below 0.1 in -2 log L


@pytest.fixture(scope="module")
def data():
    truth = epidemic_model("sir", beta=1.2, gamma=0.35, initial_infectious=START["I"])
    return co.CountData(simulate_counts(truth, TIMES, population=500, overdispersion=0.05, seed=2),
                        observation="negative_binomial")


def test_screening_fit_of_counts_agrees_with_the_exact_map(data):
    model = co.ODEModel(states=["S", "I", "R"], rhs={"S": "-beta*S*I", "I": "beta*S*I - gamma*I", "R": "gamma*I"},
                        observables={"I": "I"}, initial=START)
    screened = co.fit(model, data, "laplace", screening=True, n_starts=2, laplace_draws_n=200, seed=0, warn=False)
    exact = co.fit(model, data, "map", n_starts=2, seed=0, warn=False)
    assert isinstance(screened, co.infer.CountFit) and screened.solver == "rk4"
    facts = screened.diagnostics["screening"]
    assert facts["grid_ok"] and screened.diagnostics["ok"], screened.diagnostics
    for name in ("beta", "gamma", "overdispersion_I"):
        assert screened.map.values[name] == pytest.approx(exact.map.values[name], rel=MAP_RTOL), name
    assert screened.diagnostics["max_log_likelihood"] >= exact.map.log_likelihood - 0.05
    pred = screened.predict(TIMES[::7])
    assert np.isfinite(pred["expected"]).all() and (pred["expected_lower"] < pred["expected_upper"]).all()
