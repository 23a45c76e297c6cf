"""Tests of CountData: counts or fractions of one population; every bad input names its file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortode._errors import CohortDataError
from cohortode.data import CohortData, CountData

HEADER = "time,observable,count,population"
GOOD = ["0,I,5,500", "1,I,12,500", "2,I,30,500", "0,R,0,500", "1,R,2,500"]


def csv(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "counts.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def check_error(exc: pytest.ExceptionInfo, path: Path, row: int | None, column: str) -> None:
    err = exc.value
    assert (err.file, err.row, err.column) == (str(path), row, column), str(err)
    assert f"column {column!r}" in str(err)
    if row is not None:
        assert f"row {row}" in str(err)


def test_counts_with_population_default_to_binomial(tmp_path):
    data = CountData.from_csv(csv(tmp_path, GOOD))
    obs = data.observations
    assert isinstance(data, CohortData)
    assert data.cohorts == ["all"] and data.observables == ["I", "R"]
    assert set(obs["observation"]) == {"binomial"}
    assert list(obs["source_row"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(obs["fraction"], obs["count"] / 500)
    np.testing.assert_allclose(obs["mean"], obs["fraction"])
    assert data.observation_models() == {"I": "binomial", "R": "binomial"}
    assert "CountData(" in repr(data)
    assert list(data.summary()["peak_count"]) == [30.0, 2.0]


def test_counts_without_population_default_to_negative_binomial_and_keep_the_input():
    df = pd.DataFrame({"week": [1, 2, 3], "cases": [4, 9, 7], "site": ["x", "y", "z"]})
    before = df.copy()
    data = CountData.from_dataframe(df, columns={"time": "week", "count": "cases"}, observable="cases")
    pd.testing.assert_frame_equal(df, before)
    obs = data.observations
    assert set(obs["observation"]) == {"negative_binomial"}
    assert obs["population"].isna().all() and obs["fraction"].isna().all()
    np.testing.assert_allclose(obs["mean"], [4, 9, 7])
    assert list(obs["site"]) == ["x", "y", "z"]


def test_fractions_and_per_observable_models():
    df = pd.DataFrame({"time": [0, 1, 0, 1], "observable": ["on", "on", "event", "event"],
                       "fraction": [1.0, 0.9, 0.0, 0.05], "population": [40, 40, 40, 40]})
    data = CountData(df, observation={"event": "poisson"}, reporting=["event"])
    obs = data.observations.set_index(["observable", "time"])
    np.testing.assert_allclose(obs.loc[("on", 1.0), "count"], 36.0)
    assert obs.loc[("on", 1.0), "observation"] == "binomial"
    assert obs.loc[("event", 1.0), "observation"] == "poisson"
    assert bool(obs.loc[("event", 1.0), "reporting"]) and not bool(obs.loc[("on", 1.0), "reporting"])


@pytest.mark.parametrize("rows, row, column, match", [
    (["0,I,-1,500"], 1, "count", "negative"),
    (["0,I,5,500", "1,I,501,500"], 2, "count", "above the population"),
    (["0,I,5,500", "1,I,2.5,500"], 2, "count", "whole number"),
    (["0,I,five,500"], 1, "count", "not a number"),
    (["0,I,5,500", "1,I,,500"], 2, "count", "empty"),
    (["0,I,5,0"], 1, "population", "below 1"),
    (["0,I,5,500.5"], 1, "population", "whole number"),
    (["-1,I,5,500"], 1, "time", "negative"),
    (["1,I,5,500", "1,I,6,500"], 2, "time", "only once"),
])
def test_bad_counts_name_row_and_column(tmp_path, rows, row, column, match):
    path = csv(tmp_path, rows)
    with pytest.raises(CohortDataError, match=match) as exc:
        CountData.from_csv(path)
    check_error(exc, path, row, column)


@pytest.mark.parametrize("rows, row, column, match", [
    (["0,I,0.5,100", "1,I,1.2,100"], 2, "fraction", r"outside \[0, 1\]"),
    (["0,I,-0.1,100"], 1, "fraction", r"outside \[0, 1\]"),
    (["0,I,0.5,100", "1,I,0.4,"], 2, "population", "empty"),
])
def test_bad_fractions_name_row_and_column(tmp_path, rows, row, column, match):
    path = csv(tmp_path, rows, header="time,observable,fraction,population")
    with pytest.raises(CohortDataError, match=match) as exc:
        CountData.from_csv(path)
    check_error(exc, path, row, column)


def test_table_level_errors(tmp_path):
    path = csv(tmp_path, ["0,I,0.5"], header="time,observable,fraction")
    with pytest.raises(CohortDataError, match="population") as exc:
        CountData.from_csv(path)
    check_error(exc, path, None, "population")
    path = csv(tmp_path, ["0,I,3"], header="time,observable,cases")
    with pytest.raises(CohortDataError, match="needs a 'count' column") as exc:
        CountData.from_csv(path)
    check_error(exc, path, None, "count")
    path = csv(tmp_path, ["0,I,3,0.1,30"], header="time,observable,count,fraction,population")
    with pytest.raises(CohortDataError, match="both 'count' and 'fraction'"):
        CountData.from_csv(path)


def test_observation_model_errors(tmp_path):
    path = csv(tmp_path, ["0,I,3", "1,I,4"], header="time,observable,count")
    with pytest.raises(CohortDataError, match="binomial row needs") as exc:
        CountData.from_csv(path, observation="binomial")
    check_error(exc, path, 1, "population")
    path = csv(tmp_path, ["0,I,3,30,binomial", "1,I,4,30,poisson"], header=HEADER + ",observation")
    with pytest.raises(CohortDataError, match="one observable takes one observation model") as exc:
        CountData.from_csv(path)
    check_error(exc, path, 2, "observation")
    path = csv(tmp_path, ["0,I,3,30,cohort_mean"], header=HEADER + ",observation")
    with pytest.raises(CohortDataError, match="CohortData") as exc:
        CountData.from_csv(path)
    check_error(exc, path, 1, "observation")
    with pytest.raises(CohortDataError, match="reporting= names"):
        CountData.from_csv(csv(tmp_path, GOOD), reporting=["X"])
