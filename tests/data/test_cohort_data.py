"""Tests of CohortData construction and validation: every bad input names its file, row and column."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortode._errors import CohortDataError, CohortDataWarning
from cohortode.data import CohortData

HEADER = "cohort,time,observable,mean,sd,n"
GOOD_ROWS = [
    "A,0,conc,0.0,,1",
    "A,1,conc,5.0,1.0,10",
    "A,2,conc,4.0,0.8,10",
    "B,0,conc,0.0,,1",
    "B,1,conc,6.0,1.2,9",
]


def write(tmp_path: Path, text: str, name: str = "obs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.strip() + "\n")
    return path


def table(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "obs.csv") -> Path:
    return write(tmp_path, "\n".join([header, *rows]), name)


def raises_at(path: Path | None, row: int | None, column: str | None, match: str | None = None):
    """Context manager checking a CohortDataError's location."""

    class _Check:
        def __enter__(self):
            self._cm = pytest.raises(CohortDataError, match=match)
            self.info = self._cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._cm.__exit__(*exc)
            err = self.info.value
            assert err.file == (None if path is None else str(path))
            assert err.row == row
            assert err.column == column
            return handled

    return _Check()


# ----------------------------------------------------------------------------- good input


def test_good_table_canonical_form(tmp_path):
    path = table(tmp_path, [GOOD_ROWS[3], GOOD_ROWS[2], GOOD_ROWS[1], GOOD_ROWS[0], GOOD_ROWS[4]])
    data = CohortData.from_csv(path, time_unit="h", units={"conc": "mg/L"})
    obs = data.observations
    assert list(obs.columns[:8]) == ["cohort", "time", "observable", "mean", "sd", "n", "sd_used", "source_row"]
    assert list(obs["cohort"]) == ["A", "A", "A", "B", "B"]
    assert list(obs["time"]) == [0.0, 1.0, 2.0, 0.0, 1.0]
    assert list(obs["source_row"]) == [4, 3, 2, 1, 5]
    assert obs["n"].dtype == np.int64
    assert math.isnan(obs["sd"].iloc[0]) and math.isnan(obs["sd_used"].iloc[0])
    assert obs["sd_used"].iloc[1] == 1.0
    assert data.cohorts == ["A", "B"]
    assert data.observables == ["conc"]
    assert data.time_span == (0.0, 2.0)
    assert data.source == str(path)
    assert data.dosing.empty and list(data.dosing.columns[:5]) == ["cohort", "time", "amount", "target", "duration"]
    assert list(data.covariates.index) == ["A", "B"] and data.covariates.index.name == "cohort"
    assert "CohortData(" in repr(data) and "'A'" in repr(data)


def test_extra_columns_kept_and_input_not_mutated():
    df = pd.DataFrame(
        {
            "cohort": ["A", "A"],
            "time": [1.0, 0.5],
            "observable": ["y", "y"],
            "mean": [1.0, 2.0],
            "sd": [0.1, 0.2],
            "n": [5, 5],
            "note": ["late", "early"],
        }
    )
    before = df.copy()
    data = CohortData.from_dataframe(df)
    pd.testing.assert_frame_equal(df, before)
    assert list(data.observations["note"]) == ["early", "late"]
    assert data.source is None


def test_cohort_ids_read_as_text(tmp_path):
    path = table(tmp_path, ["01,0,conc,1.0,0.1,3"])
    assert CohortData.from_csv(path).cohorts == ["01"]


def test_no_spread_column_gives_nan_sd(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,3", "A,1,conc,2.0,3"], header="cohort,time,observable,mean,n")
    obs = CohortData.from_csv(path).observations
    assert obs["sd"].isna().all() and obs["sd_used"].isna().all()


def test_var_converted_to_sd_and_kept(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,4.0,3", "A,1,conc,2.0,,1"], header="cohort,time,observable,mean,var,n")
    obs = CohortData.from_csv(path).observations
    assert obs["sd"].iloc[0] == 2.0 and obs["var"].iloc[0] == 4.0
    assert math.isnan(obs["sd"].iloc[1])


def test_se_converted_to_sd_and_kept(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.5,16"], header="cohort,time,observable,mean,se,n")
    obs = CohortData.from_csv(path).observations
    assert obs["sd"].iloc[0] == pytest.approx(2.0) and obs["se"].iloc[0] == 0.5


def test_columns_mapping_and_constants(tmp_path):
    path = table(tmp_path, ["0.5,3.0,1.0,12", "1,4.0,1.1,12"], header="t_h,conc_mean,conc_sd,n")
    data = CohortData.from_csv(
        path,
        columns={"time": "t_h", "mean": "conc_mean", "sd": "conc_sd"},
        cohort="arm1",
        observable="conc",
        dosing=pd.DataFrame({"time": [0.0], "amount": [100.0], "target": ["depot"]}),
        covariates=pd.DataFrame({"weight": [70.0]}),
        description="test",
        time_unit="h",
    )
    assert data.cohorts == ["arm1"] and data.observables == ["conc"]
    assert list(data.observations["mean"]) == [3.0, 4.0]
    assert data.dosing["cohort"].tolist() == ["arm1"] and data.dosing["duration"].tolist() == [0.0]
    assert data.covariates.loc["arm1", "weight"] == 70.0
    assert data.description == "test" and data.time_unit == "h"


def test_mapping_to_missing_column(tmp_path):
    path = table(tmp_path, GOOD_ROWS)
    with raises_at(path, None, "conc_mean", match="columns="):
        CohortData.from_csv(path, columns={"mean": "conc_mean"})


def test_mapping_key_not_canonical(tmp_path):
    path = table(tmp_path, GOOD_ROWS)
    with raises_at(path, None, "meen", match="did you mean 'mean'"):
        CohortData.from_csv(path, columns={"meen": "mean"})


def test_constant_conflicts_with_column(tmp_path):
    path = table(tmp_path, GOOD_ROWS)
    with raises_at(path, None, "cohort", match="already has"):
        CohortData.from_csv(path, cohort="X")


# ----------------------------------------------------------------------------- bad observations


def test_missing_required_column_suggests_spelling(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3"], header="cohort,time,observable,meen,sd,n")
    with raises_at(path, None, "mean", match="did you mean 'meen'"):
        CohortData.from_csv(path)


def test_missing_cohort_column_hints_constant(tmp_path):
    path = table(tmp_path, ["0,conc,1.0,0.1,3"], header="time,observable,mean,sd,n")
    with raises_at(path, None, "cohort", match="cohort='<name>'"):
        CohortData.from_csv(path)


def test_more_than_one_spread_column(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,0.01,3"], header="cohort,time,observable,mean,sd,var,n")
    with raises_at(path, None, "var", match="exactly one"):
        CohortData.from_csv(path)


@pytest.mark.parametrize(
    ("rows", "column"),
    [
        (["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,0.1,3", "A,2h,conc,1.0,0.1,3"], "time"),
        (["A,0,conc,1.0,0.1,3", "A,1,conc,high,0.1,3", "A,2,conc,x,0.1,3"], "mean"),
        (["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,0.1,three"], "n"),
        (["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,<0.1,3"], "sd"),
    ],
)
def test_non_numeric_value(tmp_path, rows, column):
    path = table(tmp_path, rows)
    bad_row = next(i for i, r in enumerate(rows, 1) if any(tok in r for tok in ("2h", "high", "three", "<0.1")))
    with raises_at(path, bad_row, column, match="not a number"):
        CohortData.from_csv(path)


@pytest.mark.parametrize(
    ("rows", "row", "column"),
    [
        (["A,0,conc,1.0,0.1,3", "A,,conc,1.0,0.1,3"], 2, "time"),
        (["A,0,conc,1.0,0.1,3", "A,1,conc,,0.1,3", "A,2,conc,,0.1,3"], 2, "mean"),
        (["A,0,conc,1.0,0.1,"], 1, "n"),
        (["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,,3"], 2, "sd"),
        (["A,0,,1.0,0.1,3"], 1, "observable"),
    ],
)
def test_empty_value(tmp_path, rows, row, column):
    path = table(tmp_path, rows)
    with raises_at(path, row, column, match="empty"):
        CohortData.from_csv(path)


def test_n_below_one(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,,0"])
    with raises_at(path, 2, "n", match="less than 1"):
        CohortData.from_csv(path)


def test_n_not_integer(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,0.1,3.5"])
    with raises_at(path, 2, "n", match="whole number"):
        CohortData.from_csv(path)


def test_sd_given_with_single_subject(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,0.0,1"])
    with raises_at(path, 2, "sd", match="single subject has no SD"):
        CohortData.from_csv(path)


def test_negative_sd(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,-0.2,3"])
    with raises_at(path, 2, "sd", match="negative"):
        CohortData.from_csv(path)


def test_negative_var(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,-0.2,3"], header="cohort,time,observable,mean,var,n")
    with raises_at(path, 1, "var", match="negative"):
        CohortData.from_csv(path)


def test_duplicate_rows_named(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,1,conc,1.0,0.1,3", "B,1,conc,1.0,0.1,3", "A,1.0,conc,2.0,0.1,3"])
    with raises_at(path, 4, "time", match="rows 2 and 4"):
        CohortData.from_csv(path)


def test_negative_time(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,-0.5,conc,1.0,0.1,3"])
    with raises_at(path, 2, "time", match="negative"):
        CohortData.from_csv(path)


def test_non_finite_time(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,0.1,3", "A,inf,conc,1.0,0.1,3"])
    with raises_at(path, 2, "time", match="not finite"):
        CohortData.from_csv(path)


def test_empty_table(tmp_path):
    path = table(tmp_path, [])
    with raises_at(path, None, None, match="no data rows"):
        CohortData.from_csv(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with raises_at(path, None, None, match="no such file"):
        CohortData.from_csv(path)


def test_dataframe_errors_have_no_file():
    df = pd.DataFrame({"cohort": ["A", "A"], "time": [0.0, 1.0], "observable": "y", "mean": [1.0, 2.0], "n": [3, 0]})
    with raises_at(None, 2, "n"):
        CohortData.from_dataframe(df)


# ----------------------------------------------------------------------------- zero SD floor


def test_zero_sd_warns_and_floors(tmp_path):
    path = table(tmp_path, ["A,0,conc,0.0,0.0,5", "A,1,conc,4.0,1.0,5", "A,2,conc,2.0,0.0,5", "B,0,conc,0,0,5"])
    with pytest.warns(CohortDataWarning, match=r"row\(s\) \[1, 3, 4\]"):
        data = CohortData.from_csv(path)
    obs = data.observations
    assert list(obs["sd"]) == [0.0, 1.0, 0.0, 0.0]
    assert obs["sd_used"].tolist() == pytest.approx([0.02, 1.0, 0.02, 1e-8])


def test_error_message_mentions_location(tmp_path):
    path = table(tmp_path, ["A,0,conc,1.0,-1,3"])
    with pytest.raises(CohortDataError) as info:
        CohortData.from_csv(path)
    assert "row 1" in str(info.value) and "'sd'" in str(info.value) and str(path) in str(info.value)


# ----------------------------------------------------------------------------- dosing and covariates


@pytest.mark.parametrize(
    ("dosing", "row", "column", "match"),
    [
        ("cohort,time,amont,target\nA,0,100,depot", None, "amount", "did you mean 'amont'"),
        ("cohort,time,amount,target\nA,0,100,depot\nB,0,lots,depot", 2, "amount", "not a number"),
        ("cohort,time,amount,target,duration\nA,0,100,depot,-1", 1, "duration", ">= 0"),
        ("cohort,time,amount,target\nA,0,100,depot\nC,0,100,depot", 2, "cohort", "known cohorts"),
        ("cohort,time,amount,target\nA,0,100,", 1, "target", "empty"),
    ],
)
def test_bad_dosing(tmp_path, dosing, row, column, match):
    obs = table(tmp_path, GOOD_ROWS)
    dose_path = write(tmp_path, dosing, "dosing.csv")
    with raises_at(dose_path, row, column, match=match):
        CohortData.from_csv(obs, dosing=dose_path)


def test_dosing_good(tmp_path):
    obs = table(tmp_path, GOOD_ROWS)
    dosing = "cohort,time,amount,target,duration,route\nB,0,50,central,0.5,iv\nA,0,100,depot,0,po"
    dose_path = write(tmp_path, dosing, "d.csv")
    data = CohortData.from_csv(obs, dosing=dose_path)
    d = data.dosing
    assert d["cohort"].tolist() == ["A", "B"] and d["duration"].tolist() == [0.0, 0.5]
    assert d["route"].tolist() == ["po", "iv"] and d["source_row"].tolist() == [2, 1]
    data.check_dose_targets(["depot", "central"])
    with raises_at(dose_path, 1, "target", match="states of the model"):
        data.check_dose_targets(["depot", "peripheral"])


def test_bad_covariates(tmp_path):
    obs = table(tmp_path, GOOD_ROWS)
    cov = write(tmp_path, "cohort,weight\nA,70\nB,heavy", "cov.csv")
    with raises_at(cov, 2, "weight", match="not a number"):
        CohortData.from_csv(obs, covariates=cov)
    cov = write(tmp_path, "cohort,weight\nA,70\nZ,80", "cov.csv")
    with raises_at(cov, 2, "cohort", match="known cohorts"):
        CohortData.from_csv(obs, covariates=cov)
    cov = write(tmp_path, "cohort,weight\nA,70\nA,80", "cov.csv")
    with raises_at(cov, 2, "cohort", match="rows 1 and 2"):
        CohortData.from_csv(obs, covariates=cov)


def test_covariates_reindexed_to_all_cohorts(tmp_path):
    obs = table(tmp_path, GOOD_ROWS)
    data = CohortData.from_csv(obs, covariates=pd.DataFrame({"cohort": ["B"], "weight": [80]}))
    assert data.covariates.loc["B", "weight"] == 80.0 and math.isnan(data.covariates.loc["A", "weight"])


# ----------------------------------------------------------------------------- views


def test_for_cohort_and_checks(tmp_path):
    path = table(tmp_path, [*GOOD_ROWS, "B,2,resp,1.0,0.1,9"])
    data = CohortData.from_csv(path, dosing=pd.DataFrame({"cohort": ["A", "B"], "time": 0, "amount": 1, "target": "x"}))
    b = data.for_cohort("B")
    assert b.cohorts == ["B"] and len(b.observations) == 3 and b.dosing["cohort"].tolist() == ["B"]
    assert b.observables == ["conc", "resp"]
    assert len(data.observations) == 6  # original untouched
    with raises_at(path, None, "cohort", match="available cohorts"):
        data.for_cohort("C")
    data.check_observables(["conc", "resp"])
    with raises_at(path, 6, "observable", match=r"\['conc'\]"):
        data.check_observables(["conc"])


def test_summary(tmp_path):
    data = CohortData.from_csv(table(tmp_path, GOOD_ROWS))
    s = data.summary().set_index("cohort")
    assert s.loc["A", "n_times"] == 3 and s.loc["A", "peak_time"] == 1.0 and s.loc["A", "peak_mean"] == 5.0
    assert s.loc["A", "min"] == 0.0 and s.loc["A", "max"] == 5.0
    assert s.loc["A", "first_mean"] == 0.0 and s.loc["A", "last_mean"] == 4.0
    assert s.loc["B", "t_first"] == 0.0 and s.loc["B", "t_last"] == 1.0
    pd.testing.assert_frame_equal(data.to_dataframe(), data.observations)


# ----------------------------------------------------------------------------- directories


def test_from_directory(tmp_path):
    table(tmp_path, GOOD_ROWS, name="observations.csv")
    write(tmp_path, "cohort,time,amount,target\nA,0,100,depot", "dosing.csv")
    write(
        tmp_path,
        '\n'.join(
            [
                'description = "two arms"',
                'time_unit = "h"',
                "[files]",
                'observations = "observations.csv"',
                'dosing = "dosing.csv"',
                "[units]",
                'conc = "mg/L"',
            ]
        ),
        "cohort.toml",
    )
    data = CohortData.from_directory(tmp_path)
    assert data.description == "two arms" and data.time_unit == "h" and data.units == {"conc": "mg/L"}
    assert len(data.dosing) == 1 and data.source == str(tmp_path / "observations.csv")


def test_from_directory_misspelled_key(tmp_path):
    table(tmp_path, GOOD_ROWS, name="observations.csv")
    toml = write(tmp_path, 'descripton = "x"', "cohort.toml")
    with raises_at(toml, None, "descripton", match="did you mean 'description'"):
        CohortData.from_directory(tmp_path)


def test_from_directory_missing_file(tmp_path):
    toml = write(tmp_path, '[files]\nobservations = "obs.csv"', "cohort.toml")
    with raises_at(toml, None, "files.observations", match="does not exist"):
        CohortData.from_directory(tmp_path)
