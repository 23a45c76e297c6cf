"""Bundled cohorts: find and load the cohort directories shipped in ``<repo>/cohorts/``.

The cohorts directory is ``<repo>/cohorts`` (located relative to this file, which works for a source checkout and an
editable install) unless the environment variable ``COHORTODE_COHORTS`` names another directory.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from ._errors import CohortDataError
from .data import CohortData

__all__ = ["COHORTS_ENV_VAR", "cohorts_dir", "list_cohorts", "load_cohort"]

#: Environment variable overriding the directory that holds the bundled cohorts.
COHORTS_ENV_VAR = "COHORTODE_COHORTS"


def cohorts_dir() -> Path:
    """The directory holding bundled cohorts: ``$COHORTODE_COHORTS`` if set, else ``<repo>/cohorts``."""
    override = os.environ.get(COHORTS_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "cohorts"


def list_cohorts() -> list[str]:
    """Names of the bundled cohorts (subdirectories holding ``cohort.toml`` or ``observations.csv``), sorted."""
    root = cohorts_dir()
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and ((p / "cohort.toml").is_file() or (p / "observations.csv").is_file())
    )


def load_cohort(name_or_path: str | os.PathLike) -> CohortData:
    """Load a bundled cohort by name, or a cohort from a path.

    Parameters
    ----------
    name_or_path
        A bundled cohort name (see :func:`list_cohorts`; a bundled name wins over a same-named directory in the
        working directory), a cohort directory, a ``cohort.toml`` file, or an observation CSV in canonical long
        format (``cohort, time, observable, mean, sd, n``).

    Raises
    ------
    CohortDataError
        If nothing of that name or path exists (the message lists the bundled names), or the data are malformed.
    """
    name = str(name_or_path)
    plain_name = isinstance(name_or_path, str) and "/" not in name and os.sep not in name and Path(name).suffix == ""
    if plain_name and (cohorts_dir() / name).is_dir():
        return CohortData.from_directory(cohorts_dir() / name)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return CohortData.from_directory(path)
    if path.is_file():
        if path.name == "cohort.toml":
            return CohortData.from_directory(path.parent)
        return CohortData.from_csv(path)
    available = list_cohorts()
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.6) if plain_name else []
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise CohortDataError(
        f"not a bundled cohort name, nor an existing file or directory.{hint} Bundled cohorts in "
        f"{str(cohorts_dir())!r}: {available or 'none'} (set {COHORTS_ENV_VAR} to use another directory).",
        file=name,
    )
