"""Tests of CohortData.from_individuals: binning and aggregation of individual samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortode._errors import CohortDataError
from cohortode.data import CohortData

THEOPH = Path(__file__).resolve().parents[2] / "cohorts" / "theophylline"


def samples() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 1, 1, 2, 2, 2, 3],
            "t": [0.0, 1.1, 2.2, 0.05, 0.9, 1.8, 2.0],
            "y": [0.0, 4.0, 2.0, 1.0, 6.0, 3.0, 4.0],
        }
    )


def test_theophylline_round_trip():
    ind = pd.read_csv(THEOPH / "theoph_individual.csv")
    agg = pd.read_csv(THEOPH / "theoph_aggregate.csv")
    data = CohortData.from_individuals(
        ind,
        subject="subject",
        time="time_h",
        value="conc_mg_per_L",
        observable="conc",
        cohort="theophylline",
        nominal_time_column="nominal_time_h",
        time_unit="h",
    )
    obs = data.observations
    np.testing.assert_allclose(obs["time"], agg["time_nominal_h"])
    np.testing.assert_allclose(obs["mean"], agg["conc_mean_mg_per_L"], atol=1e-5)
    np.testing.assert_allclose(obs["sd"], agg["conc_sd_mg_per_L"], atol=1e-5)
    assert obs["n"].tolist() == agg["n"].tolist()
    np.testing.assert_allclose(obs["time_actual_mean"], agg["time_mean_h"], atol=1e-5)
    np.testing.assert_allclose(obs["time_actual_max"], agg["time_max_h"], atol=1e-9)


def test_theophylline_dose_normalised_round_trip():
    ind = pd.read_csv(THEOPH / "theoph_individual.csv")
    ind = ind.assign(c_per_dose=ind["conc_mg_per_L"] / ind["dose_mg_per_kg"])
    agg = pd.read_csv(THEOPH / "theoph_aggregate_dose_normalised.csv")
    obs = CohortData.from_individuals(
        ind, subject="subject", time="time_h", value="c_per_dose", nominal_time_column="nominal_time_h"
    ).observations
    np.testing.assert_allclose(obs["mean"], agg["conc_per_dose_mean"], atol=1e-5)
    np.testing.assert_allclose(obs["sd"], agg["conc_per_dose_sd"], atol=1e-5)


def test_nearest_nominal_times():
    df = samples()
    before = df.copy()
    data = CohortData.from_individuals(df, subject="id", time="t", value="y", nominal_times=[2, 0, 1])
    pd.testing.assert_frame_equal(df, before)
    obs = data.observations
    assert obs["time"].tolist() == [0.0, 1.0, 2.0]
    assert obs["n"].tolist() == [2, 2, 3]
    assert obs["mean"].tolist() == pytest.approx([0.5, 5.0, 3.0])
    assert obs["sd"].tolist() == pytest.approx([np.sqrt(0.5), np.sqrt(2.0), 1.0])
    assert data.cohorts == ["all"] and data.observables == ["y"]


def test_single_subject_bin_has_nan_sd():
    df = pd.DataFrame({"id": [1, 1, 2], "t": [0.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0]})
    obs = CohortData.from_individuals(df, subject="id", time="t", value="y", nominal_time_column="t").observations
    assert obs["n"].tolist() == [1, 2] and np.isnan(obs["sd"].iloc[0])


def test_cohort_and_observable_columns():
    df = samples().assign(arm=["a", "a", "a", "b", "b", "b", "b"], what="conc")
    data = CohortData.from_individuals(
        df, subject="id", time="t", value="y", nominal_times=[0, 1, 2], cohort_column="arm", observable_column="what"
    )
    assert data.cohorts == ["a", "b"] and data.observables == ["conc"]
    assert data.for_cohort("b").observations["n"].tolist() == [1, 1, 2]


def test_no_binning_rule():
    with pytest.raises(CohortDataError, match="neither was given") as info:
        CohortData.from_individuals(samples(), subject="id", time="t", value="y")
    assert info.value.row is None and info.value.column is None


def test_both_binning_rules():
    with pytest.raises(CohortDataError, match="both were given"):
        CohortData.from_individuals(
            samples(), subject="id", time="t", value="y", nominal_times=[0, 1, 2], nominal_time_column="t"
        )


def test_two_samples_in_one_bin():
    with pytest.raises(CohortDataError, match="rows 5 and 6") as info:
        CohortData.from_individuals(samples(), subject="id", time="t", value="y", nominal_times=[0, 1, 3])
    err = info.value
    assert (err.file, err.row, err.column) == (None, 6, "t")


def test_two_samples_in_one_nominal_column_bin():
    df = samples().assign(nominal=[0, 1, 2, 0, 1, 1, 2])
    with pytest.raises(CohortDataError, match="subject '2'") as info:
        CohortData.from_individuals(df, subject="id", time="t", value="y", nominal_time_column="nominal")
    assert (info.value.row, info.value.column) == (6, "nominal")


def test_missing_column_suggests():
    with pytest.raises(CohortDataError, match="did you mean 't'") as info:
        CohortData.from_individuals(samples(), subject="id", time="tt", value="y", nominal_times=[0, 1, 2])
    assert (info.value.row, info.value.column) == (None, "tt")


def test_non_numeric_and_missing_values():
    df = samples().astype({"y": object})
    df.loc[4, "y"] = "BLQ"
    with pytest.raises(CohortDataError, match="not a number") as info:
        CohortData.from_individuals(df, subject="id", time="t", value="y", nominal_times=[0, 1, 2])
    assert (info.value.row, info.value.column) == (5, "y")
    df = samples()
    df.loc[2, "y"] = np.nan
    with pytest.raises(CohortDataError, match="dropna") as info:
        CohortData.from_individuals(df, subject="id", time="t", value="y", nominal_times=[0, 1, 2])
    assert (info.value.row, info.value.column) == (3, "y")
