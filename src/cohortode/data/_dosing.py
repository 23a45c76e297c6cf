"""Validation of the dosing table (cohort, time, amount, target, duration) into canonical form."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._columns import as_str_column, first_row, require_columns, to_numeric

__all__ = ["DOSING_COLUMNS", "empty_dosing", "validate_dosing"]

DOSING_COLUMNS = ("cohort", "time", "amount", "target", "duration")


def empty_dosing() -> pd.DataFrame:
    """A dosing table with the canonical columns and no rows."""
    return pd.DataFrame(
        {
            "cohort": pd.Series([], dtype=str),
            "time": pd.Series([], dtype=float),
            "amount": pd.Series([], dtype=float),
            "target": pd.Series([], dtype=str),
            "duration": pd.Series([], dtype=float),
            "source_row": pd.Series([], dtype=np.int64),
        }
    )


def validate_dosing(
    df: pd.DataFrame, *, cohorts: Sequence[str], file: str | None = None, default_cohort: str | None = None
) -> pd.DataFrame:
    """Check a dosing table and return it in canonical form, sorted by cohort and time.

    Parameters
    ----------
    df
        One row per dose: ``cohort``, ``time``, ``amount``, ``target`` (the ODE state dosed) and optionally
        ``duration`` (0 or absent = bolus; > 0 = zero-order infusion of ``amount`` over ``duration``). Not modified.
    cohorts
        Cohorts of the observation table; a dose for any other cohort is an error.
    file
        Source file for error messages.
    default_cohort
        Cohort used when the table has no ``cohort`` column (single-arm data). Defaults to the only cohort when
        ``cohorts`` has exactly one.

    Returns
    -------
    pandas.DataFrame
        Columns ``cohort, time, amount, target, duration, source_row`` followed by any extra input columns.
    """
    if not isinstance(df, pd.DataFrame):
        raise CohortDataError(f"expected a pandas DataFrame of doses, got {type(df).__name__}.", file=file)
    out = df.copy().reset_index(drop=True)
    out = out.drop(columns=[c for c in ("source_row",) if c in out.columns])
    rows = np.arange(1, len(out) + 1)
    if "cohort" not in out.columns:
        if default_cohort is None and len(cohorts) == 1:
            default_cohort = cohorts[0]
        if default_cohort is not None:
            out.insert(0, "cohort", str(default_cohort))
    require_columns(out, ("cohort", "time", "amount", "target"), file=file)
    if "duration" not in out.columns:
        out["duration"] = 0.0
    if len(out) == 0:
        return empty_dosing()

    out["cohort"] = as_str_column(out, "cohort", file=file, rows=rows)
    out["target"] = as_str_column(out, "target", file=file, rows=rows)
    for column in ("time", "amount", "duration"):
        values = to_numeric(out, column, file=file, rows=rows)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise CohortDataError(
                f"{column} = {values[bad][0]} is invalid; a dose {column} must be a finite number >= 0.",
                file=file,
                row=first_row(bad, rows),
                column=column,
            )
        out[column] = values
    unknown = ~out["cohort"].isin(list(cohorts)).to_numpy()
    if unknown.any():
        raise CohortDataError(
            f"dose for cohort {out['cohort'][unknown].iloc[0]!r}, which has no observations; known cohorts: "
            f"{list(cohorts)}.",
            file=file,
            row=first_row(unknown, rows),
            column="cohort",
        )
    out["source_row"] = rows
    out = out.sort_values(["cohort", "time"], kind="stable").reset_index(drop=True)
    head = [*DOSING_COLUMNS, "source_row"]
    return out[head + [c for c in out.columns if c not in head]]
