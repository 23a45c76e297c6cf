"""Aggregation of individual-level samples into per-time-point cohort statistics (mean, SD, n)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._columns import as_str_column, require_columns, to_numeric

__all__ = ["aggregate_individuals"]


def aggregate_individuals(
    df: pd.DataFrame,
    *,
    subject: str,
    time: str,
    value: str,
    observable: str = "y",
    cohort: str | None = None,
    cohort_column: str | None = None,
    observable_column: str | None = None,
    nominal_times: Sequence[float] | None = None,
    nominal_time_column: str | None = None,
) -> pd.DataFrame:
    """Bin each sample to its nominal time and return mean, SD (ddof=1) and n per (cohort, nominal time, observable).

    Parameters
    ----------
    df
        One row per sample. Not modified.
    subject, time, value
        Columns holding the subject id, the actual sampling time and the measured value.
    observable
        Name of the observable when ``observable_column`` is not given.
    cohort
        Cohort name when ``cohort_column`` is not given. If both are ``None``, a ``cohort`` column is used when the
        table has one, otherwise every sample belongs to the cohort ``"all"``.
    cohort_column, observable_column
        Columns holding the cohort / observable of each sample (long format with several arms or observables).
    nominal_times
        Nominal sampling times; each sample goes to the nearest one (the earlier one on a tie).
    nominal_time_column
        Column already holding each sample's nominal time. Give this or ``nominal_times``, not both.

    Returns
    -------
    pandas.DataFrame
        Columns ``cohort, time, observable, mean, sd, n`` (``sd`` is NaN where ``n == 1``) plus ``time_actual_mean``,
        ``time_actual_min`` and ``time_actual_max``, the spread of the actual sampling times in each bin.

    Raises
    ------
    CohortDataError
        If a named column is missing, a value is not numeric or empty, no binning rule is given (or both are), or a
        subject has two samples in one bin (the row of the second one is named).
    """
    if not isinstance(df, pd.DataFrame):
        raise CohortDataError(f"expected a pandas DataFrame of individual samples, got {type(df).__name__}.")
    if (nominal_times is None) == (nominal_time_column is None):
        raise CohortDataError(
            "give exactly one of nominal_times=[...] (each sample goes to the nearest) or nominal_time_column='...' "
            "(a column holding each sample's nominal time)"
            + ("; both were given." if nominal_times is not None else "; neither was given.")
        )
    if cohort is not None and cohort_column is not None:
        raise CohortDataError(f"cohort={cohort!r} and cohort_column={cohort_column!r} were both given; pass one.")
    if cohort is None and cohort_column is None and "cohort" in df.columns:
        cohort_column = "cohort"
    named = [subject, time, value, cohort_column, observable_column, nominal_time_column]
    require_columns(df, [c for c in named if c is not None], file=None)
    if len(df) == 0:
        raise CohortDataError("the table of individual samples has no rows.")

    rows = np.arange(1, len(df) + 1)
    data = df.reset_index(drop=True)
    t = to_numeric(data, time, file=None, rows=rows)
    y = to_numeric(
        data, value, file=None, rows=rows, what=f"Drop missing samples first, e.g. df.dropna(subset=[{value!r}])."
    )
    if nominal_time_column is not None:
        bins = to_numeric(data, nominal_time_column, file=None, rows=rows)
        bin_column = nominal_time_column
    else:
        bins = _nearest(t, nominal_times)
        bin_column = time
    key = pd.DataFrame(
        {
            "cohort": as_str_column(data, cohort_column, file=None, rows=rows)
            if cohort_column is not None
            else str(cohort if cohort is not None else "all"),
            "observable": as_str_column(data, observable_column, file=None, rows=rows)
            if observable_column is not None
            else str(observable),
            "subject": as_str_column(data, subject, file=None, rows=rows),
            "time": bins,
        }
    )
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        same = (key == key.iloc[i]).all(axis=1).to_numpy()
        j = int(np.flatnonzero(same)[0])
        raise CohortDataError(
            f"subject {key['subject'].iloc[i]!r} has two samples (rows {j + 1} and {i + 1}) in the bin of nominal time "
            f"{bins[i]:g}; each subject may contribute one sample per nominal time. Fix the nominal times or drop "
            "one sample.",
            row=i + 1,
            column=bin_column,
        )
    key["value"] = y
    key["actual"] = t
    grouped = key.groupby(["cohort", "time", "observable"], sort=True)
    out = grouped.agg(
        mean=("value", "mean"),
        sd=("value", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else np.nan),
        n=("value", "size"),
        time_actual_mean=("actual", "mean"),
        time_actual_min=("actual", "min"),
        time_actual_max=("actual", "max"),
    ).reset_index()
    order = ["cohort", "time", "observable", "mean", "sd", "n", "time_actual_mean", "time_actual_min", "time_actual_max"]
    return out[order]


def _nearest(t: np.ndarray, nominal_times: Sequence[float]) -> np.ndarray:
    grid = np.asarray(list(nominal_times), dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise CohortDataError(f"nominal_times must be a non-empty list of finite numbers, got {list(nominal_times)!r}.")
    if np.unique(grid).size != grid.size:
        raise CohortDataError(f"nominal_times has repeated values: {list(nominal_times)!r}.")
    grid = np.sort(grid)
    return grid[np.argmin(np.abs(t[:, None] - grid[None, :]), axis=1)]
