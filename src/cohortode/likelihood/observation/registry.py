"""Observation models by name."""

from __future__ import annotations

from .base import ObservationModel
from .binomial import Binomial
from .negative_binomial import NegativeBinomial
from .poisson import Poisson

__all__ = ["COUNT_OBSERVATION_MODELS", "get_observation_model"]

COUNT_OBSERVATION_MODELS: dict[str, type[ObservationModel]] = {
    "binomial": Binomial, "poisson": Poisson, "negative_binomial": NegativeBinomial,
}
"""The count observation models by name. ``"cohort_mean"`` (mean, SD and n of a cohort) is
:class:`~cohortode.likelihood.AggregateLikelihood` on a :class:`~cohortode.CohortData` instead."""


def get_observation_model(spec: str | ObservationModel) -> ObservationModel:
    """An observation model from its name (``"binomial"``, ``"poisson"``, ``"negative_binomial"``) or itself."""
    if isinstance(spec, ObservationModel):
        return spec
    if spec == "cohort_mean":
        raise ValueError("'cohort_mean' is the observation model of tables with mean, SD and n: build a "
                         "cohortode.CohortData from such a table instead of a CountData")
    if spec not in COUNT_OBSERVATION_MODELS:
        raise ValueError(f"unknown observation model {spec!r}; use one of {', '.join(COUNT_OBSERVATION_MODELS)}")
    return COUNT_OBSERVATION_MODELS[spec]()
