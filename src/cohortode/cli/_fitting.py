"""Fitting several model files to one cohort (``compare`` and ``report`` before a run directory exists)."""

from __future__ import annotations

from pathlib import Path

from ._app import BadInput, err_console
from ._inputs import load_models

__all__ = ["fit_models", "METHODS"]

METHODS = ("map", "laplace", "nuts")


def fit_models(data, model_files: list[Path], method: str, seed: int, **options) -> dict:
    """Name -> :class:`~cohortode.Fit` for each model file (names: the model's ``name`` or the file stem)."""
    from ..infer import fit

    if method not in METHODS:
        raise BadInput(f"--method {method!r}: choose one of {', '.join(METHODS)}.")
    if not model_files:
        raise BadInput("give at least one --model file.")
    fits = {}
    for path, model in zip(model_files, load_models(model_files), strict=True):
        name = model.name or Path(path).stem
        if name in fits:
            name = f"{name} ({Path(path).name})"
        with err_console.status(f"fitting {name} by {method} ..."):
            fits[name] = fit(model, data, method, seed=seed, warn=False, **options)
        err_console.print(f"fitted {name} ({fits[name].seconds:.1f} s)", markup=False)
    return fits
