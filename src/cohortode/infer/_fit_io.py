"""Saving a :class:`~cohortode.Fit` to a folder and reading it back.

Layout of the folder::

    model.toml          the structure (ODEModel.to_toml)
    settings.json       FitSettings, resolved priors, solver used, MAP, data hash, format and package version
    diagnostics.json    the diagnostics summary and the per-parameter table
    idata.nc            the InferenceData (netCDF), with sample_stats.diverging for NUTS
    data/               observations.csv, dosing.csv, covariates.csv and data.json (the CohortData; ``kind`` in
                        data.json is ``"counts"`` for a CountData, whose fit loads as a CountFit)

Every file read is checked; anything missing, truncated or edited raises :class:`~cohortode.CohortodeError` naming
the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from .._errors import CohortodeError
from ..data import CohortData, CountData, data_hash
from ..spec import ODEModel, Prior
from ._optimize import MapResult
from ._problem import rebuild_problem
from ._settings import FitSettings

__all__ = ["save_fit", "load_fit", "save_data", "load_data", "FORMAT_VERSION"]

FORMAT_VERSION = 1
"""Version of the folder layout written by :func:`save_fit`."""

_TEXT_COLUMNS = {"observations": ("cohort", "observable"), "dosing": ("cohort", "target"), "covariates": ("cohort",)}
_COUNT_TEXT_COLUMNS = {**_TEXT_COLUMNS, "observations": ("cohort", "observable", "observation")}
_KINDS = {"cohort": CohortData, "counts": CountData}
"""``kind`` in data.json -> the data class (absent: a cohort table, as written before counts existed)."""


def _kind(data: CohortData) -> str:
    return "counts" if isinstance(data, CountData) else "cohort"


# ------------------------------------------------------------------------------------------------- data tables
def save_data(data: CohortData, folder: Path) -> str:
    """Write the cohort tables as CSV (full float precision) plus ``data.json``; returns the data hash."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = data_hash(data)
    for name in _TEXT_COLUMNS:
        table: pd.DataFrame = getattr(data, name)
        table.to_csv(folder / f"{name}.csv", index=(name == "covariates"), float_format="%.17g",
                     lineterminator="\n")
    meta = {"kind": _kind(data), "hash": digest, "source": data.source, "description": data.description, "time_unit": data.time_unit,
            "units": data.units, "metadata": data.metadata,
            "dtypes": {name: {str(c): str(t) for c, t in getattr(data, name).dtypes.items()} for name in _TEXT_COLUMNS}}
    _write_json(folder / "data.json", meta)
    return digest


def load_data(folder: Path) -> CohortData:
    """Read the tables written by :func:`save_data` and check them against their hash."""
    meta = _read_json(folder / "data.json")
    kind = meta.get("kind", "cohort") if isinstance(meta, dict) else None
    if kind not in _KINDS:
        raise CohortodeError(f"{folder / 'data.json'}: unknown data kind {kind!r}; this cohortode reads "
                             f"{sorted(_KINDS)}")
    tables = {}
    for name, text_columns in (_COUNT_TEXT_COLUMNS if kind == "counts" else _TEXT_COLUMNS).items():
        file = folder / f"{name}.csv"
        try:
            dtypes = meta["dtypes"][name]
        except (KeyError, TypeError) as exc:
            raise CohortodeError(f"{folder / 'data.json'}: no column types of {name} ({exc!r})") from exc
        try:
            table = pd.read_csv(file, dtype={c: str for c in text_columns}, keep_default_na=False,
                                na_values={c: [""] for c in dtypes if c not in text_columns})
            if name == "covariates":
                table = table.set_index("cohort")
            table = table.astype({c: t for c, t in dtypes.items() if c in table.columns})
        except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError) as exc:
            raise CohortodeError(f"{file}: cannot read the saved cohort table ({exc})") from exc
        if list(map(str, table.columns)) != list(dtypes):
            raise CohortodeError(f"{file}: columns {list(table.columns)} differ from the saved ones {list(dtypes)}")
        tables[name] = table
    data = object.__new__(_KINDS[kind])
    data._set(observations=tables["observations"], dosing=tables["dosing"], covariates=tables["covariates"],
              source=meta["source"], description=meta["description"], time_unit=meta["time_unit"],
              units=dict(meta["units"]), metadata=dict(meta["metadata"]), dosing_file=None)
    if data_hash(data) != meta["hash"]:
        raise CohortodeError(f"{folder}: the cohort tables (observations.csv, dosing.csv, covariates.csv) do not "
                             f"match the hash in {folder / 'data.json'}; they were edited or truncated")
    return data


# ------------------------------------------------------------------------------------------------------- fits
def save_fit(fit, path: str | os.PathLike) -> Path:
    """Write ``fit`` to the folder ``path``; see the module docstring for the layout."""
    from .. import __version__

    if not fit.settings.engine:
        raise CohortodeError(f"cannot save to {path}: the fit's moment engine {fit.likelihood.engine!r} has no name; "
                             f"use 'sigma', 'sigma5', 'fo' or 'mc:N' (a fit with any engine pickles)")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    digest = save_data(fit.data, folder / "data")
    (folder / "model.toml").write_text(fit.model.to_toml())
    m = fit.map
    _write_json(folder / "settings.json", {
        "format": FORMAT_VERSION, "cohortode": __version__, "settings": fit.settings.to_dict(),
        "solver": fit.solver, "priors": {k: p.to_dict() for k, p in fit.problem.priors.items()},
        "map": {"values": m.values, "unconstrained": np.asarray(m.unconstrained).tolist(),
                "log_density": m.log_density, "all_log_densities": list(m.all_log_densities)},
        "seconds": fit.seconds, "warn": fit._warn, "data_hash": digest, "structure_hash": fit.model.structure_hash,
        "data_kind": _kind(fit.data),
    })
    table = fit.diagnostics_table.reset_index().to_dict(orient="list") if len(fit.diagnostics_table) else {}
    _write_json(folder / "diagnostics.json", {"summary": fit.diagnostics, "table": table})
    target = folder / "idata.nc"
    fit.idata.to_netcdf(str(target.with_suffix(".nc.part")))
    os.replace(target.with_suffix(".nc.part"), target)
    return folder


def load_fit(path: str | os.PathLike):
    """Read a fit written by :func:`save_fit`: a :class:`~cohortode.infer.CountFit` when the saved data are a
    :class:`~cohortode.CountData`, else a :class:`~cohortode.Fit`."""
    from ._count_fit import CountFit
    from ._fit import Fit

    folder = Path(path)
    if not folder.is_dir():
        raise CohortodeError(f"{folder}: no such fit folder (Fit.save writes one)")
    saved = _read_json(folder / "settings.json")
    diag = _read_json(folder / "diagnostics.json")
    try:
        if saved.get("format") != FORMAT_VERSION:
            raise CohortodeError(f"{folder / 'settings.json'}: format {saved.get('format')!r}, this cohortode reads "
                                 f"{FORMAT_VERSION}")
        settings = FitSettings.from_dict(saved["settings"])
        priors = {k: Prior.from_dict(d) for k, d in saved["priors"].items()}
        m = saved["map"]
        solver = saved["solver"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CohortodeError(f"{folder / 'settings.json'}: not a fit's settings ({exc!r})") from exc
    model_file = folder / "model.toml"
    try:
        model = ODEModel.from_toml(model_file)
    except Exception as exc:  # the TOML reader raises several kinds; all mean the same here
        raise CohortodeError(f"{model_file}: cannot read the fitted model ({exc})") from exc
    if model.structure_hash != saved.get("structure_hash"):
        raise CohortodeError(f"{model_file}: the model's structure differs from the one fitted (edited?)")
    data = load_data(folder / "data")
    if data_hash(data) != saved.get("data_hash"):
        raise CohortodeError(f"{folder / 'settings.json'}: data hash differs from the saved data tables")
    if _kind(data) != saved.get("data_kind", "cohort"):
        raise CohortodeError(f"{folder / 'data' / 'data.json'}: data kind {_kind(data)!r} differs from the fitted "
                             f"one ({saved.get('data_kind', 'cohort')!r} in settings.json)")
    idata = _read_idata(folder / "idata.nc", list(priors))
    draws = {k: np.asarray(idata.posterior[k].values, dtype=float) for k in priors}
    diverging = None
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        diverging = np.asarray(idata.sample_stats["diverging"].values, dtype=bool)
    try:
        table = pd.DataFrame(diag["table"]).set_index("parameter") if diag["table"] else pd.DataFrame()
        summary = diag["summary"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CohortodeError(f"{folder / 'diagnostics.json'}: not a fit's diagnostics ({exc!r})") from exc
    problem = rebuild_problem(model, data, engine=settings.engine, error=settings.error, solver=solver,
                              options=settings.solver_options, priors=priors)
    map_result = MapResult({k: float(v) for k, v in m["values"].items()}, np.asarray(m["unconstrained"], float),
                           float(m["log_density"]), [float(v) for v in m["all_log_densities"]], problem)
    log_weights = None
    if "sample_stats" in idata.groups() and "laplace_log_weight" in idata.sample_stats:
        log_weights = np.asarray(idata.sample_stats["laplace_log_weight"].values, dtype=float).reshape(-1)
    cls = CountFit if isinstance(data, CountData) else Fit
    return cls(problem, settings, draws, map_result, summary, table, float(saved.get("seconds", 0.0)),
               diverging=diverging, warn=bool(saved.get("warn", True)), idata=idata,
               laplace_log_weights=log_weights)


def _read_idata(file: Path, sites: list[str]) -> az.InferenceData:
    if not file.is_file():
        raise CohortodeError(f"{file}: missing (a saved fit keeps its draws there)")
    try:
        idata = az.from_netcdf(str(file))
        idata.load()  # read everything now, so that a truncated file fails here and the file is released
        missing = [k for k in sites if k not in idata.posterior]
        if missing or "log_likelihood" not in idata.groups():
            raise ValueError(f"sites {missing} or the log_likelihood group are missing")
    except Exception as exc:  # netCDF/HDF5 raise OSError, ValueError, KeyError, RuntimeError... for damaged files
        raise CohortodeError(f"{file}: not a readable InferenceData netCDF file ({exc})") from exc
    return idata


def _write_json(file: Path, content: Any) -> None:
    part = file.with_suffix(file.suffix + ".part")
    part.write_text(json.dumps(content, indent=1, default=_plain))
    os.replace(part, file)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise CohortodeError(f"{file}: missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CohortodeError(f"{file}: not valid JSON ({exc})") from exc
