"""Reading CSV tables into DataFrames with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._errors import CohortDataError

__all__ = ["TableLike", "read_csv", "as_table"]

#: A table argument: a CSV path or an in-memory DataFrame.
TableLike = str | os.PathLike | pd.DataFrame


def read_csv(path: str | os.PathLike, *, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV file; ``text_columns`` are read as strings (so cohort ``"01"`` stays ``"01"``).

    Raises
    ------
    CohortDataError
        If the file does not exist or cannot be parsed.
    """
    file = str(path)
    if not Path(path).is_file():
        raise CohortDataError("no such file; check the path.", file=file)
    try:
        header = pd.read_csv(path, nrows=0)
        dtype = {c: str for c in text_columns if c in header.columns}
        return pd.read_csv(path, dtype=dtype or None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CohortDataError(f"cannot be read as CSV: {exc}", file=file) from exc


def as_table(table: TableLike, *, text_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, str | None]:
    """Return ``(DataFrame, file)`` for a path (read from disk) or a DataFrame (``file`` is ``None``; not copied)."""
    if isinstance(table, pd.DataFrame):
        return table, None
    if isinstance(table, str | os.PathLike):
        return read_csv(table, text_columns=text_columns), str(table)
    raise CohortDataError(f"expected a CSV path or a pandas DataFrame, got {type(table).__name__}.")
