"""Tests of the proposer's Problem, Candidate, Feedback records and of the data-shape summary."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cohortode._errors import ModelSpecError
from cohortode.propose._candidate import Candidate
from cohortode.propose._feedback import Feedback, ScoredStructure, model_from_equations
from cohortode.propose._problem import Problem, StateInfo
from cohortode.propose._summary import DataSummary, ObservableSummary, summarise
from cohortode.spec import ODEModel


def _data(curves: dict[str, tuple[np.ndarray, np.ndarray]], *, dosing: pd.DataFrame | None = None,
          time_unit: str = "h", units: dict[str, str] | None = None) -> SimpleNamespace:
    """A duck-typed cohort: observable -> (times, means) in one cohort 'a'."""
    rows = []
    for name, (t, y) in curves.items():
        rows += [{"cohort": "a", "time": float(ti), "observable": name, "mean": float(yi), "sd": 0.1, "n": 10}
                 for ti, yi in zip(t, y)]
    if dosing is None:
        dosing = pd.DataFrame(columns=["cohort", "time", "amount", "target", "duration"])
    return SimpleNamespace(observations=pd.DataFrame(rows), dosing=dosing, time_unit=time_unit,
                           units=units or {}, description="a test study")


def _dose(target: str, duration: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"cohort": ["a"], "time": [0.0], "amount": [100.0], "target": [target],
                         "duration": [duration]})


# ------------------------------------------------------------------------------------------------- Problem
def test_problem_converts_states_and_exposes_names():
    p = Problem("p", ["depot", ("central", "drug amount in plasma"), StateInfo("x", "other", "mg")],
                {"conc": "central/V"})
    assert p.state_names == ("depot", "central", "x")
    assert p.state("central").meaning == "drug amount in plasma"
    assert all(isinstance(s, StateInfo) for s in p.states)
    assert p.dose_targets == () and p.initial == {} and p.domain is None
    with pytest.raises(KeyError, match="no state 'y'"):
        p.state("y")


@pytest.mark.parametrize("kwargs, match", [
    ({"states": ["a", "a"]}, "duplicate state"),
    ({"states": []}, "no states"),
    ({"states": ["1x"]}, "not a valid identifier"),
    ({"observables": {}}, "at least one observable"),
    ({"observables": {"conc": "V"}}, "uses none of the states"),
    ({"observables": {"conc": "central/"}}, "observable 'conc'"),
    ({"initial": {"nope": "1"}}, "unknown state 'nope'"),
    ({"initial": {"central": "central + 1"}}, "may not depend on states"),
    ({"domain": "chemistry"}, "unknown domain"),
    ({"covariates": ("central",)}, "clash"),
])
def test_problem_rejects_bad_definitions(kwargs, match):
    args = {"name": "p", "states": ["central"], "observables": {"conc": "central/V"}, **kwargs}
    with pytest.raises(ModelSpecError, match=match):
        Problem(**args)


def test_problem_dose_targets_from_data():
    dosing = pd.concat([_dose("depot"), _dose("central", 2.0)], ignore_index=True)
    data = _data({"conc": (np.arange(1.0, 5.0), np.ones(4))}, dosing=dosing)
    p = Problem.from_cohort(data, states=["depot", "central"], observables={"conc": "central/V"})
    assert p.dose_targets == ("depot", "central")
    assert p.infused_targets == ("central",)
    assert p.bolus_targets == ("depot",)
    assert p.context == "a test study" and p.time_unit == "h"
    assert "Doses go into: depot (bolus), central (infusion)" in p.describe()


def test_from_cohort_checks_observables_and_dose_targets():
    data = _data({"conc": (np.arange(1.0, 5.0), np.ones(4))}, dosing=_dose("gut"))
    with pytest.raises(ModelSpecError, match="doses go into \\['gut'\\]"):
        Problem.from_cohort(data, states=["central"], observables={"conc": "central/V"})
    with pytest.raises(ModelSpecError, match="the data observe \\['conc'\\]"):
        Problem.from_cohort(data, states=["gut", "central"], observables={"effect": "central"})


def test_problem_summary_needs_data():
    p = Problem("p", ["central"], {"conc": "central/V"})
    with pytest.raises(ValueError, match="has no data"):
        p.summary()


# ---------------------------------------------------------------------------------------- small records
def test_candidate_and_feedback_records():
    model = ODEModel(["central"], {"central": "-ke*central"}, {"conc": "central/V"})
    cand = Candidate(model, "text", "motif", mechanism=["a", "b"])
    assert cand.mechanism == ("a", "b") and cand.structure_hash == model.structure_hash and cand.is_valid
    assert Candidate(None, "garbage", "llm-expression", status="rejected").structure_hash == ""
    with pytest.raises(ValueError, match="status"):
        Candidate(model, "", "motif", status="maybe")
    scored = ScoredStructure.from_model(model, -3.0)
    fb = Feedback(best=[ScoredStructure.from_model(model, -5.0), scored], tried=["x"], rejected=[("y", "why")])
    assert fb.ranked()[0].score == -3.0 and fb.rejected == (("y", "why"),)
    assert scored.model().structure_hash == model.structure_hash


def test_model_from_equations_roundtrip_and_errors():
    model = ODEModel(["S", "I", "R"], {"S": "-beta*S*I/N", "I": "beta*S*I/N - gamma*I", "R": "gamma*I"},
                     {"infected": "I"}, initial={"S": "N - 1", "I": "1"}, covariates=["N"])
    again = model_from_equations(model.equations(), covariates=("N",))
    assert again.structure_hash == model.structure_hash and again.covariates == ("N",)
    assert model_from_equations("; ".join(model.equations()), ("N",)).structure_hash == model.structure_hash
    with pytest.raises(ModelSpecError, match="no '='"):
        model_from_equations(["d(x)/dt"])
    with pytest.raises(ModelSpecError, match="left-hand side"):
        model_from_equations(["d(x)/dt = -k*x", "f(x, y) = x"])


# ------------------------------------------------------------------------------------------------ summary
def test_summary_biexponential_curve():
    t = np.array([0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 12, 24, 36, 48])
    alpha, beta = 1.4, 0.07
    y = 8.0 * np.exp(-alpha * t) + 2.0 * np.exp(-beta * t)
    s = summarise(_data({"conc": (t, y)}, units={"conc": "mg/L"})).observables[0]
    assert s.shape == "decreasing" and s.biexponential and not s.plateau and not s.oscillation
    true_half_life = math.log(2) / beta
    assert s.apparent_half_life == pytest.approx(true_half_life, rel=0.10)
    assert s.peak_time == pytest.approx(0.1) and s.n_times == 12
    text = s.text()
    assert "decreases" in text and "bi-exponential" in text and "half-life" in text and "mg/L" in text


def test_summary_logistic_curve_has_plateau():
    t = np.linspace(0, 42, 12)
    y = 1500 / (1 + (1500 / 60 - 1) * np.exp(-0.25 * t))
    s = summarise(_data({"size": (t, y)}, time_unit="day")).observables[0]
    assert s.shape == "increasing" and s.plateau and s.apparent_half_life is None and not s.biexponential
    assert "plateau" in s.text()


def test_summary_noisy_final_dip_still_levels_off():
    t = np.array([0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42.0])
    y = np.array([62, 119, 292, 520, 900, 1150, 1300, 1380, 1420, 1500, 1410.0])
    s = summarise(_data({"size": (t, y)})).observables[0]
    assert s.shape == "increasing" and s.plateau


def test_summary_oral_curve_rises_then_falls():
    t = np.array([0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24])
    ka, ke = 1.5, 0.1
    y = 10 * ka / (ka - ke) * (np.exp(-ke * t) - np.exp(-ka * t))
    s = summarise(_data({"conc": (t, y)})).observables[0]
    assert s.shape == "rise-then-fall" and not s.biexponential and not s.plateau
    assert s.apparent_half_life == pytest.approx(math.log(2) / ke, rel=0.05)
    assert 1.0 <= s.peak_time <= 3.0
    assert "rises" in s.text() and "peak" in s.text()


def test_summary_oscillation_and_non_monotonic():
    t = np.linspace(0, 20, 21)
    y = 10 + 5 * np.sin(t)
    s = summarise(_data({"x": (t, y)})).observables[0]
    assert s.oscillation and s.shape == "non-monotonic"
    assert "oscillates" in s.text()


def test_summary_multiple_cohorts_and_text():
    rows = []
    for cohort, scale in (("low", 1.0), ("high", 2.0)):
        for ti in (1.0, 2.0, 4.0, 8.0):
            rows.append({"cohort": cohort, "time": ti, "observable": "conc", "mean": scale * math.exp(-0.2 * ti)})
    summary = summarise(SimpleNamespace(observations=pd.DataFrame(rows)))
    assert isinstance(summary, DataSummary) and [s.cohort for s in summary.observables] == ["low", "high"]
    assert all(isinstance(s, ObservableSummary) for s in summary.for_observable("conc"))
    assert len(summary.text().splitlines()) == 2
    assert DataSummary(()).text() == "No observations."


def test_summarise_rejects_objects_without_observations():
    with pytest.raises(ValueError, match="observations"):
        summarise(object())


def test_problem_summary_uses_the_data():
    t = np.array([0.5, 1, 2, 4, 8, 12.0])
    data = _data({"conc": (t, 10 * np.exp(-0.3 * t))}, dosing=_dose("central"))
    p = Problem.from_cohort(data, states=["central"], observables={"conc": "central/V"})
    assert p.summary().observables[0].apparent_half_life == pytest.approx(math.log(2) / 0.3, rel=1e-6)
