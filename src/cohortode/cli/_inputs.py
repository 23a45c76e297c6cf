"""Reading the CLI's inputs: a cohort (bundled name, directory, ``cohort.toml`` or CSV) and model files."""

from __future__ import annotations

from pathlib import Path

from .._errors import ModelSpecError
from ._app import BadInput

__all__ = ["load_data", "load_models", "cohort_label"]


def load_data(cohort: str, *, dosing: str | None = None, covariates: str | None = None, arm: str | None = None,
              observable: str | None = None):
    """A :class:`~cohortode.CohortData` from a bundled name, a directory, a ``cohort.toml`` or an observation CSV.

    ``dosing``, ``covariates``, ``arm`` (constant cohort name) and ``observable`` apply to a CSV file only.
    """
    from ..data import CohortData
    from ..datasets import load_cohort

    path = Path(cohort).expanduser()
    is_csv = path.is_file() and path.name != "cohort.toml"
    extras = {"--dosing": dosing, "--covariates": covariates, "--arm": arm, "--observable": observable}
    if not is_csv:
        given = [k for k, v in extras.items() if v is not None]
        if given:
            raise BadInput(f"{', '.join(given)} apply to an observation CSV file; {cohort!r} is a cohort name or "
                           "directory, whose cohort.toml names its files.")
        return load_cohort(cohort)
    return CohortData.from_csv(path, dosing=dosing, covariates=covariates, cohort=arm, observable=observable,
                               time_unit="")


def load_models(paths: list[Path]):
    """Models from TOML files; a missing file or a bad model is an error naming the file."""
    from ..spec import ODEModel

    models = []
    for p in paths:
        if not Path(p).is_file():
            raise BadInput(f"model file {str(p)!r} does not exist.")
        try:
            models.append(ODEModel.from_toml(Path(p)))
        except (ModelSpecError, ValueError) as exc:
            raise ModelSpecError(f"model file {str(p)!r}: {exc}") from exc
    return models


def cohort_label(data, fallback: str) -> str:
    """A short name for a cohort: its ``cohort.toml`` name, its only arm, or ``fallback``."""
    name = data.metadata.get("name") if isinstance(data.metadata, dict) else None
    if name:
        return str(name)
    arms = list(dict.fromkeys(data.observations["cohort"]))
    return arms[0] if len(arms) == 1 else fallback


def model_label(model, index: int) -> str:
    """A model's display name: its ``name`` or ``M<index>``."""
    return getattr(model, "name", "") or f"M{index + 1}"


__all__ += ["model_label"]
