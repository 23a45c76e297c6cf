"""Validation of the observation table (one row per cohort, time and observable) into canonical form."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._errors import CohortDataError, CohortDataWarning
from ._columns import as_str_column, did_you_mean, first_row, rename_columns, require_columns, to_numeric

__all__ = [
    "REQUIRED_COLUMNS",
    "SPREAD_COLUMNS",
    "CANONICAL_COLUMNS",
    "SD_FLOOR_FRACTION",
    "SD_FLOOR_MIN",
    "validate_observations",
]

REQUIRED_COLUMNS = ("cohort", "time", "observable", "mean", "n")
SPREAD_COLUMNS = ("sd", "var", "se")
CANONICAL_COLUMNS = ("cohort", "time", "observable", "mean", "sd", "n", "sd_used", "source_row")
#: A zero SD is replaced in ``sd_used`` by this fraction of the mean absolute observed mean (per cohort, observable)...
SD_FLOOR_FRACTION = 0.01
#: ...or by this value when all those means are zero.
SD_FLOOR_MIN = 1e-8


def validate_observations(
    df: pd.DataFrame,
    *,
    file: str | None = None,
    columns: Mapping[str, str] | None = None,
    cohort: str | None = None,
    observable: str | None = None,
) -> pd.DataFrame:
    """Check an observation table and return it in canonical form (see :class:`~cohortode.data.CohortData`).

    The input is never modified. Columns ``sd_used`` and ``source_row`` are derived and replace any input columns of
    those names.

    Raises
    ------
    CohortDataError
        With ``file``, 1-based ``row`` and ``column`` of the first problem found.
    """
    if not isinstance(df, pd.DataFrame):
        raise CohortDataError(f"expected a pandas DataFrame of observations, got {type(df).__name__}.", file=file)
    for key in columns or {}:
        if key not in REQUIRED_COLUMNS + SPREAD_COLUMNS:
            raise CohortDataError(
                f"columns={{{key!r}: ...}}: {key!r} is not a canonical column{did_you_mean(key, REQUIRED_COLUMNS)}; "
                f"the keys of columns= are canonical names {list(REQUIRED_COLUMNS + SPREAD_COLUMNS)}, the values are "
                "the columns of your table.",
                file=file,
                column=key,
            )
    out = rename_columns(df, columns, file=file).reset_index(drop=True)
    if len(out) == 0:
        raise CohortDataError("the observation table has no data rows.", file=file)
    rows = np.arange(1, len(out) + 1)
    out = out.drop(columns=[c for c in ("sd_used", "source_row") if c in out.columns])

    for name, constant in (("cohort", cohort), ("observable", observable)):
        if constant is None:
            continue
        if name in out.columns:
            raise CohortDataError(
                f"{name}={constant!r} was given but the table already has a {name!r} column; pass one or the other.",
                file=file,
                column=name,
            )
        out.insert(0 if name == "cohort" else min(2, len(out.columns)), name, str(constant))

    require_columns(
        out, REQUIRED_COLUMNS, file=file, hint="For a single-arm table pass cohort='<name>' / observable='<name>'."
    )
    spread = [c for c in SPREAD_COLUMNS if c in out.columns]
    if len(spread) > 1:
        raise CohortDataError(
            f"the table has columns {spread}; give the spread as exactly one of 'sd', 'var' (variance) or 'se' "
            "(standard error of the mean), and drop or rename the others.",
            file=file,
            column=spread[1],
        )

    out["cohort"] = as_str_column(out, "cohort", file=file, rows=rows)
    out["observable"] = as_str_column(out, "observable", file=file, rows=rows)
    out["time"] = _check_time(out, file=file, rows=rows)
    mean = to_numeric(out, "mean", file=file, rows=rows)
    _require_finite(mean, "mean", file=file, rows=rows)
    out["mean"] = mean
    n = _check_n(out, file=file, rows=rows)
    out["n"] = n
    out["sd"] = _spread_to_sd(out, spread[0], n, file=file, rows=rows) if spread else np.nan
    _check_duplicates(out, file=file, rows=rows)

    out["source_row"] = rows
    out = out.sort_values(["cohort", "observable", "time"], kind="stable").reset_index(drop=True)
    out["sd_used"] = _floored_sd(out, file=file)
    extra = [c for c in out.columns if c not in CANONICAL_COLUMNS]
    return out[list(CANONICAL_COLUMNS) + extra]


def _require_finite(values: np.ndarray, column: str, *, file: str | None, rows: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise CohortDataError(
            f"value {values[bad][0]} is not finite; column {column!r} needs finite numbers.",
            file=file,
            row=first_row(bad, rows),
            column=column,
        )


def _check_time(df: pd.DataFrame, *, file: str | None, rows: np.ndarray) -> np.ndarray:
    time = to_numeric(df, "time", file=file, rows=rows)
    _require_finite(time, "time", file=file, rows=rows)
    negative = time < 0
    if negative.any():
        raise CohortDataError(
            f"time {time[negative][0]} is negative; times are measured from the start of the study (t >= 0). "
            "Shift all times (observations and doses) so that the earliest is 0.",
            file=file,
            row=first_row(negative, rows),
            column="time",
        )
    return time


def _check_n(df: pd.DataFrame, *, file: str | None, rows: np.ndarray) -> np.ndarray:
    n = to_numeric(df, "n", file=file, rows=rows)
    _require_finite(n, "n", file=file, rows=rows)
    fractional = n != np.round(n)
    if fractional.any():
        raise CohortDataError(
            f"n = {n[fractional][0]} is not a whole number; n is the number of subjects measured.",
            file=file,
            row=first_row(fractional, rows),
            column="n",
        )
    small = n < 1
    if small.any():
        raise CohortDataError(
            f"n = {int(n[small][0])} is less than 1; drop time points where nobody was measured.",
            file=file,
            row=first_row(small, rows),
            column="n",
        )
    return n.astype(np.int64)


def _spread_to_sd(df: pd.DataFrame, column: str, n: np.ndarray, *, file: str | None, rows: np.ndarray) -> np.ndarray:
    values = to_numeric(df, column, file=file, rows=rows, allow_nan=True)
    given = ~np.isnan(values)
    single = given & (n < 2)
    if single.any():
        raise CohortDataError(
            f"a {column!r} is given where n = {int(n[single][0])}; a single subject has no SD: leave the cell empty.",
            file=file,
            row=first_row(single, rows),
            column=column,
        )
    missing = ~given & (n >= 2)
    if missing.any():
        raise CohortDataError(
            f"empty (NaN) {column!r} where n = {int(n[missing][0])}; give the spread of every time point with n >= 2, "
            f"or drop the {column!r} column if the table has no spreads at all.",
            file=file,
            row=first_row(missing, rows),
            column=column,
        )
    _require_finite(np.where(given, values, 0.0), column, file=file, rows=rows)
    negative = given & (values < 0)
    if negative.any():
        raise CohortDataError(
            f"{column} = {values[negative][0]} is negative; a spread cannot be below zero.",
            file=file,
            row=first_row(negative, rows),
            column=column,
        )
    if column == "var":
        return np.sqrt(values)
    if column == "se":
        return values * np.sqrt(n)
    return values


def _check_duplicates(df: pd.DataFrame, *, file: str | None, rows: np.ndarray) -> None:
    key = df[["cohort", "time", "observable"]]
    dup = key.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    i = int(np.flatnonzero(dup)[0])
    c, t, o = key.iloc[i]
    same = (key["cohort"] == c) & (key["time"] == t) & (key["observable"] == o)
    j = int(np.flatnonzero(same.to_numpy())[0])
    raise CohortDataError(
        f"rows {int(rows[j])} and {int(rows[i])} both give cohort {c!r}, time {t:g}, observable {o!r}; "
        "each (cohort, time, observable) may appear only once. Merge or remove one of them.",
        file=file,
        row=int(rows[i]),
        column="time",
    )


def _floored_sd(df: pd.DataFrame, *, file: str | None) -> np.ndarray:
    """``sd`` with zero SDs replaced by the floor; warns naming the rows (in input numbering)."""
    sd_used = df["sd"].to_numpy(dtype=float, copy=True)
    zero = sd_used == 0
    if not zero.any():
        return sd_used
    scale = df.groupby(["cohort", "observable"], sort=False)["mean"].transform(lambda m: np.abs(m).mean()).to_numpy()
    floor = np.where(scale > 0, SD_FLOOR_FRACTION * scale, SD_FLOOR_MIN)
    sd_used[zero] = floor[zero]
    zero_rows = sorted(int(r) for r in df.loc[zero, "source_row"])
    where = f"file {file!r}" if file is not None else "data frame"
    warnings.warn(
        f"{where}: SD is 0 in row(s) {zero_rows}; a zero SD would make the likelihood degenerate, so 'sd_used' "
        f"there is floored to {SD_FLOOR_FRACTION:.0%} of the mean absolute observed mean of that observable in that "
        "cohort (the 'sd' column is unchanged). Check whether these SDs were rounded to zero.",
        CohortDataWarning,
        stacklevel=4,
    )
    return sd_used
