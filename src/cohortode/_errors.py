"""Exception and warning types raised by cohortode.

Every error says what was wrong, where (file, row, column, argument) and, where it can, how to fix it.
"""

from __future__ import annotations

__all__ = [
    "CohortodeError",
    "CohortDataError",
    "CohortDataWarning",
    "ExpressionError",
    "ModelSpecError",
    "CandidateRejected",
    "LLMBackendError",
    "DiagnosticsWarning",
    "FitError",
]


class CohortodeError(Exception):
    """Base class of all cohortode errors."""


class CohortDataError(CohortodeError, ValueError):
    """A cohort table is malformed.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    file
        The file the table came from, or ``None`` for an in-memory DataFrame.
    row
        1-based data row (the header is not counted), or ``None`` when the problem concerns the whole table.
    column
        The offending column, or ``None``.
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None):
        self.file = file
        self.row = row
        self.column = column
        self.reason = message
        where = []
        where.append(f"file {file!r}" if file is not None else "data frame")
        if row is not None:
            line = f", line {row + 1} of the file" if file is not None else ""
            where.append(f"row {row}{line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class CohortDataWarning(UserWarning):
    """A cohort table is usable but something in it deserves attention (for example an SD of zero)."""


class ExpressionError(CohortodeError, ValueError):
    """A text expression was rejected by the safe parser (never evaluated)."""

    def __init__(self, message: str, *, text: str | None = None):
        self.text = text
        self.reason = message
        shown = text if text is None or len(text) <= 80 else text[:77] + "..."
        super().__init__(message if text is None else f"{message} (in {shown!r})")


class ModelSpecError(CohortodeError, ValueError):
    """An ODE model specification is invalid."""


class CandidateRejected(CohortodeError):
    """A proposed candidate structure failed validation; ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class LLMBackendError(CohortodeError, RuntimeError):
    """A language-model backend could not be loaded or reached."""


class FitError(CohortodeError, RuntimeError):
    """A structure could not be fitted: no optimisation start reached a finite posterior density.

    Parameters
    ----------
    reason
        Why, in one sentence per start (``"start 'prior median': ..."``), joined by ``"; "``.
    starts
        The per-start reasons, in the order the starts were tried.
    """

    def __init__(self, reason: str, *, starts: tuple[str, ...] = ()):
        self.reason = reason
        self.starts = tuple(starts)
        super().__init__(reason)


class DiagnosticsWarning(UserWarning):
    """Sampler diagnostics (R-hat, ESS, divergences) failed their thresholds."""
