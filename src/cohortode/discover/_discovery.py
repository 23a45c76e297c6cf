"""The result of :func:`cohortode.discover`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import CohortodeError

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

    @classmethod
    def load(cls, run_dir: str | os.PathLike, *, data: Any = None) -> Discovery:
        """Read a finished discovery back from its run directory alone (nothing is proposed or fitted again).

        The candidates, comparison table, timings, stopping reason and language-model log come from the run's
        ``finished`` event, the models from the recorded structures, the NUTS fits from their saved folders, and
        the ensemble is rebuilt from the fits and the recorded weights.

        Parameters
        ----------
        run_dir
            The run directory of a finished :func:`cohortode.discover` run.
        data
            The cohort data, needed only for a run directory that does not record them (runs of older versions,
            or data that are not a :class:`~cohortode.CohortData`). When the run records its data, ``data`` must
            be the same table (same hash).

        Returns
        -------
        Discovery

        Raises
        ------
        CohortodeError
            When ``run_dir`` is not a run directory, the run has not finished, its data are missing or differ from
            ``data``, or a saved fit is missing or damaged.
        """
        from ..data import data_hash
        from ..propose._infer_problem import infer_problem
        from ..spec import ODEModel
        from ._rundir import RunDirectory

        path = Path(run_dir)
        if not (path / "settings.json").is_file():
            raise CohortodeError(f"{str(path)!r} is not a discovery run directory (it has no settings.json); give "
                                 "the --run-dir of a cohortode discover run")
        run = RunDirectory(path)
        finished = None
        for finished in run.events("finished"):
            pass
        if finished is None or "candidates" not in finished:
            raise CohortodeError(f"the run in {str(path)!r} has not finished (events.jsonl has no complete "
                                 "'finished' record, or one written by an older version of cohortode); resume it "
                                 f"with `cohortode discover COHORT --run-dir {path}` and the same settings")
        recorded = run.read_data()
        if recorded is None and data is None:
            raise CohortodeError(f"the run directory {str(path)!r} does not record its cohort data (data/); pass "
                                 "them (Discovery.load(run_dir, data=...), or --cohort on the command line)")
        if recorded is not None and data is not None and data_hash(data) != data_hash(recorded):
            raise CohortodeError(f"the cohort data given differ from those recorded in {str(path / 'data')!r} "
                                 "(different hash); leave them out to use the recorded ones")
        data = recorded if recorded is not None else data
        problem = run.read_problem(data)
        if problem is None:
            problem = infer_problem(data, context=str(getattr(data, "description", "") or ""))
        records = [dict(r) for r in finished["candidates"]]
        models: dict[str, Any] = {}
        for r in records:
            h = r.get("structure_hash")
            if r.get("screened") and h and h not in models:
                toml = path / "structures" / h / "model.toml"
                models[h] = ODEModel.from_toml(toml if toml.is_file() else r["toml"])
        posteriors: dict[str, Any] = {}
        for h in finished.get("fitted", []):
            fit = run.read_fit(h)
            if fit is None:
                raise CohortodeError(f"the NUTS fit of structure {h} is missing from {str(path / 'structures' / h)!r}")
            posteriors[h] = fit
        dtypes = finished.get("table_dtypes") or {}
        table = pd.DataFrame.from_records(finished["table"], columns=list(dtypes) or None)
        table = table.astype({c: t for c, t in dtypes.items() if c in table.columns})
        ensemble = None
        if finished.get("ensemble"):
            from ..ensemble import Ensemble

            spec = finished["ensemble"]
            ensemble = Ensemble.from_fits({m["name"]: posteriors[m["name"]] for m in spec["members"]},
                                          [float(m["weight"]) for m in spec["members"]],
                                          provenance=spec.get("provenance"))
        timings = {str(k): float(v) for k, v in (finished.get("timings") or {}).items()}
        return cls(problem, records, table, models, posteriors, list(finished.get("llm_log") or []), timings,
                   str(finished.get("stopped", "")), path, ensemble=ensemble)

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
