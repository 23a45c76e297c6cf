"""A shape summary of aggregate time courses, in numbers and in a few sentences a small language model can read.

Per cohort and observable the summary gives the peak, the overall shape, an apparent terminal half-life (a log-linear
fit of the terminal points after the peak, choosing the window the way non-compartmental analysis does: the largest
window of at least three points whose adjusted R^2 is within 1e-4 of the best), and three flags:

- plateau: the last three points lie within 10% of each other and near the maximum;
- oscillation: the differences between successive means change sign at least three times (changes smaller than 5%
  of the observed range are ignored);
- biexponential: after the peak the early log-slope is more than twice as steep as the terminal log-slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ObservableSummary", "DataSummary", "summarise"]

_FLAT = 0.05
"""Changes below this fraction of the observed range count as flat."""
_PLATEAU_SPREAD = 0.10
_DIP = 0.10
"""A final dip (or initial rise) below this fraction of the range does not change the shape."""
_BIEXP_RATIO = 2.0
_ADJ_R2_TOL = 1e-4


def _g(x: float) -> str:
    """A number with three significant digits."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.3g}"


@dataclass(frozen=True)
class ObservableSummary:
    """Shape of one observable's mean time course in one cohort.

    Attributes
    ----------
    observable, cohort
        What and where.
    n_times, t_first, t_last
        Number of time points and the observed span.
    peak_time, peak_value
        Time and value of the largest mean.
    first_value, last_value
        Means at the first and last time.
    shape
        ``"increasing"``, ``"decreasing"``, ``"rise-then-fall"`` or ``"non-monotonic"``.
    apparent_half_life
        ``ln 2 / -slope`` of the terminal log-linear fit after the peak, or ``None`` when the values after the peak
        do not decline (or are too few).
    plateau, oscillation, biexponential
        See the module documentation.
    time_unit, unit
        Units for :meth:`text` (may be ``""``).
    """

    observable: str
    cohort: str
    n_times: int
    t_first: float
    t_last: float
    peak_time: float
    peak_value: float
    first_value: float
    last_value: float
    shape: str
    apparent_half_life: float | None
    plateau: bool
    oscillation: bool
    biexponential: bool
    time_unit: str = ""
    unit: str = ""

    def text(self) -> str:
        """One or two compact sentences, e.g. ``"conc (cohort a, 11 times over 0-24 h): rises to a peak ..."``."""
        tu = f" {self.time_unit}" if self.time_unit else ""
        vu = f" {self.unit}" if self.unit else ""
        span = f"{_g(self.t_first)}-{_g(self.t_last)}{tu}"
        head = f"{self.observable} (cohort {self.cohort}, {self.n_times} times over {span})"
        if self.shape == "increasing":
            body = f"increases from {_g(self.first_value)} to {_g(self.last_value)}{vu}"
        elif self.shape == "decreasing":
            body = f"decreases from {_g(self.first_value)} to {_g(self.last_value)}{vu}"
        elif self.shape == "rise-then-fall":
            body = (f"rises from {_g(self.first_value)} to a peak of {_g(self.peak_value)}{vu} at "
                    f"{_g(self.peak_time)}{tu}, then falls to {_g(self.last_value)}")
        else:
            body = (f"is non-monotonic: from {_g(self.first_value)}, peak {_g(self.peak_value)}{vu} at "
                    f"{_g(self.peak_time)}{tu}, last {_g(self.last_value)}")
        notes = []
        if self.apparent_half_life is not None:
            notes.append(f"apparent terminal half-life {_g(self.apparent_half_life)}{tu}")
        if self.biexponential:
            notes.append("bi-exponential decline (fast early phase, slower terminal phase)")
        if self.plateau:
            notes.append(f"levels off at a plateau near {_g(self.last_value)}{vu}")
        if self.oscillation:
            notes.append("oscillates (repeated ups and downs)")
        return f"{head} {body}" + ("; " + "; ".join(notes) if notes else "") + "."


@dataclass(frozen=True)
class DataSummary:
    """Summaries of every (cohort, observable) time course."""

    observables: tuple[ObservableSummary, ...]

    def text(self) -> str:
        """One line per cohort and observable."""
        if not self.observables:
            return "No observations."
        return "\n".join(s.text() for s in self.observables)

    def for_observable(self, observable: str) -> tuple[ObservableSummary, ...]:
        """The summaries of ``observable`` (one per cohort)."""
        return tuple(s for s in self.observables if s.observable == observable)


def _loglinear(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of log(y) on t and the adjusted R^2 of the fit (``y > 0``, at least 3 points)."""
    ly = np.log(y)
    tc = t - t.mean()
    sxx = float(tc @ tc)
    slope = float(tc @ (ly - ly.mean())) / sxx if sxx > 0 else 0.0
    intercept = float(ly.mean()) - slope * float(t.mean())
    resid = ly - (slope * t + intercept)
    ss_res = float(resid @ resid)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    n = len(t)
    r2 = 1.0 if ss_tot <= 0 else 1.0 - ss_res / ss_tot
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - 2) if n > 2 else r2
    return float(slope), float(adj)


def _terminal_slope(t: np.ndarray, y: np.ndarray) -> float | None:
    """Terminal log-linear slope: the largest tail window (>= 3 points) whose adjusted R^2 is near the best."""
    n = len(t)
    if n < 3:
        return None
    fits = []
    for k in range(3, n + 1):
        slope, adj = _loglinear(t[n - k:], y[n - k:])
        fits.append((k, slope, adj))
    best = max(f[2] for f in fits)
    k, slope, _ = max((f for f in fits if f[2] >= best - _ADJ_R2_TOL), key=lambda f: f[0])
    return slope


def _significant_signs(y: np.ndarray) -> np.ndarray:
    d = np.diff(y)
    span = float(np.max(y) - np.min(y)) if len(y) else 0.0
    if span <= 0:
        return np.zeros(0)
    signs = np.sign(d)
    return signs[np.abs(d) > _FLAT * span]


def _shape(y: np.ndarray, peak: int) -> str:
    """Classify a time course, ignoring moves smaller than 5% of its range and dips under 10% of it."""
    signs = _significant_signs(y)
    if len(signs) == 0:
        return "increasing" if y[-1] >= y[0] else "decreasing"
    if np.all(signs > 0):
        return "increasing"
    if np.all(signs < 0):
        return "decreasing"
    span = float(np.max(y) - np.min(y))
    falls_before = bool(np.any(np.diff(y[: peak + 1]) < -_FLAT * span))
    rises_after = bool(np.any(np.diff(y[peak:]) > _FLAT * span))
    if falls_before or rises_after or not 0 < peak < len(y) - 1:
        return "non-monotonic"
    rise = float(y[peak] - np.min(y[: peak + 1]))
    fall = float(y[peak] - np.min(y[peak:]))
    if fall < _DIP * span:
        return "increasing"  # levels off with a small final dip
    if rise < _DIP * span:
        return "decreasing"  # a small initial rise
    return "rise-then-fall"


def _summarise_one(cohort: str, observable: str, t: np.ndarray, y: np.ndarray, time_unit: str,
                   unit: str) -> ObservableSummary:
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    peak = int(np.argmax(y))
    shape = _shape(y, peak)

    half_life = None
    biexp = False
    if shape in ("decreasing", "rise-then-fall"):
        tail_t, tail_y = t[peak:], y[peak:]
        keep = tail_y > 0
        tail_t, tail_y = tail_t[keep], tail_y[keep]
        # the terminal fit uses the points after the peak
        slope = _terminal_slope(tail_t[1:], tail_y[1:]) if len(tail_t) >= 4 else (
            _terminal_slope(tail_t, tail_y) if len(tail_t) >= 3 else None)
        if slope is not None and slope < 0:
            half_life = math.log(2.0) / -slope
            if len(tail_t) >= 5:
                early, _ = _loglinear(tail_t[:3], tail_y[:3])
                biexp = bool(early < 0 and early / slope > _BIEXP_RATIO)

    plateau = False
    if len(y) >= 4:
        last = y[-3:]
        top = float(np.max(np.abs(y)))
        spread = float(np.max(last) - np.min(last))
        level = float(np.max(np.abs(last)))
        plateau = bool(level > 0 and spread <= _PLATEAU_SPREAD * level and float(np.mean(last)) >= 0.9 * top)

    signs = _significant_signs(y)
    oscillation = bool(len(signs) >= 2 and int(np.sum(signs[1:] != signs[:-1])) >= 3)

    return ObservableSummary(
        observable=observable,
        cohort=cohort,
        n_times=len(t),
        t_first=float(t[0]),
        t_last=float(t[-1]),
        peak_time=float(t[peak]),
        peak_value=float(y[peak]),
        first_value=float(y[0]),
        last_value=float(y[-1]),
        shape=shape,
        apparent_half_life=half_life,
        plateau=plateau,
        oscillation=oscillation,
        biexponential=biexp,
        time_unit=time_unit,
        unit=unit,
    )


def summarise(data: Any) -> DataSummary:
    """Summarise the shape of every cohort's mean time course of every observable.

    Parameters
    ----------
    data
        A :class:`cohortode.data.CohortData`, or any object with an ``observations`` DataFrame holding the columns
        ``cohort, time, observable, mean`` (optional attributes ``time_unit`` and ``units`` are used for the text).

    Returns
    -------
    DataSummary

    Raises
    ------
    ValueError
        When ``data`` has no ``observations`` table with those columns.
    """
    obs = getattr(data, "observations", None)
    needed = {"cohort", "time", "observable", "mean"}
    if obs is None or not needed <= set(getattr(obs, "columns", ())):
        raise ValueError("summarise() needs cohort data with an 'observations' table holding the columns "
                         f"{sorted(needed)}; got {type(data).__name__}")
    time_unit = str(getattr(data, "time_unit", "") or "")
    units = dict(getattr(data, "units", None) or {})
    cohorts = list(dict.fromkeys(str(c) for c in obs["cohort"]))
    out = []
    for cohort in cohorts:
        part = obs[obs["cohort"].astype(str) == cohort]
        for observable in sorted(set(map(str, part["observable"]))):
            rows = part[part["observable"].astype(str) == observable]
            t = rows["time"].to_numpy(dtype=float)
            y = rows["mean"].to_numpy(dtype=float)
            finite = np.isfinite(t) & np.isfinite(y)
            if not finite.any():
                continue
            out.append(_summarise_one(cohort, observable, t[finite], y[finite], time_unit,
                                      str(units.get(observable, ""))))
    return DataSummary(tuple(out))
