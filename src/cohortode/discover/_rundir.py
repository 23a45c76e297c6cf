"""A run directory: settings and provenance, an append-only JSONL log of events, one folder per structure hash.

Layout::

    run_dir/
      settings.json          settings, seed, provenance (versions, host, start time)
      problem.json           the problem explained (states, observables, context, domain, ...)
      data/                  the cohort tables (observations.csv, dosing.csv, covariates.csv, data.json with their
                             hash), written when the run starts, so the run directory alone reproduces its result
      events.jsonl           one JSON object per line, appended and flushed as each thing finishes; the last,
                             ``finished``, holds the candidates, the comparison table, the ensemble weights, the
                             timings and the language-model log (read by :meth:`cohortode.Discovery.load`)
      structures/<hash>/
        model.toml           the structure
        screen.json          its screening result
        fit/                 its NUTS fit (cohortode.Fit.save)

A run killed at any point leaves a readable directory: a half-written last line of ``events.jsonl`` is ignored on
reading, and a structure's files are written before the event that names them.
"""

from __future__ import annotations

import json
import math
import logging
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import CohortodeError

__all__ = ["RunDirectory", "problem_to_dict", "problem_from_dict"]

log = logging.getLogger(__name__)


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinite floats as ``None`` (strict JSON), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _clean(value.item())
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def problem_to_dict(problem: Any) -> dict[str, Any]:
    """A :class:`~cohortode.propose.Problem` without its data, as a JSON-ready dict (see :func:`problem_from_dict`)."""
    return {"name": problem.name, "states": [[s.name, s.meaning, s.unit] for s in problem.states],
            "observables": dict(problem.observables), "context": problem.context, "domain": problem.domain,
            "covariates": list(problem.covariates), "initial": dict(problem.initial), "time_unit": problem.time_unit,
            "signed": list(problem.signed)}


def problem_from_dict(record: dict[str, Any], data: Any) -> Any:
    """The :class:`~cohortode.propose.Problem` written by :func:`problem_to_dict`, over ``data``."""
    from ..propose import Problem

    return Problem(name=record["name"], states=tuple(tuple(s) for s in record["states"]),
                   observables=record["observables"], data=data, context=record["context"],
                   domain=record["domain"], covariates=tuple(record["covariates"]), initial=record["initial"],
                   time_unit=record["time_unit"], signed=tuple(record["signed"]))


class RunDirectory:
    """Reads and appends the records of one discovery run.

    Parameters
    ----------
    path
        The folder (created when missing).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "structures").mkdir(exist_ok=True)
        self.events_path = self.path / "events.jsonl"

    # ------------------------------------------------------------------------------------------- settings
    def settings(self) -> dict[str, Any] | None:
        """The recorded settings, or ``None`` for a new directory."""
        path = self.path / "settings.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_settings(self, settings: dict[str, Any]) -> None:
        """Record settings, seed and provenance (once, when the run starts)."""
        import cohortode

        record = {"settings": settings, "provenance": {
            "cohortode": cohortode.__version__, "python": platform.python_version(), "host": platform.node(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
        (self.path / "settings.json").write_text(json.dumps(record, indent=2, default=_json_default))

    # ------------------------------------------------------------------------------------- problem and data
    def has_inputs(self) -> bool:
        """Whether the problem and the cohort data are recorded."""
        return (self.path / "problem.json").is_file() and (self.path / "data" / "data.json").is_file()

    def write_inputs(self, problem: Any, data: Any) -> None:
        """Record the problem (``problem.json``) and the cohort tables (``data/``, with their hash).

        Data that are not a :class:`~cohortode.CohortData` (e.g. counts) are not recorded; a log message says so,
        and :meth:`cohortode.Discovery.load` then needs them passed in.
        """
        from ..data import CohortData
        from ..infer._fit_io import save_data

        if isinstance(data, CohortData):
            tmp = self.path / "data.tmp"
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            save_data(data, tmp)
            if (self.path / "data").exists():
                import shutil

                shutil.rmtree(self.path / "data")
            os.replace(tmp, self.path / "data")
        else:
            log.info("%s: %s data are not recorded in the run directory", self.path, type(data).__name__)
        text = json.dumps(_clean(problem_to_dict(problem)), indent=2, default=_json_default)
        (self.path / "problem.json.tmp").write_text(text, encoding="utf-8")
        os.replace(self.path / "problem.json.tmp", self.path / "problem.json")

    def read_data(self) -> Any:
        """The recorded cohort data (checked against their hash), or ``None`` when none are recorded.

        Raises
        ------
        CohortodeError
            When a recorded table is missing, truncated or edited.
        """
        from ..infer._fit_io import load_data

        if not (self.path / "data" / "data.json").is_file():
            return None
        return load_data(self.path / "data")

    def read_problem(self, data: Any) -> Any:
        """The recorded problem over ``data``, or ``None`` when none is recorded."""
        path = self.path / "problem.json"
        if not path.is_file():
            return None
        try:
            return problem_from_dict(json.loads(path.read_text(encoding="utf-8")), data)
        except (ValueError, KeyError, TypeError) as exc:
            raise CohortodeError(f"{path}: cannot read the recorded problem ({type(exc).__name__}: {exc})") from exc

    # --------------------------------------------------------------------------------------------- events
    def append(self, event: str, **fields: Any) -> None:
        """Append one event and flush it to disk."""
        record = _clean({"event": event, "time": round(time.time(), 3), **fields})
        line = json.dumps(record, default=_json_default, allow_nan=False)
        with open(self.events_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def events(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """The recorded events in order (only those of ``kind`` when given); a torn last line is skipped."""
        if not self.events_path.exists():
            return
        with open(self.events_path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s line %d is not complete JSON (an interrupted write); ignored",
                                self.events_path, number)
                    continue
                if kind is None or record.get("event") == kind:
                    yield record

    # ----------------------------------------------------------------------------------------- structures
    def folder(self, structure_hash: str) -> Path:
        """The folder of one structure (created when missing)."""
        path = self.path / "structures" / structure_hash
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_text(self, structure_hash: str, name: str, text: str) -> Path:
        """Write a file of a structure atomically (write to a temporary name, then rename)."""
        path = self.folder(structure_hash) / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def write_fit(self, structure_hash: str, fit: Any) -> Path:
        """Save a NUTS fit in ``fit/`` (:meth:`cohortode.Fit.save`; any other result with ``to_netcdf`` as
        ``posterior.nc``)."""
        folder = self.folder(structure_hash)
        if hasattr(fit, "save"):
            return fit.save(folder / "fit")
        tmp = folder / "posterior.tmp.nc"
        fit.to_netcdf(str(tmp))
        os.replace(tmp, folder / "posterior.nc")
        return folder / "posterior.nc"

    def read_fit(self, structure_hash: str) -> Any:
        """A saved NUTS fit (``cohortode.Fit``, or the InferenceData of ``posterior.nc``), or ``None``."""
        folder = self.path / "structures" / structure_hash
        if (folder / "fit").exists():
            from ..infer import Fit

            return Fit.load(folder / "fit")
        if (folder / "posterior.nc").exists():
            import arviz as az

            return az.from_netcdf(str(folder / "posterior.nc"))
        return None
