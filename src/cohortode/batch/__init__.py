"""Batch runs: many cohorts, one run directory and one report each, and an index page.

Cohorts run in parallel through a :class:`concurrent.futures.Executor`: a local process pool by default, or a Dask
``distributed`` cluster. A failing cohort is recorded in the index with its error and does not stop the others; an
interrupted batch resumes: cohorts whose run directory records a finished report are kept, and an unfinished
discovery (:class:`DiscoverJob`, the default of ``cohortode batch``) goes on from what its run directory holds.
"""

from ._jobs import FitJob as FitJob
from ._jobs import DiscoverJob as DiscoverJob
from ._run import BatchResult as BatchResult
from ._run import run_batch as run_batch
from ._run import make_executor as make_executor

__all__ = ["FitJob", "DiscoverJob", "BatchResult", "run_batch", "make_executor"]
