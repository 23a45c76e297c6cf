"""matplotlib figures of a report, embedded as base64 PNG data URIs (no files beside the HTML, no network)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

__all__ = ["to_data_uri", "prediction_times", "mix_predictions", "vpc_figure", "member_figure", "weights_figure",
           "counterfactual_figure"]

#: Resolution of the embedded PNG figures.
DPI = 110
_BAND = "#4c72b0"
_OBS = "#222222"


def to_data_uri(fig: Figure, fmt: str = "png") -> str:
    """A figure as a ``data:`` URI (PNG or SVG)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches="tight")
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def prediction_times(data, n: int = 60) -> list[float]:
    """A grid from 0 to the last observed time, plus every observed time."""
    t = data.observations["time"].to_numpy(float)
    return sorted(set(np.linspace(0.0, float(t.max()), n).round(6)) | set(t.tolist()))


def mix_predictions(preds: Sequence[pd.DataFrame], weights: Sequence[float], level: float = 0.9) -> pd.DataFrame:
    """Weighted mixture of members' predictive bands, each member's band read as a normal distribution.

    Used when no :class:`cohortode.Ensemble` mixes the members' draws; the report says so. Each member's centre is
    its median and its scale ``(upper - lower) / (2 z)``; the mixture's quantiles are found on a grid.
    """
    w = np.asarray(weights, float)
    keep = [i for i in range(len(preds)) if w[i] > 0]
    if len(keep) == 1 or np.isclose(w[keep].sum(), 0):
        return preds[keep[0] if keep else 0].copy()
    w = w[keep] / w[keep].sum()
    preds = [preds[i] for i in keep]
    z = stats.norm.ppf(0.5 + level / 2)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = preds[0][["cohort", "observable", "time"]].copy()
    for what in ("mean", "sd"):
        mu = np.stack([p[what].to_numpy(float) for p in preds])
        scale = np.stack([(p[f"{what}_upper"] - p[f"{what}_lower"]).to_numpy(float) for p in preds]) / (2 * z)
        scale = np.maximum(scale, 1e-12 * (1 + np.abs(mu)))
        lo = (mu - 4 * scale).min(axis=0)
        hi = (mu + 4 * scale).max(axis=0)
        grid = lo[None, :] + (hi - lo)[None, :] * np.linspace(0, 1, 801)[:, None]
        cdf = sum(w[i] * stats.norm.cdf((grid - mu[i]) / scale[i]) for i in range(len(preds)))
        for q, col in ((0.5, what), (lo_q, f"{what}_lower"), (hi_q, f"{what}_upper")):
            out[col] = [np.interp(q, cdf[:, j], grid[:, j]) for j in range(grid.shape[1])]
    return out


def _panels(data) -> list[tuple[str, str]]:
    obs = data.observations
    return list(dict.fromkeys(zip(obs["cohort"], obs["observable"], strict=True)))


def _observed(data, cohort: str, observable: str) -> pd.DataFrame:
    obs = data.observations
    return obs[(obs["cohort"] == cohort) & (obs["observable"] == observable)]


def _band(ax, pred: pd.DataFrame, what: str, color: str, label: str) -> None:
    ax.fill_between(pred["time"], pred[f"{what}_lower"], pred[f"{what}_upper"], color=color, alpha=0.25, lw=0,
                    label=f"{label} band")
    ax.plot(pred["time"], pred[what], color=color, lw=1.6, label=label)


def vpc_figure(data, pred: pd.DataFrame, level: float = 0.9) -> Figure:
    """Aggregate visual predictive check: per arm and observable, the mean panel and the SD panel."""
    panels = _panels(data)
    fig = Figure(figsize=(9.0, 3.0 * len(panels)))
    axes = fig.subplots(len(panels), 2, squeeze=False)
    tu = f" ({data.time_unit})" if data.time_unit else ""
    for (cohort, observable), (ax_m, ax_s) in zip(panels, axes, strict=True):
        o = _observed(data, cohort, observable)
        p = pred[(pred["cohort"] == cohort) & (pred["observable"] == observable)]
        unit = data.units.get(observable, "")
        _band(ax_m, p, "mean", _BAND, f"ensemble mean ({level:.0%})")
        ax_m.errorbar(o["time"], o["mean"], yerr=o["sd"].fillna(0), fmt="o", color=_OBS, ms=4, capsize=3,
                      label="observed mean ± SD")
        ax_m.set_title(f"{cohort}: {observable} — cohort mean", fontsize=10)
        ax_m.set_ylabel(f"{observable} {f'({unit})' if unit else ''}")
        _band(ax_s, p, "sd", "#dd8452", f"predicted SD ({level:.0%})")
        ax_s.plot(o["time"], o["sd"], "o", color=_OBS, ms=4, label="observed SD")
        ax_s.set_title(f"{cohort}: {observable} — between-subject SD", fontsize=10)
        for ax in (ax_m, ax_s):
            ax.set_xlabel(f"time{tu}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def member_figure(data, name: str, pred: pd.DataFrame, level: float = 0.9) -> Figure:
    """One member's predicted mean band against the observed means, one panel per arm and observable."""
    panels = _panels(data)
    fig = Figure(figsize=(min(3.2 * len(panels), 9.6), 2.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for (cohort, observable), ax in zip(panels, axes, strict=True):
        o = _observed(data, cohort, observable)
        p = pred[(pred["cohort"] == cohort) & (pred["observable"] == observable)]
        _band(ax, p, "mean", _BAND, f"{level:.0%}")
        ax.errorbar(o["time"], o["mean"], yerr=o["sd"].fillna(0), fmt="o", color=_OBS, ms=3, capsize=2)
        ax.set_title(f"{name}: {cohort}/{observable}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def weights_figure(names: Sequence[str], weights: Sequence[float]) -> Figure:
    """Horizontal bars of the ensemble weights."""
    fig = Figure(figsize=(6.0, 0.5 + 0.4 * len(names)))
    ax = fig.subplots()
    y = np.arange(len(names))[::-1]
    ax.barh(y, weights, color=_BAND)
    ax.set_yticks(y, labels=list(names), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("weight")
    for yi, wi in zip(y, weights, strict=True):
        ax.text(min(wi + 0.01, 0.9), yi, f"{wi:.3f}", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def counterfactual_figure(data, baseline: pd.DataFrame | None, scenario: pd.DataFrame, label: str,
                          level: float = 0.9) -> Figure:
    """Predicted cohort mean under the scenario asked for, against the fitted (observed) regimen."""
    panels = list(dict.fromkeys(zip(scenario["cohort"], scenario["observable"], strict=True)))
    fig = Figure(figsize=(min(4.5 * len(panels), 9.0), 3.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for (cohort, observable), ax in zip(panels, axes, strict=True):
        s = scenario[(scenario["cohort"] == cohort) & (scenario["observable"] == observable)]
        if baseline is not None:
            b = baseline[(baseline["cohort"] == cohort) & (baseline["observable"] == observable)]
            _band(ax, b, "mean", "#999999", "as observed")
        _band(ax, s, "mean", "#c44e52", label)
        o = _observed(data, cohort, observable)
        ax.plot(o["time"], o["mean"], "o", color=_OBS, ms=3, label="observed mean")
        ax.set_title(f"{cohort}/{observable}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
