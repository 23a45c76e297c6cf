"""Plausibility checks of validation (mass balance, signed states, never-filled states, division by a state that
starts at 0, structures with nothing to fit) and problem inference from data and a domain."""

from __future__ import annotations

import pytest

from cohortode import CandidateRejected, ModelSpecError, ODEModel, load_cohort
from cohortode.propose import Problem, infer_problem, validate_model
from cohortode.propose._benchmark_problems import benchmark_problem


def _pk() -> Problem:
    return Problem(name="pk", states=["depot", "central"], observables={"conc": "central/V"}, domain="pk")


def _reason(model: ODEModel, problem: Problem) -> str:
    with pytest.raises(CandidateRejected) as info:
        validate_model(model, problem)
    return info.value.reason


def test_a_flow_that_creates_mass_is_rejected_and_a_balanced_one_passes():
    ok = ODEModel(["depot", "central"], {"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                  {"conc": "central/V"})
    validate_model(ok, _pk())
    bad = ODEModel(["depot", "central"], {"depot": "-ka*depot", "central": "kb*depot - ke*central"},
                   {"conc": "central/V"})
    assert "mass balance" in _reason(bad, _pk())


def test_signed_states_may_go_negative_others_may_not():
    rhs = {"x0": "x1", "x1": "-c*x0 - d*x1"}
    model = ODEModel(["x0", "x1"], rhs, {"y": "x0 + b"}, initial={"x0": "a"})
    plain = Problem(name="osc", states=["x0", "x1"], observables={"y": "x0 + b"})
    assert "can go negative" in _reason(model, plain)
    signed = Problem(name="osc", states=["x0", "x1"], observables={"y": "x0 + b"}, signed=("x0", "x1"))
    validate_model(model, signed)
    with pytest.raises(ModelSpecError, match="signed"):
        Problem(name="osc", states=["x0"], observables={"y": "x0"}, signed=("v",))


def test_structure_without_parameters_is_rejected_with_a_reason():
    model = ODEModel(["x_0", "x_1"], {"x_0": "-2*x_0", "x_1": "0"}, {"y": "x_0"}, initial={"x_0": "1"})
    problem = Problem(name="p", states=["x_0", "x_1"], observables={"y": "x_0"}, initial={"x_0": "1"})
    assert "no free parameters" in _reason(model, problem)


def test_state_never_filled_is_rejected():
    model = ODEModel(["depot", "central", "peripheral"],
                     {"depot": "-ka*depot", "central": "ka*depot - ke*central", "peripheral": "-kp*peripheral"},
                     {"conc": "central/V"})
    assert "stays 0" in _reason(model, benchmark_problem("theophylline").problem)


def test_division_by_a_state_that_starts_at_zero_is_rejected():
    problem = Problem(name="seir", states=["S", "E", "I"], observables={"cases": "I"},
                      initial={"S": "N - 1", "I": "1"}, domain="epidemic")
    model = ODEModel(["S", "E", "I"], {"S": "-beta*S*I/E", "E": "beta*S*I/E - s*E", "I": "s*E - g*I"},
                     {"cases": "I"}, initial={"S": "N - 1", "I": "1"})
    assert "starts at 0" in _reason(model, problem)


def test_problem_inferred_for_pk_and_growth_and_a_clear_error_otherwise():
    pk = infer_problem(load_cohort("theophylline"), domain="pk")
    assert pk.state_names == ("depot", "central") and pk.observables == {"conc": "central/V"}
    growth = infer_problem(load_cohort("synthetic_logistic_growth"), domain="growth")
    assert growth.state_names == ("size",) and growth.observables == {"size": "size"}
    with pytest.raises(ModelSpecError, match="Problem.from_cohort"):
        infer_problem(load_cohort("theophylline"), domain=None)
