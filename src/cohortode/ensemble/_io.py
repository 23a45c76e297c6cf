"""Saving an :class:`~cohortode.Ensemble` as one folder: ``manifest.json`` plus a :meth:`Fit.save` folder per member."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import re
from pathlib import Path

from .._errors import CohortodeError
from ..data import data_hash
from ..infer import Fit
from ._ensemble import Ensemble, Member

__all__ = ["save_ensemble", "load_ensemble", "MANIFEST", "FORMAT_VERSION"]

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
_PACKAGES = ("cohortode", "jax", "numpyro", "diffrax", "arviz", "numpy", "scipy", "pandas")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def save_ensemble(ensemble: Ensemble, path: str | os.PathLike) -> Path:
    """Write ``ensemble`` to the folder ``path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    members = []
    for i, m in enumerate(ensemble.members):
        sub = f"members/{i:02d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', m.name)[:60]}"
        m.fit.save(folder / sub)
        members.append({"name": m.name, "weight": m.weight, "folder": sub, "seed": m.fit.seed,
                        "method": m.fit.method, "structure_hash": m.model.structure_hash,
                        "data_hash": data_hash(m.fit.data)})
    hashes = sorted({m["data_hash"] for m in members})
    manifest = {
        "format": FORMAT_VERSION,
        "members": members,
        "provenance": {
            "data_hash": hashes[0] if len(hashes) == 1 else hashes,
            "seeds": {m["name"]: m["seed"] for m in members},
            "packages": _versions(),
            "llm": ensemble.provenance.get("llm"),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "extra": {k: v for k, v in ensemble.provenance.items() if k != "llm"},
        },
    }
    part = folder / (MANIFEST + ".part")
    part.write_text(json.dumps(manifest, indent=1, default=str))
    os.replace(part, folder / MANIFEST)
    return folder


def load_ensemble(path: str | os.PathLike) -> Ensemble:
    """Read an ensemble written by :func:`save_ensemble`."""
    folder = Path(path)
    file = folder / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise CohortodeError(f"{file}: missing (Ensemble.save writes it)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CohortodeError(f"{file}: not valid JSON ({exc})") from exc
    try:
        if manifest["format"] != FORMAT_VERSION:
            raise CohortodeError(f"{file}: format {manifest['format']!r}, this cohortode reads {FORMAT_VERSION}")
        entries = [(str(m["name"]), float(m["weight"]), str(m["folder"]), str(m["data_hash"]))
                   for m in manifest["members"]]
        provenance = dict(manifest["provenance"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CohortodeError(f"{file}: not an ensemble manifest ({exc!r})") from exc
    members = []
    for name, weight, sub, digest in entries:
        fit = Fit.load(folder / sub)
        if data_hash(fit.data) != digest:
            raise CohortodeError(f"{file}: member {name!r} was saved with other data than {folder / sub} holds")
        members.append(Member(name, fit, weight))
    try:
        ensemble = Ensemble(members, {"llm": provenance.get("llm"), **provenance.get("extra", {})})
    except ValueError as exc:
        raise CohortodeError(f"{file}: {exc}") from exc
    ensemble.saved_provenance = provenance
    return ensemble
