"""The inputs of a counterfactual simulation, and the cohort layout they give for one member."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..likelihood._layout import CohortLayout
from ._regimen import ParameterChange, Regimen

__all__ = ["Counterfactual"]

DEFAULT_TIMES = 50
"""Prediction times when none are given: this many from 0 to the cohort's last observation."""


@dataclass(frozen=True)
class Counterfactual:
    """What :meth:`cohortode.Ensemble.simulate` changes (every field ``None`` keeps the fitted cohort's).

    Attributes
    ----------
    times
        Prediction times.
    regimen
        Doses replacing the cohort's.
    changes
        Parameter changes (multipliers or :class:`~cohortode.ensemble.Absolute`).
    changes_from
        Time from which ``changes`` apply (``None``: from the start).
    covariates
        Covariate values replacing the cohort's.
    """

    times: Sequence[float] | None = None
    regimen: Regimen | None = None
    changes: Mapping[str, ParameterChange] | None = None
    changes_from: float | None = None
    covariates: Mapping[str, float] | None = None

    def layout(self, fit, cohort: str) -> CohortLayout:
        """``cohort``'s layout in ``fit``'s likelihood with the regimen and covariates replaced."""
        layout = next((lay for lay in fit.likelihood.layouts if lay.name == cohort), None)
        if layout is None:
            raise ValueError(f"member {fit.model!r} has no cohort {cohort!r}")
        if self.regimen is not None:
            layout = dataclasses.replace(layout, schedule=self.regimen.schedule(fit.model.states))
        if self.covariates:
            unknown = [c for c in self.covariates if c not in fit.model.covariates]
            if unknown:
                raise ValueError(f"covariates {unknown} are not covariates of {fit.model!r} "
                                 f"({list(fit.model.covariates)})")
            cov = tuple(float(self.covariates.get(c, v)) for c, v in zip(fit.model.covariates, layout.covariates))
            layout = dataclasses.replace(layout, covariates=cov)
        return layout

    def prediction_times(self, layout: CohortLayout) -> tuple[float, ...]:
        """Sorted unique prediction times (default: :data:`DEFAULT_TIMES` up to the last observation)."""
        ts = np.linspace(0, max(layout.times), DEFAULT_TIMES) if self.times is None else self.times
        return tuple(sorted({float(t) for t in ts}))
