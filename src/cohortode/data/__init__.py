"""Aggregate cohort data: validated tables of per-time-point mean, SD and n (or counts of one population), with
dosing and covariates."""

from ._cohort_data import CohortData
from ._count_data import CountData
from ._hash import data_hash
from ._individuals import aggregate_individuals

__all__ = ["CohortData", "CountData", "aggregate_individuals", "data_hash"]
