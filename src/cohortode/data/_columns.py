"""Column-level helpers shared by the table validators: renaming, required columns, numeric conversion."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._errors import CohortDataError

__all__ = ["did_you_mean", "rename_columns", "require_columns", "to_numeric", "first_row", "as_str_column"]


def did_you_mean(name: str, candidates: Iterable[object]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate name, or ``""`` if none is close."""
    names = [str(c) for c in candidates]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def rename_columns(df: pd.DataFrame, columns: Mapping[str, str] | None, *, file: str | None) -> pd.DataFrame:
    """Return a copy of ``df`` with the columns named in ``columns`` (canonical name -> column) renamed.

    Raises
    ------
    CohortDataError
        If a mapped column does not exist, or the canonical name is already taken by another column.
    """
    out = df.copy()
    if not columns:
        return out
    rename: dict[str, str] = {}
    for canonical, given in columns.items():
        if given == canonical:
            continue
        if given not in out.columns:
            raise CohortDataError(
                f"columns={{{canonical!r}: {given!r}}} names a column that is not in the table"
                f"{did_you_mean(given, out.columns)}; the table has columns {list(map(str, out.columns))}.",
                file=file,
                column=given,
            )
        if canonical in out.columns:
            raise CohortDataError(
                f"columns={{{canonical!r}: {given!r}}} would rename {given!r} to {canonical!r}, but the table "
                f"already has a column {canonical!r}; rename or drop one of them first.",
                file=file,
                column=canonical,
            )
        rename[given] = canonical
    return out.rename(columns=rename)


def require_columns(df: pd.DataFrame, required: Sequence[str], *, file: str | None, hint: str = "") -> None:
    """Raise :class:`CohortDataError` naming the first required column that ``df`` lacks."""
    for name in required:
        if name not in df.columns:
            unused = [c for c in df.columns if c not in required]
            raise CohortDataError(
                f"required column {name!r} is missing{did_you_mean(name, unused)}; the table has columns "
                f"{list(map(str, df.columns))}. Rename the column, or map it with "
                f"columns={{{name!r}: '<your column>'}}."
                + (f" {hint}" if hint else ""),
                file=file,
                column=name,
            )


def first_row(mask: np.ndarray, rows: np.ndarray) -> int:
    """The 1-based source row of the first ``True`` entry of ``mask`` (in table order)."""
    return int(rows[int(np.flatnonzero(mask)[0])])


def to_numeric(
    df: pd.DataFrame,
    column: str,
    *,
    file: str | None,
    rows: np.ndarray,
    allow_nan: bool = False,
    what: str = "",
) -> np.ndarray:
    """Convert ``df[column]`` to a float array, raising on the first non-numeric (or, unless allowed, empty) cell.

    Parameters
    ----------
    df
        The table.
    column
        Column to convert.
    file
        Source file for error messages.
    rows
        1-based source row number of each table row.
    allow_nan
        Whether empty cells are allowed (they become NaN).
    what
        Extra explanation appended to the "empty cell" error.
    """
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    missing = raw.isna().to_numpy()
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CohortDataError(
            f"value {raw.iloc[i]!r} is not a number; column {column!r} must be numeric.",
            file=file,
            row=int(rows[i]),
            column=column,
        )
    if not allow_nan and missing.any():
        raise CohortDataError(
            f"empty (NaN) value; column {column!r} needs a number in every row." + (f" {what}" if what else ""),
            file=file,
            row=first_row(missing, rows),
            column=column,
        )
    return values


def as_str_column(df: pd.DataFrame, column: str, *, file: str | None, rows: np.ndarray) -> pd.Series:
    """Return ``df[column]`` as strings, raising on the first empty cell. Integral floats print without ``.0``."""
    raw = df[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise CohortDataError(
            f"empty value; every row needs a {column!r}.", file=file, row=first_row(missing, rows), column=column
        )

    def _text(v: object) -> str:
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([_text(v) for v in raw], index=df.index, dtype=str, name=column)
