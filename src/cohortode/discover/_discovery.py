"""The result of :func:`cohortode.discover`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Discovery", "CANDIDATE_COLUMNS"]

CANDIDATE_COLUMNS = ("round", "source", "structure_hash", "equations", "n_parameters", "log_prior", "elpd_loo",
                     "elpd_se", "bic", "screened", "status", "reason", "unidentified", "at_bound", "parent",
                     "started_from_parent", "final", "description")
"""Columns of :meth:`Discovery.candidates`: ``unidentified`` and ``at_bound`` (``"Km (upper)"``) are what screening
found about the parameters; ``parent`` is the structure hash a mutation was derived from, and
``started_from_parent`` says whether its screening started from that parent's optimum."""


class Discovery:
    """What a discovery run found.

    Attributes
    ----------
    problem
        The :class:`~cohortode.propose.Problem` that was explained.
    ensemble
        The :class:`~cohortode.Ensemble` of the NUTS-fitted structures with stacking weights (``None`` when no
        structure was fitted).
    models
        Structure hash -> :class:`~cohortode.ODEModel` of every structure screened.
    posteriors
        Structure hash -> :class:`~cohortode.Fit` (NUTS) of the fitted structures.
    llm_log
        One record per language-model call: round, statistics, and each response with its validation outcome.
    timings
        Seconds per stage: ``llm``, ``motifs`` (library and mutations), ``validation``, ``screen``, ``nuts``,
        ``comparison``, ``total``.
    stopped
        Why the loop stopped (``"rounds"``, ``"no improvement"``, ``"candidates"``, ``"wall_time"``,
        ``"no new candidates"``).
    run_dir
        The run directory, or ``None``.
    """

    def __init__(self, problem: Any, records: list[dict[str, Any]], table: pd.DataFrame, models: dict[str, Any],
                 posteriors: dict[str, Any], llm_log: list[dict[str, Any]], timings: dict[str, float], stopped: str,
                 run_dir: Path | None, ensemble: Any = None):
        self.problem = problem
        self._records = records
        self._table = table
        self.models = models
        self.posteriors = posteriors
        self.llm_log = llm_log
        self.timings = timings
        self.stopped = stopped
        self.run_dir = run_dir
        self.ensemble = ensemble

    def table(self) -> pd.DataFrame:
        """The comparison of the NUTS-fitted structures (:attr:`cohortode.Comparison.table`, ``name`` the structure
        hash), highest stacking weight first, with the screening score ``screen_elpd``."""
        return self._table.copy()

    def candidates(self) -> pd.DataFrame:
        """Every structure tried, one row each (see :data:`CANDIDATE_COLUMNS`), in the order proposed."""
        rows = [{c: r.get(c) for c in CANDIDATE_COLUMNS} for r in self._records]
        return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))

    @property
    def data(self) -> Any:
        """The cohort data that were explained."""
        return self.problem.data

    @property
    def best(self) -> Any:
        """The model with the highest ensemble weight, or ``None``."""
        if self._table.empty:
            return None
        return self.models.get(str(self._table["name"].iloc[0]))

    def __repr__(self) -> str:
        n = len(self._records)
        scored = sum(r.get("status") == "scored" for r in self._records)
        best = self._table["equations"].iloc[0] if not self._table.empty else "none"
        return (f"Discovery({self.problem.name!r}: {n} candidates, {scored} scored, {len(self._table)} fitted, "
                f"stopped by {self.stopped}; best: {best})")
