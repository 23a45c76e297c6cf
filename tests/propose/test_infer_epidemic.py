"""``infer_problem`` on outbreak counts of the infectious only: an SIR problem over fractions of the population that
the motif library composes structures for, and a screening MAP fit of the simplest one recovers the truth roughly;
without the population size, a clear error lists what to add."""

from __future__ import annotations

import pytest

import cohortode as co
from cohortode import ModelSpecError
from cohortode.propose import infer_problem
from cohortode.propose.motifs import default_library
from cohortode.synthetic_counts import epidemic_model, simulate_counts

TIMES = tuple(float(t) for t in range(1, 29))
TRUTH = {"beta": 1.2, "gamma": 0.35, "I0": 0.01}
RTOL = 0.5
"""Relative tolerance of the MAP rates (28 negative-binomial counts in a population of 500)."""


def _counts(**kwargs) -> co.CountData:
    truth = epidemic_model("sir", beta=TRUTH["beta"], gamma=TRUTH["gamma"], initial_infectious=TRUTH["I0"])
    table = simulate_counts(truth, TIMES, population=500, overdispersion=0.05, seed=2)
    return co.CountData(table, observation="negative_binomial", **kwargs)


def test_counts_of_infected_give_an_sir_problem_the_motif_library_fits():
    data = _counts()
    problem = infer_problem(data, domain="epidemic")
    assert problem.state_names == ("S", "I", "R") and problem.observables == {"I": "I"}
    assert problem.initial == {"S": "1 - I0", "I": "I0"}
    compositions = default_library().compositions(problem)
    simplest = ("sir", "frequency_dependent", "constant_contact")
    assert simplest in compositions
    model = default_library().build(problem, simplest)
    fit = co.fit(model, data, method="map", screening=True, seed=0)
    values = fit.map.values
    for name in ("beta", "gamma"):
        assert float(values[name]) == pytest.approx(TRUTH[name], rel=RTOL), dict(values)


def test_compartments_observed_without_the_population_size_say_what_to_add():
    table = simulate_counts(epidemic_model("sir", beta=1.2, gamma=0.35, initial_infectious=0.01), TIMES,
                            population=500, overdispersion=0.05, seed=2).drop(columns=["population"])
    data = co.CountData(table, observation="negative_binomial")
    with pytest.raises(ModelSpecError, match=r"'population' column.*initial=\{'S': '9999', 'I': '1'\}"):
        infer_problem(data, domain="epidemic")


def test_other_observed_names_keep_one_state_each():
    table = simulate_counts(epidemic_model("sir", beta=1.2, gamma=0.35, initial_infectious=0.01), TIMES,
                            population=500, overdispersion=0.05, seed=2)
    table["observable"] = "hospitalised"
    problem = infer_problem(co.CountData(table, observation="negative_binomial"), domain="epidemic")
    assert problem.state_names == ("hospitalised",)
