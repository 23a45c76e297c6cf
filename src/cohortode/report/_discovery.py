"""Reports from a :class:`cohortode.Discovery` (issue 10) or an :class:`cohortode.Ensemble` (issue 9).

Thin adapters onto :func:`render_report`; they only read the objects' public attributes (``ensemble.members`` with
``name``, ``fit``, ``weight``; ``table()``; ``candidates()``; ``predict``), so the renderer itself does not depend on
the run-directory format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._members import Member
from ._render import render_report

__all__ = ["report_from_ensemble", "report_from_discovery", "report_from_run_dir"]


def _members(ensemble) -> list[Member]:
    return [Member(str(m.name), m.fit, float(m.weight)) for m in ensemble.members]


def report_from_ensemble(ensemble, data, path: str | os.PathLike, *, comparison=None, candidates=None,
                         provenance: Mapping[str, Any] | None = None, counterfactual=None, level: float = 0.9
                         ) -> Path:
    """Report of an ensemble: its members, its mixed predictions, its comparison table and provenance."""
    from ._figures import prediction_times

    if comparison is None and hasattr(ensemble, "table"):
        comparison = ensemble.table()
    prov = dict(getattr(ensemble, "provenance", None) or {})
    prov.update(provenance or {})
    pred = ensemble.predict(prediction_times(data), level=level)
    return render_report(data, _members(ensemble), path=path, comparison=comparison, candidates=candidates,
                         provenance=prov, counterfactual=counterfactual, ensemble_prediction=pred, level=level)


def report_from_discovery(discovery, data, path: str | os.PathLike, *, provenance=None, counterfactual=None,
                          level: float = 0.9) -> Path:
    """Report of a finished discovery: ensemble, comparison table, every candidate tried, timing."""
    if getattr(discovery, "ensemble", None) is None:
        raise RuntimeError("this discovery has no ensemble (its comparison stage did not run), so there is nothing "
                           "to report; its table: " + " ".join(str(discovery.table()).split())[:300])
    prov = dict(provenance or {})
    for key in ("stopped", "run_dir"):
        if getattr(discovery, key, None) is not None:
            prov[f"discovery {key.replace('_', ' ')}"] = str(getattr(discovery, key))
    timing = getattr(discovery, "timings", None) or getattr(discovery, "timing", None)
    if isinstance(timing, Mapping):
        prov.update({f"seconds in {k}": f"{float(v):.1f}" for k, v in timing.items()})
    candidates = discovery.candidates() if hasattr(discovery, "candidates") else None
    return report_from_ensemble(discovery.ensemble, data, path, comparison=discovery.table(), candidates=candidates,
                                provenance=prov, counterfactual=counterfactual, level=level)


def report_from_run_dir(run_dir: str | os.PathLike, path: str | os.PathLike | None = None, *, data=None,
                        level: float = 0.9, provenance: Mapping[str, Any] | None = None) -> Path:
    """Report of a finished run directory of :func:`cohortode.discover`, read by :meth:`cohortode.Discovery.load`
    (nothing is proposed or fitted again; the run directory records its cohort data, so ``data`` is needed only
    for runs that do not)."""
    from ..discover import Discovery, RunDirectory

    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {str(run)!r} does not exist.")
    discovery = Discovery.load(run, data=data)
    recorded = RunDirectory(run).settings() or {}
    settings = recorded.get("settings", {})
    prov: dict[str, Any] = {"command": "cohortode report"}
    for key in ("seed", "proposers", "budget", "fit"):
        if key in settings:
            prov["fit settings" if key == "fit" else key] = settings[key]
    prov.update({f"run {k}": v for k, v in recorded.get("provenance", {}).items()})
    prov.update(provenance or {})
    return report_from_discovery(discovery, discovery.data, path or run / "report.html", provenance=prov,
                                 level=level)


def report_from_fits(data, fits: Mapping[str, Any], path: str | os.PathLike, *, seed: int = 0,
                     provenance: Mapping[str, Any] | None = None, regimen=None,
                     changes: Mapping[str, Any] | None = None, compare_options: Mapping[str, Any] | None = None,
                     level: float = 0.9) -> tuple[Path, Any]:
    """Compare fits of one cohort, weight them by stacking, and write the report; returns (path, comparison table).

    With :class:`cohortode.Ensemble` available (issue 9) the bands mix the members' posterior draws and a
    ``regimen`` or parameter ``changes`` add a counterfactual panel (``Ensemble.simulate``); without it the bands
    mix the members' bands and counterfactuals are refused.
    """
    import cohortode

    from ._comparison import compare_fits
    from ._figures import prediction_times

    fits = dict(fits)
    table = compare_fits(fits, seed=seed, **dict(compare_options or {})) if len(fits) > 1 else None
    if table is None:
        weights = {n: 1.0 for n in fits}
    else:
        raw = {str(n): float(w) for n, w in zip(table["name"], table["weight_stacking"], strict=True)}
        total = sum(raw.values()) or 1.0
        weights = {n: raw.get(n, 0.0) / total for n in fits}
    members = [Member(n, f, weights[n]) for n, f in fits.items()]
    asked = regimen is not None or bool(changes)
    ensemble_type = getattr(cohortode, "Ensemble", None)
    prediction = counterfactual = None
    if ensemble_type is not None and hasattr(ensemble_type, "from_fits"):
        ensemble = ensemble_type.from_fits(fits, weights, provenance=provenance)
        times = prediction_times(data)
        prediction = ensemble.predict(times, level=level)
        if asked:
            what = []
            if regimen is not None:
                what.append(f"regimen {regimen}")
            if changes:
                what.append("parameters " + ", ".join(f"{k} {v}" for k, v in changes.items()))
            counterfactual = {"label": "; ".join(what), "baseline": prediction,
                              "prediction": ensemble.simulate(times, regimen=regimen, changes=changes, level=level),
                              "description": "Predicted cohort mean under the scenario (red) against the fitted "
                                             "regimen and parameters (grey)."}
    elif asked:
        raise RuntimeError("counterfactual panels need cohortode.Ensemble, which this version lacks.")
    out = render_report(data, members, path=path, comparison=table, provenance=provenance,
                        counterfactual=counterfactual, ensemble_prediction=prediction, level=level)
    return out, table


__all__ += ["report_from_fits"]
