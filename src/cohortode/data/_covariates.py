"""Validation of the per-cohort covariate table (one row per cohort, numeric columns)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._columns import as_str_column, first_row, require_columns, to_numeric

__all__ = ["empty_covariates", "validate_covariates"]


def empty_covariates(cohorts: Sequence[str]) -> pd.DataFrame:
    """A covariate table indexed by ``cohorts`` with no columns."""
    return pd.DataFrame(index=pd.Index(list(cohorts), name="cohort", dtype=str))


def validate_covariates(
    df: pd.DataFrame, *, cohorts: Sequence[str], file: str | None = None, default_cohort: str | None = None
) -> pd.DataFrame:
    """Check a covariate table and return it indexed by cohort, one row per known cohort.

    Parameters
    ----------
    df
        A ``cohort`` column (or an index named ``cohort``) and numeric covariate columns (e.g. mean weight); empty
        cells are allowed. Not modified.
    cohorts
        Cohorts of the observation table. Covariates of any other cohort are an error; cohorts without a row get NaN.
    file
        Source file for error messages.
    default_cohort
        Cohort used when the table has neither a ``cohort`` column nor index (single-arm data); defaults to the
        only cohort when ``cohorts`` has exactly one.
    """
    if not isinstance(df, pd.DataFrame):
        raise CohortDataError(f"expected a pandas DataFrame of covariates, got {type(df).__name__}.", file=file)
    out = df.copy()
    if "cohort" not in out.columns and out.index.name == "cohort":
        out = out.reset_index()
    out = out.reset_index(drop=True)
    rows = np.arange(1, len(out) + 1)
    if "cohort" not in out.columns:
        if default_cohort is None and len(cohorts) == 1:
            default_cohort = cohorts[0]
        if default_cohort is not None:
            out.insert(0, "cohort", str(default_cohort))
    require_columns(out, ("cohort",), file=file)
    out["cohort"] = as_str_column(out, "cohort", file=file, rows=rows)
    for column in [c for c in out.columns if c != "cohort"]:
        out[column] = to_numeric(out, column, file=file, rows=rows, allow_nan=True)
    dup = out["cohort"].duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        j = int(np.flatnonzero((out["cohort"] == out["cohort"].iloc[i]).to_numpy())[0])
        raise CohortDataError(
            f"rows {j + 1} and {i + 1} both give covariates of cohort {out['cohort'].iloc[i]!r}; "
            "keep one row per cohort.",
            file=file,
            row=i + 1,
            column="cohort",
        )
    unknown = ~out["cohort"].isin(list(cohorts)).to_numpy()
    if unknown.any():
        raise CohortDataError(
            f"covariates for cohort {out['cohort'][unknown].iloc[0]!r}, which has no observations; known cohorts: "
            f"{list(cohorts)}.",
            file=file,
            row=first_row(unknown, rows),
            column="cohort",
        )
    out = out.set_index("cohort").reindex(pd.Index(list(cohorts), name="cohort", dtype=str))
    return out
