"""Tests of the SciPy ground-truth simulator in cohortode.synthetic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cohortode.data import CohortData
from cohortode.synthetic import Dose, SyntheticModel, simulate_cohort


def decay(iiv=None, residual=0.0, initial=None) -> SyntheticModel:
    return SyntheticModel(
        name="decay",
        states=("A",),
        rhs=lambda t, y, p: {"A": -p["k"] * y["A"]},
        observables={"y": lambda y, p: y["A"]},
        params={"k": 0.3, "A0": 100.0},
        initial={"A": "A0"} if initial is None else initial,
        iiv=iiv or {},
        residual_proportional=residual,
        equations={"A": "-k*A"},
        observation_equations={"y": "A"},
        units={"y": "mg"},
        time_unit="h",
        description="decay test",
    )


def onecomp(ka=1.5, ke=0.1, V=30.0) -> SyntheticModel:
    return SyntheticModel(
        name="onecomp",
        states=("depot", "central"),
        rhs=lambda t, y, p: {"depot": -p["ka"] * y["depot"], "central": p["ka"] * y["depot"] - p["ke"] * y["central"]},
        observables={"conc": lambda y, p: y["central"] / p["V"]},
        params={"ka": ka, "ke": ke, "V": V},
    )


TIMES = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]


def test_deterministic_with_seed():
    model = decay(iiv={"A0": 0.3, "k": 0.2}, residual=0.1)
    a = simulate_cohort(model, times=TIMES, n_subjects=20, seed=7)
    b = simulate_cohort(model, times=TIMES, n_subjects=20, seed=7)
    c = simulate_cohort(model, times=TIMES, n_subjects=20, seed=8)
    pd.testing.assert_frame_equal(a.individuals, b.individuals)
    pd.testing.assert_frame_equal(a.data.observations, b.data.observations)
    assert not np.allclose(a.individuals["value"], c.individuals["value"])
    g = np.random.default_rng(7)
    d = simulate_cohort(model, times=TIMES, n_subjects=20, seed=g)
    pd.testing.assert_frame_equal(a.individuals, d.individuals)


def test_lognormal_initial_amount_matches_closed_form():
    omega = 0.3
    cohort = simulate_cohort(decay(iiv={"A0": omega}), times=TIMES, n_subjects=4000, seed=2024)
    obs = cohort.data.observations
    t = obs["time"].to_numpy()
    expected_mean = 100.0 * np.exp(-0.3 * t) * np.exp(omega**2 / 2)
    expected_sd = expected_mean * np.sqrt(np.exp(omega**2) - 1)
    np.testing.assert_allclose(obs["mean"], expected_mean, rtol=0.02)
    np.testing.assert_allclose(obs["sd"], expected_sd, rtol=0.05)
    assert (obs["n"] == 4000).all()


def test_oral_bolus_matches_bateman_function():
    ka, ke, V, dose = 1.5, 0.1, 30.0, 320.0
    cohort = simulate_cohort(
        onecomp(ka, ke, V), times=TIMES, n_subjects=1, doses=[Dose(0.0, dose, "depot")], seed=0
    )
    t = np.asarray(TIMES)
    bateman = dose * ka / (V * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))
    np.testing.assert_allclose(cohort.individuals["value"], bateman, rtol=1e-6, atol=1e-9)
    assert cohort.data.observations["sd"].isna().all()


def test_infusion_matches_closed_form():
    k, V, amount, duration = 0.3, 10.0, 60.0, 2.0
    model = SyntheticModel(
        name="inf",
        states=("A",),
        rhs=lambda t, y, p: {"A": -p["k"] * y["A"]},
        observables={"conc": lambda y, p: y["A"] / p["V"]},
        params={"k": k, "V": V},
    )
    times = [0.5, 1.0, 2.0, 3.0, 6.0]
    cohort = simulate_cohort(model, times=times, n_subjects=1, doses=[Dose(0.0, amount, "A", duration)], seed=0)
    rate = amount / duration
    t = np.asarray(times)
    during = rate / (k * V) * (1 - np.exp(-k * np.minimum(t, duration)))
    expected = during * np.exp(-k * np.maximum(t - duration, 0.0))
    np.testing.assert_allclose(cohort.individuals["value"], expected, rtol=1e-6)


def test_bolus_applied_before_observation_at_same_time():
    model = decay(initial={"A": 0.0})
    cohort = simulate_cohort(
        model, times=[0.0, 1.0, 2.0], n_subjects=1, doses=[Dose(0.0, 10.0, "A"), Dose(2.0, 5.0, "A")], seed=0
    )
    expected = [10.0, 10.0 * np.exp(-0.3), 10.0 * np.exp(-0.6) + 5.0]
    np.testing.assert_allclose(cohort.individuals["value"], expected, rtol=1e-7)
    assert cohort.data.dosing["time"].tolist() == [0.0, 2.0]


def test_proportional_residual_error_spread():
    cohort = simulate_cohort(decay(residual=0.1), times=[1.0, 5.0], n_subjects=3000, seed=3)
    obs = cohort.data.observations
    np.testing.assert_allclose(obs["sd"] / obs["mean"], 0.1, rtol=0.05)


def test_write_round_trip(tmp_path):
    cohort = simulate_cohort(
        onecomp(), times=[0.5, 1, 2], n_subjects=5, doses=[Dose(0.0, 320.0, "depot")], seed=11, cohort="syn"
    )
    root = cohort.write(tmp_path / "syn")
    for name in ("observations.csv", "dosing.csv", "cohort.toml", "truth.json", "individuals.csv"):
        assert (root / name).is_file()
    back = CohortData.from_directory(root)
    np.testing.assert_allclose(back.observations["mean"], cohort.data.observations["mean"], rtol=1e-9)
    np.testing.assert_allclose(back.observations["sd"], cohort.data.observations["sd"], rtol=1e-9)
    assert back.dosing[["time", "amount", "target"]].values.tolist() == [[0.0, 320.0, "depot"]]
    truth = json.loads((root / "truth.json").read_text())
    assert truth["seed"] == 11 and truth["n_subjects"] == 5
    assert truth["typical_parameters"] == {"ka": 1.5, "ke": 0.1, "V": 30.0}


def test_bad_model_definitions():
    with pytest.raises(ValueError, match="unknown parameter"):
        decay(iiv={"kk": 0.2})
    with pytest.raises(ValueError, match="names no parameter"):
        decay(initial={"A": "B0"})
    with pytest.raises(ValueError, match="not a state"):
        simulate_cohort(decay(), times=[1.0], n_subjects=1, doses=[Dose(0.0, 1.0, "gut")], seed=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        simulate_cohort(decay(), times=[2.0, 1.0], n_subjects=1, seed=0)
