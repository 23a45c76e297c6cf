"""A population size used in equations but not declared by the problem: replaced by the sum of the states in an
epidemic problem, rejected with a reason elsewhere, left alone when declared."""

from __future__ import annotations

import pytest

from cohortode import CandidateRejected
from cohortode.propose import Problem
from cohortode.propose._feedback import model_from_equations
from cohortode.propose._population import population_size_names, resolve_population_size

SIR = "d(S)/dt = -beta*S*I/N; d(I)/dt = beta*S*I/N - gamma*I; d(R)/dt = gamma*I; infected = I"


def _problem(**kw):
    base = dict(name="outbreak", states=("S", "I", "R"), observables={"infected": "I"}, domain="epidemic",
                initial={"S": "762", "I": "1"})
    return Problem(**{**base, **kw})


def test_undeclared_population_size_is_the_sum_of_the_states_in_an_epidemic():
    model = model_from_equations(SIR)
    assert "N" in model.parameter_names  # what the parser alone makes of it
    out, note = resolve_population_size(model, _problem())
    assert "N" not in out.parameter_names and set(out.parameter_names) == {"beta", "gamma"}
    assert "I + R + S" in note  # sympy's order of S + I + R
    assert "population size" in out.description
    assert not {"S", "I", "R"} - {s.name for s in out.rhs["S"].free_symbols}


def test_declared_population_size_is_left_alone():
    covariate = _problem(covariates=("N",))
    model = model_from_equations(SIR, covariates=("N",))
    assert resolve_population_size(model, covariate) == (model, "")
    in_initial = _problem(initial={"S": "N - 1", "I": "1"})  # the problem estimates N (as the motif library does)
    model = model_from_equations(SIR)
    assert population_size_names(model, in_initial) == []
    assert resolve_population_size(model, in_initial) == (model, "")


def test_undeclared_population_size_outside_epidemics_is_rejected_with_how_to_declare_it():
    problem = Problem(name="tumour", states=("x",), observables={"volume": "x"}, domain="growth",
                      initial={"x": "1"})
    model = model_from_equations("d(x)/dt = r*x*(1 - x/N); volume = x")
    with pytest.raises(CandidateRejected, match=r"'N' reads as a population size.*covariates=\('N',\)"):
        resolve_population_size(model, problem)


@pytest.mark.parametrize("name", ["V", "Vmax", "Km", "EC50", "n", "N0", "Kp"])
def test_ordinary_capitalised_parameters_are_not_population_sizes(name):
    model = model_from_equations(f"d(x)/dt = -{name}*x; y = x")
    problem = Problem(name="p", states=("x",), observables={"y": "x"}, domain="growth", initial={"x": "1"})
    assert population_size_names(model, problem) == []
