"""A member of the reported ensemble: a name, its fit and its weight."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Member"]


class Member(NamedTuple):
    """One fitted structure in a report: ``name``, the :class:`~cohortode.Fit` and its ensemble ``weight``."""

    name: str
    fit: Any
    weight: float
