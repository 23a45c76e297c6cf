"""Render a cohort report (and a batch index) to one self-contained HTML file."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import re
import warnings
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from ._equations import equation_image, latex_lines
from ._figures import (counterfactual_figure, member_figure, mix_predictions, prediction_times, to_data_uri,
                       vpc_figure, weights_figure)
from ._members import Member

__all__ = ["render_report", "render_index", "data_hash", "parameter_table", "plain_diagnostics"]

#: Thresholds behind the plain-words diagnostics (Vehtari et al. 2021).
GOOD_RHAT = 1.01
GOOD_ESS = 400
GOOD_PARETO_K = 0.7

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("cohortode.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def data_hash(data) -> str:
    """SHA-256 (first 16 hex digits) of the canonical observation and dosing tables."""
    h = hashlib.sha256()
    h.update(data.observations[["cohort", "time", "observable", "mean", "sd", "n"]].to_csv(index=False).encode())
    h.update(data.dosing.drop(columns=["source_row"], errors="ignore").to_csv(index=False).encode())
    return h.hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("cohortode", "jax", "numpyro", "diffrax", "arviz", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _unit_of(description: str) -> str:
    m = re.search(r"\(([^()]*)\)\s*$", description or "")
    return m.group(1) if m else ""


def parameter_table(fit, level: float = 0.9) -> pd.DataFrame:
    """Posterior summary with a unit and a description per row and the interval columns named by percent."""
    summary = fit.summary(level)
    model = fit.model
    obs_units = sorted(set(fit.data.units.values()))
    rows = []
    for name, row in summary.iterrows():
        if name in model.parameter_names:
            desc = model.parameter(name).description
            unit, what = _unit_of(desc), re.sub(r"\s*\([^()]*\)\s*$", "", desc) or "typical value"
        elif name.startswith("omega_"):
            unit, what = "log scale", f"between-subject SD of {name[6:]}"
        elif name == "sigma_add":
            unit, what = ", ".join(obs_units), "additive residual SD"
        elif name == "sigma_prop":
            unit, what = "fraction", "proportional residual SD"
        else:
            unit, what = "", ""
        rows.append({"parameter": name, "meaning": what, "unit": unit, **row.to_dict()})
    table = pd.DataFrame(rows)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    return table.rename(columns={f"q{lo:.3g}": f"{lo:.1%}", f"q{hi:.3g}": f"{hi:.1%}"})


def plain_diagnostics(members: Sequence[Member], comparison: pd.DataFrame | None, data) -> list[str]:
    """Diagnostics and warnings in plain words."""
    notes = []
    for m in members:
        d, fit = m.fit.diagnostics, m.fit
        if fit.method == "nuts":
            if d.get("max_r_hat", 1.0) > GOOD_RHAT:
                notes.append(f"{m.name}: the chains disagree (largest R-hat {d['max_r_hat']:.3f}, above "
                             f"{GOOD_RHAT}); its intervals may be wrong. Run more draws.")
            if d.get("min_ess_bulk", GOOD_ESS) < GOOD_ESS or d.get("min_ess_tail", GOOD_ESS) < GOOD_ESS:
                notes.append(f"{m.name}: few effective draws (bulk ESS {d.get('min_ess_bulk', 0):.0f}, tail ESS "
                             f"{d.get('min_ess_tail', 0):.0f}, below {GOOD_ESS}); the interval ends are rough.")
            if d.get("divergences", 0):
                notes.append(f"{m.name}: {d['divergences']} divergent transitions; the sampler may have missed part "
                             "of the posterior (consider a reparameterisation or a higher target acceptance).")
        else:
            how = "a Laplace approximation" if fit.method == "laplace" else "its posterior mode only (MAP)"
            notes.append(f"{m.name} was fitted by {how}: intervals are approximate; fit by NUTS for final results.")
        if not d.get("ok", True):
            notes.append(f"{m.name}: " + "; ".join(map(str, d.get("problems", []))))
    k_column = next((c for c in ("n_high_k", "n_high_pareto_k") if comparison is not None and c in comparison), None)
    if k_column is not None:
        n_rows = len(data.observations)
        for _, row in comparison.iterrows():
            k = int(row[k_column]) if pd.notna(row[k_column]) else 0
            refitted = row.get("refitted_rows")
            if k and isinstance(refitted, list | tuple) and len(refitted) >= k:
                notes.append(f"{row['name']}: {k} data rows had unreliable PSIS estimates (Pareto k above "
                             f"{GOOD_PARETO_K}); their leave-one-out terms were computed exactly by refitting.")
            elif k:
                notes.append(f"{row['name']}: for {k} of {n_rows} data rows the leave-one-out estimate is unreliable "
                             f"(Pareto k above {GOOD_PARETO_K}); with so few rows each one matters, so read its "
                             "elpd with care.")
    small = data.observations["n"].min()
    if small < 10:
        notes.append(f"Some time points rest on few subjects (smallest n = {small}); the observed SDs are uncertain.")
    return notes


def _html_table(df: pd.DataFrame, table_id: str, digits: int = 4) -> str:
    def fmt(v):
        return f"{v:.{digits}g}" if isinstance(v, float | np.floating) else v
    shown = df.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(fmt)
    return shown.to_html(index=False, border=0, table_id=table_id, classes="tbl", na_rep="", escape=True)


def _ensemble_prediction(members, times, level, ensemble_prediction):
    preds = {}
    for m in members:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            preds[m.name] = m.fit.predict(times, level=level)
    if ensemble_prediction is not None:
        return ensemble_prediction, preds, "the ensemble's mixture of the members' posterior draws"
    mixed = mix_predictions(list(preds.values()), [m.weight for m in members], level)
    how = ("the single member's posterior" if len(members) == 1 else
           "a weighted mixture of the members' bands, each read as a normal distribution")
    return mixed, preds, how


def render_report(data, members: Sequence[Member | tuple], *, path: str | os.PathLike,
                  comparison: pd.DataFrame | None = None, candidates: pd.DataFrame | None = None,
                  provenance: Mapping[str, Any] | None = None, counterfactual: Mapping[str, Any] | None = None,
                  ensemble_prediction: pd.DataFrame | None = None, title: str | None = None,
                  level: float = 0.9) -> Path:
    """Write one self-contained HTML report of a cohort and its fitted structures.

    Parameters
    ----------
    data
        The :class:`~cohortode.CohortData` that was fitted.
    members
        ``(name, fit, weight)`` per structure (:class:`Member`), the ensemble's members.
    path
        The HTML file to write (its folder is created).
    comparison
        The model-comparison table (one row per structure, e.g. ``Comparison.table``); computed from the members'
        fits by :func:`compare_fits` when ``None`` and there are several members.
    candidates
        Every structure tried (``Discovery.candidates()``), shown when given.
    provenance
        Facts about the run (seed, LLM, settings, ...); data hash, package versions and the time are added.
    counterfactual
        ``{"label": ..., "prediction": DataFrame, "baseline": DataFrame | None, "description": str}``: predictions
        under a regimen or parameter change (``Ensemble.simulate``), shown as their own panel.
    ensemble_prediction
        The ensemble's ``predict`` table (columns ``cohort, observable, time, mean, mean_lower, mean_upper, sd,
        sd_lower, sd_upper``); mixed from the members' bands when ``None``.
    title
        Default: the cohort's name.
    level
        Credible level of every band and interval.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from ._comparison import compare_fits

    members = [m if isinstance(m, Member) else Member(*m) for m in members]
    if not members:
        raise ValueError("render_report needs at least one member (name, fit, weight).")
    if comparison is None and len(members) > 1:
        comparison = compare_fits({m.name: m.fit for m in members})
    times = prediction_times(data)
    ens, preds, mix_how = _ensemble_prediction(members, times, level, ensemble_prediction)
    total = sum(m.weight for m in members) or 1.0
    structures = []
    for m in members:
        eqs = []
        for line, text in zip(latex_lines(m.fit.model.latex()), m.fit.model.equations(), strict=False):
            eqs.append({"text": text, "img": equation_image(line)})
        structures.append({
            "name": m.name, "weight": m.weight / total, "equations": eqs, "method": m.fit.method,
            "solver": m.fit.solver, "seconds": m.fit.seconds,
            "parameters": _html_table(parameter_table(m.fit, level), f"params-{_slug(m.name)}"),
            "figure": to_data_uri(member_figure(data, m.name, preds[m.name], level)),
        })
    name = title or str(data.metadata.get("name") or ", ".join(dict.fromkeys(data.observations["cohort"])))
    cf = None
    if counterfactual is not None:
        label = str(counterfactual.get("label", "scenario"))
        cf = {"label": label, "description": str(counterfactual.get("description", "")),
              "figure": to_data_uri(counterfactual_figure(data, counterfactual.get("baseline"),
                                                          counterfactual["prediction"], label, level)),
              "table": _html_table(counterfactual["prediction"], "counterfactual-table")}
    prov = {"data hash (sha256)": data_hash(data), "data source": data.source or "in memory",
            "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), "credible level": level}
    prov.update({str(k): v for k, v in (provenance or {}).items()})
    prov.update({f"version of {k}": v for k, v in _versions().items()})
    obs_cols = [c for c in ("cohort", "observable", "time", "mean", "sd", "n") if c in data.observations.columns]
    context = {
        "title": name, "description": data.description, "time_unit": data.time_unit or "not given",
        "units": data.units, "n_rows": len(data.observations),
        "arms": list(dict.fromkeys(data.observations["cohort"])),
        "observations": _html_table(data.observations[obs_cols], "observations"),
        "dosing": _html_table(data.dosing.drop(columns=["source_row"], errors="ignore"), "dosing")
        if len(data.dosing) else None,
        "structures": structures, "level": level, "mix_how": mix_how,
        "comparison": None if comparison is None else _html_table(_comparison_view(comparison), "comparison"),
        "candidates": None if candidates is None else _html_table(candidates, "candidates"),
        "vpc": to_data_uri(vpc_figure(data, ens, level)),
        "weights": to_data_uri(weights_figure([s["name"] for s in structures], [s["weight"] for s in structures])),
        "diagnostics": plain_diagnostics(members, comparison, data), "counterfactual": cf,
        "provenance": {k: str(v) for k, v in prov.items()},
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_ENV.get_template("report.html.j2").render(**context, css=_css()), encoding="utf-8")
    return out


def _comparison_view(table: pd.DataFrame) -> pd.DataFrame:
    from ._comparison import COLUMNS

    first = [c for c in COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _css() -> str:
    return (Path(__file__).parent / "templates" / "style.css").read_text(encoding="utf-8")


def render_index(entries: Sequence[Mapping[str, Any]], *, path: str | os.PathLike, title: str = "cohortode batch",
                 provenance: Mapping[str, Any] | None = None) -> Path:
    """Write a batch's index page: one row per cohort with its status, its report link or its error.

    Each entry has ``name``, ``status`` (``"ok"`` / ``"failed"``), and ``report`` (a path relative to the index),
    ``error``, ``best``, ``seconds`` where known.
    """
    rows = [{"name": str(e.get("name", "")), "status": str(e.get("status", "")), "report": e.get("report"),
             "error": e.get("error") or "", "best": e.get("best") or "",
             "seconds": "" if e.get("seconds") is None else f"{float(e['seconds']):.1f}"} for e in entries]
    prov = {str(k): str(v) for k, v in (provenance or {}).items()}
    prov["created"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_ENV.get_template("index.html.j2").render(title=title, rows=rows, provenance=prov, css=_css(),
                                                             n_failed=sum(r["status"] != "ok" for r in rows)),
                   encoding="utf-8")
    return out
