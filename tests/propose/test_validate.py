"""Tests of candidate validation and deduplication."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import sympy

from cohortode._errors import CandidateRejected
from cohortode.propose._candidate import Candidate
from cohortode.propose._problem import Problem
from cohortode.propose._validate import check_positivity, deduplicate, validate_model
from cohortode.spec import ODEModel


def _oral_data() -> SimpleNamespace:
    obs = pd.DataFrame({"cohort": "a", "time": [1.0, 2.0, 4.0], "observable": "conc", "mean": [3.0, 2.0, 1.0],
                        "sd": 0.1, "n": 10})
    dosing = pd.DataFrame({"cohort": ["a"], "time": [0.0], "amount": [100.0], "target": ["depot"],
                           "duration": [0.0]})
    return SimpleNamespace(observations=obs, dosing=dosing)


@pytest.fixture(scope="module")
def oral() -> Problem:
    return Problem.from_cohort(_oral_data(), states=["depot", "central"], observables={"conc": "central/V"})


@pytest.fixture(scope="module")
def sir() -> Problem:
    return Problem("sir", ["S", "I", "R"], {"infected": "I"}, covariates=("N",), initial={"S": "N - 1", "I": "1"})


def _oral(central: str = "ka*depot - ke*central", depot: str = "-ka*depot", **kwargs) -> ODEModel:
    obs = kwargs.pop("observables", {"conc": "central/V"})
    return ODEModel(["depot", "central"], {"depot": depot, "central": central}, obs, **kwargs)


def _reason(model: ODEModel, problem: Problem, **kwargs) -> str:
    with pytest.raises(CandidateRejected) as info:
        validate_model(model, problem, **kwargs)
    return info.value.reason


def test_valid_models_pass(oral, sir):
    validate_model(_oral(), oral)
    validate_model(ODEModel(["S", "I", "R"], {"S": "-beta*S*I/N", "I": "beta*S*I/N - gamma*I", "R": "gamma*I"},
                            {"infected": "I"}, initial={"S": "N - 1", "I": "1"}, covariates=["N"]), sir)
    # x*log(K/x) is undefined at x = 0 but tends to 0: the limit decides
    growth = Problem("g", ["x"], {"size": "x"})
    validate_model(ODEModel(["x"], {"x": "r*x*log(K/x)"}, {"size": "x"}, initial={"x": "x0"}), growth)


def test_positivity_violation_names_state_and_derivative(oral):
    reason = _reason(_oral(central="ka*depot - ke"), oral)
    assert reason.startswith("state 'central' can go negative: d(central)/dt = ")
    assert "< 0 when central = 0" in reason
    model = ODEModel(["depot", "central"], {"depot": "-ka*depot", "central": "-ke"}, {"conc": "central/V"})
    with pytest.raises(CandidateRejected, match="state 'central' can go negative: d\\(central\\)/dt = -ke < 0 "
                                                "when central = 0"):
        check_positivity(model)
    # only the listed states need to stay non-negative
    check_positivity(model, nonnegative=["depot"])


def test_non_finite_rhs_is_rejected(oral):
    # finite where ODEModel checks (0.5..2) but complex for larger ka
    reason = _reason(_oral(central="ka*depot - ke*central*sqrt(3 - ka)"), oral)
    assert reason.startswith("d(central)/dt = ") and "not finite and real at the test point" in reason


def test_not_finite_at_zero_is_rejected():
    problem = Problem("g", ["x"], {"size": "x"})
    reason = _reason(ODEModel(["x"], {"x": "r*x*exp(k/x)"}, {"size": "x"}, initial={"x": "x0"}), problem)
    assert "is not finite when x = 0" in reason
    reason = _reason(ODEModel(["x"], {"x": "r - k/x"}, {"size": "x"}, initial={"x": "x0"}), problem)
    assert reason.startswith("state 'x' can go negative: d(x)/dt = r - k/x < 0 as x -> 0")


def test_unknown_symbol_is_rejected(oral):
    model = _oral()
    model.rhs["central"] = model.rhs["central"] + sympy.Symbol("zz")  # bypassing the constructor's checks
    assert "unknown symbol 'zz' in d(central)/dt" in _reason(model, oral)


def test_unknown_covariate_and_covariate_used_as_parameter(oral, sir):
    model = _oral(central="ka*depot - ke*central*WT", covariates=["WT"])
    assert "unknown covariate(s) ['WT']" in _reason(model, oral)
    as_param = ODEModel(["S", "I", "R"], {"S": "-beta*S*I/N", "I": "beta*S*I/N - gamma*I", "R": "gamma*I"},
                        {"infected": "I"}, initial={"S": "N - 1", "I": "1"})
    assert "['N'] are covariates of the problem but the model estimates them" in _reason(as_param, sir)


def test_missing_state_and_observables(oral):
    one = ODEModel(["central"], {"central": "-ke*central"}, {"conc": "central/V"})
    assert "state(s) ['depot'] of the problem are missing" in _reason(one, oral)
    no_obs = _oral(observables={"amount": "central"})
    assert "observable 'conc' of the problem is not defined by the model" in _reason(no_obs, oral)
    model = _oral()
    model.observables["conc"] = sympy.Symbol("V")
    assert "observable 'conc' = V does not depend on any state" in _reason(model, oral)


def test_fixed_initial_values_must_match(sir):
    model = ODEModel(["S", "I", "R"], {"S": "-beta*S*I/N", "I": "beta*S*I/N - gamma*I", "R": "gamma*I"},
                     {"infected": "I"}, initial={"S": "N", "I": "1"}, covariates=["N"])
    assert "initial value of 'S' is fixed by the problem to N - 1" in _reason(model, sir)


def test_doses_must_reach_an_observable(oral):
    model = _oral(central="-ke*central", depot="-ka*depot")
    assert "doses into 'depot' never reach an observable" in _reason(model, oral)


def test_no_dynamics_is_rejected():
    problem = Problem("g", ["x"], {"size": "x"})
    model = ODEModel(["x"], {"x": 0}, {"size": "x + b"})
    assert "no dynamics" in _reason(model, problem)


def test_size_limits(oral):
    model = _oral(central="ka*depot - k1*central - k2*central - k3*central - k4*central")
    assert "too many parameters: 6 > max_parameters=5" in _reason(model, oral, max_parameters=5)
    assert "complexity" in _reason(_oral(), oral, max_complexity=5)


# ------------------------------------------------------------------------------------------ deduplication
def _cand(model: ODEModel, text: str = "") -> Candidate:
    return Candidate(model, text, "llm-expression")


def test_renamed_and_reordered_duplicates_merge():
    a = _oral()
    renamed = ODEModel(["depot", "central"], {"depot": "-kabs*depot", "central": "-kel*central + kabs*depot"},
                       {"conc": "central/Vd"})
    reordered = ODEModel(["central", "depot"], {"central": "ka*(depot - central*ke/ka)", "depot": "-depot*ka"},
                         {"conc": "central/V"})
    different = _oral(central="ka*depot - Vmax*central/(Km + central)")
    out = deduplicate([_cand(a, "a"), _cand(renamed, "b"), _cand(different, "c"), _cand(reordered, "d")])
    assert [c.status for c in out] == ["valid", "duplicate", "valid", "duplicate"]
    assert out[1].reason.startswith("duplicate of d(depot)/dt = ")
    assert out[0] is not None and out[1].raw_text == "b"


def test_deduplicate_across_rounds_and_passes_rejected_through():
    seen: set[str] = set()
    first = deduplicate([_cand(_oral())], seen)
    assert first[0].status == "valid" and len(seen) == 1
    rejected = Candidate(None, "bad", "llm-expression", status="rejected", reason="did not parse")
    second = deduplicate([_cand(_oral()), rejected], seen)
    assert second[0].status == "duplicate" and "met earlier" in second[0].reason
    assert second[1] is rejected
