"""Aggregate cohort data: validated tables of per-time-point mean, SD and n, with dosing and covariates."""

from ._cohort_data import CohortData
from ._hash import data_hash
from ._individuals import aggregate_individuals

__all__ = ["CohortData", "aggregate_individuals", "data_hash"]
