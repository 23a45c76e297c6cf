"""Reading a cohort directory described by ``cohort.toml``.

A cohort directory holds the canonical long-format CSV files and a ``cohort.toml`` such as::

    name = "theophylline"
    description = "12 adults, single oral dose ..."   # free text, e.g. for an LLM prompt
    time_unit = "h"
    amount_unit = "mg/kg"                            # optional, informational

    [files]
    observations = "observations.csv"               # required
    dosing = "dosing.csv"                           # optional
    covariates = "covariates.csv"                   # optional

    [units]                                         # observable -> unit
    conc = "mg/L"

    [columns]                                       # optional: canonical name -> column in observations file
    # mean = "conc_mean"

Top-level ``cohort`` / ``observable`` give constant values for single-arm tables without such columns. Other keys
are kept in ``CohortData.metadata``. Without a ``cohort.toml`` the directory must hold ``observations.csv`` (and may
hold ``dosing.csv`` and ``covariates.csv``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

from .._errors import CohortDataError

__all__ = ["KNOWN_KEYS", "FILE_KEYS", "read_cohort_toml"]

KNOWN_KEYS = ("name", "description", "time_unit", "amount_unit", "cohort", "observable", "files", "units", "columns")
FILE_KEYS = ("observations", "dosing", "covariates")
_TEXT_KEYS = ("name", "description", "time_unit", "amount_unit", "cohort", "observable")
_TABLE_KEYS = ("files", "units", "columns")


def read_cohort_toml(directory: str | os.PathLike) -> dict[str, Any]:
    """Parse and check ``<directory>/cohort.toml``; file names in ``files`` become absolute paths.

    Returns the parsed document with ``files`` always holding ``observations`` (and ``dosing`` / ``covariates`` when
    present). Without a ``cohort.toml``, the defaults ``observations.csv`` / ``dosing.csv`` / ``covariates.csv`` are
    used when those files exist.

    Raises
    ------
    CohortDataError
        If the directory does not exist, the TOML is malformed, a key looks misspelled, or a named file is missing.
    """
    root = Path(directory)
    if not root.is_dir():
        raise CohortDataError(
            "no such directory; a cohort directory holds cohort.toml and its CSV files.", file=str(root)
        )
    toml_path = root / "cohort.toml"
    if toml_path.is_file():
        file = str(toml_path)
        try:
            with open(toml_path, "rb") as fh:
                doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise CohortDataError(f"is not valid TOML: {exc}", file=file) from exc
    else:
        file = str(root)
        defaults = {k: f"{k}.csv" for k in FILE_KEYS if (root / f"{k}.csv").is_file()}
        if "observations" not in defaults:
            raise CohortDataError("holds neither cohort.toml nor observations.csv.", file=file)
        doc = {"files": defaults}
    _check_keys(doc, file)
    files = dict(doc.get("files", {}))
    files.setdefault("observations", "observations.csv")
    resolved = {}
    for key, name in files.items():
        path = root / name
        if not path.is_file():
            raise CohortDataError(
                f"[files] {key} = {name!r}, but {str(path)!r} does not exist.", file=file, column=f"files.{key}"
            )
        resolved[key] = str(path)
    return {**doc, "files": resolved}


def _check_keys(doc: dict[str, Any], file: str) -> None:
    for key, value in doc.items():
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.75)
            if close:
                raise CohortDataError(f"unknown key {key!r} (did you mean {close[0]!r}?).", file=file, column=key)
            continue
        if key in _TEXT_KEYS and not isinstance(value, str):
            raise CohortDataError(f"{key} must be a string, got {value!r}.", file=file, column=key)
        if key in _TABLE_KEYS:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise CohortDataError(f"[{key}] must be a table of strings, got {value!r}.", file=file, column=key)
    for key in doc.get("files", {}):
        if key not in FILE_KEYS:
            raise CohortDataError(
                f"unknown key {key!r} in [files]; known keys: {list(FILE_KEYS)}.", file=file, column=f"files.{key}"
            )
