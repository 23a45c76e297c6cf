"""The static layout of one cohort: doses, covariates, observation times and the data rows they feed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import CohortDataError, ModelSpecError
from ..compile import DoseEvent, DoseSchedule
from ..spec import ODEModel

__all__ = ["CohortLayout", "cohort_layout"]


@dataclass(frozen=True)
class CohortLayout:
    """Static layout of one cohort: doses, covariates, observation times and the rows they feed."""

    name: str
    schedule: DoseSchedule
    covariates: tuple[float, ...]
    times: tuple[float, ...]
    rows: np.ndarray          # indices into the data rows
    time_index: np.ndarray    # per row, index into ``times``
    obs_index: np.ndarray     # per row, index into the model's observables


def cohort_layout(model: ODEModel, data, cohort: str) -> CohortLayout:
    """The layout of ``cohort`` of ``data`` (a :class:`~cohortode.CohortData`) for ``model``."""
    obs = data.observations
    mask = (obs["cohort"] == cohort).to_numpy()
    rows = np.flatnonzero(mask)
    times = tuple(sorted(set(obs["time"].to_numpy(dtype=float)[rows].tolist())))
    t_index = np.array([times.index(t) for t in obs["time"].to_numpy(dtype=float)[rows]], dtype=int)
    names = list(model.observable_names)
    o_index = np.array([names.index(o) for o in obs["observable"].to_numpy()[rows]], dtype=int)
    events = []
    if len(data.dosing):
        dose = data.dosing[data.dosing["cohort"] == cohort]
        for _, r in dose.iterrows():
            events.append(DoseEvent(float(r["time"]), model.states.index(str(r["target"])),
                                    float(r["amount"]), float(r["duration"])))
    cov = []
    for c in model.covariates:
        table = data.covariates
        if c not in table.columns:
            raise ModelSpecError(f"model covariate {c!r} is not in the cohort table's covariates "
                                 f"({', '.join(map(str, table.columns)) or 'none'}); add it to covariates.csv")
        value = float(table.loc[cohort, c])
        if not np.isfinite(value):
            raise CohortDataError(f"covariate {c!r} has no value for cohort {cohort!r}", file=data.source,
                                  column=c)
        cov.append(value)
    return CohortLayout(cohort, DoseSchedule(tuple(events)), tuple(cov), times, rows, t_index, o_index)
