"""Tests of the bundled cohorts and cohortode.datasets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cohortode._errors import CohortDataError
from cohortode.datasets import COHORTS_ENV_VAR, cohorts_dir, list_cohorts, load_cohort

SYNTHETIC = ["synthetic_logistic_growth", "synthetic_onecomp_oral", "synthetic_sir_outbreak", "synthetic_twocomp_iv"]


def test_list_cohorts():
    names = list_cohorts()
    assert names == sorted(names)
    assert {"theophylline", "theophylline_dose_normalised", *SYNTHETIC} <= set(names)


def test_load_theophylline():
    data = load_cohort("theophylline")
    agg = pd.read_csv(cohorts_dir() / "theophylline" / "theoph_aggregate.csv")
    obs = data.observations
    assert data.cohorts == ["theophylline"] and data.observables == ["conc"]
    np.testing.assert_allclose(obs["time"], agg["time_nominal_h"])
    np.testing.assert_allclose(obs["mean"], agg["conc_mean_mg_per_L"])
    np.testing.assert_allclose(obs["sd"], agg["conc_sd_mg_per_L"])
    assert (obs["n"] == 12).all()
    assert data.dosing[["time", "amount", "target", "duration"]].values.tolist() == [[0.0, 4.626, "depot", 0.0]]
    assert data.covariates.loc["theophylline", "dose_mg_per_kg"] == pytest.approx(4.626, abs=1e-3)
    assert data.time_unit == "h" and data.units == {"conc": "mg/L"}
    assert data.description.startswith("12 adults, single oral dose of theophylline")
    data.check_dose_targets(["depot", "central"])
    data.check_observables(["conc"])


def test_load_theophylline_dose_normalised():
    data = load_cohort("theophylline_dose_normalised")
    assert data.dosing["amount"].tolist() == [1.0]
    assert data.observations["mean"].max() == pytest.approx(1.751555)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_cohorts_load_with_truth(name):
    data = load_cohort(name)
    truth = json.loads((cohorts_dir() / name / "truth.json").read_text())
    for key in ("typical_parameters", "iiv_sd", "residual_error", "equations", "observation_equations", "seed"):
        assert key in truth
    assert (data.observations["n"] == truth["n_subjects"]).all()
    assert data.observations["time"].tolist() == truth["times"]
    assert data.description and data.time_unit
    data.check_dose_targets(truth["states"])


def test_load_by_path(tmp_path):
    root = cohorts_dir() / "theophylline"
    assert len(load_cohort(root).observations) == 11
    assert len(load_cohort(root / "cohort.toml").observations) == 11
    assert load_cohort(str(root / "observations.csv")).dosing.empty


def test_unknown_name_lists_available():
    with pytest.raises(CohortDataError, match="Did you mean 'theophylline'") as info:
        load_cohort("theophyline")
    assert "theophylline_dose_normalised" in str(info.value)
    assert info.value.file == "theophyline"


def test_env_var_override(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "observations.csv").write_text("cohort,time,observable,mean,sd,n\nX,0,y,1.0,0.5,4\n")
    monkeypatch.setenv(COHORTS_ENV_VAR, str(tmp_path))
    assert cohorts_dir() == tmp_path
    assert list_cohorts() == ["mine"]
    assert load_cohort("mine").cohorts == ["X"]
    with pytest.raises(CohortDataError, match=r"\['mine'\]"):
        load_cohort("theophylline")
