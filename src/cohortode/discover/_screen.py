"""Screening of one structure: multi-start MAP, Laplace, PSIS-LOO on the Laplace draws, BIC, and what the fit says
about the structure (unidentified parameters, where the fitted mean misses the data).

This is the only module that calls :func:`cohortode.fit` for screening (the adapter to switch to the ``screening``
fast path of ``fit`` when it lands). :func:`screen_structure` runs in a worker process: its arguments and result are
picklable and it never raises; a numerical failure is a result with ``status="rejected"`` and the reason.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["ScreenResult", "screen_structure", "UNIDENTIFIED_LOG_SD", "MISFIT_Z", "AT_BOUND_RATIO",
           "AT_BOUND_FRACTION"]

UNIDENTIFIED_LOG_SD = 1.5
"""A parameter whose Laplace posterior has a log-scale SD above this (a factor e^1.5 ~ 4.5 either way) is reported as
not identified."""
MISFIT_Z = 2.5
"""A data row whose observed mean is more than this many standard errors from the fitted mean is reported."""
AT_BOUND_RATIO = 1e-3
"""A positive parameter whose MAP is below this fraction of its prior median sits at its lower bound (0); one above
the inverse (1,000 times its prior median) runs off to its upper end (the term behaves as its limit)."""
AT_BOUND_FRACTION = 1e-3
"""A parameter with a bounded prior (a fraction) sits at a bound when its MAP is within this fraction of the
interval's width from it."""


@dataclass
class ScreenResult:
    """The outcome of screening one structure.

    Attributes
    ----------
    structure_hash
        The structure's hash.
    status
        ``"scored"`` or ``"rejected"``.
    reason
        Why it was rejected (``""`` when scored).
    elpd_loo, elpd_se, p_loo
        PSIS-LOO on the Laplace draws (approximate elpd; NaN when rejected).
    bic
        Bayesian information criterion at the MAP (lower is better).
    log_density
        Log posterior density at the MAP.
    n_parameters
        Number of estimated sites (structural parameters, between-subject SDs, residual SDs).
    map_values
        Constrained values at the MAP.
    unidentified
        Parameters the data do not pin down (Laplace log-scale SD above :data:`UNIDENTIFIED_LOG_SD`).
    at_bound
        Parameters whose MAP sits at a bound of their support (see :data:`AT_BOUND_RATIO`), each as
        ``(name, side, value)`` with side ``"lower"`` or ``"upper"``.
    max_log_likelihood
        The maximised log-likelihood (from the MAP and every ``init`` start; NaN where ``fit`` does not report it).
    max_likelihood_values
        Constrained site values at the maximised likelihood.
    starts
        Labels of the MAP starts that ran (``"init 0"`` is the first ``init`` point, e.g. the parent's optimum).
    best_start
        Label of the start that reached the MAP.
    problems
        Other findings (Hessian not positive definite, high Pareto k).
    misfit
        ``(observable, time, direction, z)`` of the rows the fitted mean misses: direction ``"too high"`` or
        ``"too low"`` (the fitted mean compared with the data).
    solver
        ODE path used.
    seconds
        Wall time of the screen.
    """

    structure_hash: str
    status: str
    reason: str = ""
    elpd_loo: float = math.nan
    elpd_se: float = math.nan
    p_loo: float = math.nan
    bic: float = math.nan
    log_density: float = math.nan
    n_parameters: int = 0
    map_values: dict[str, float] = field(default_factory=dict)
    unidentified: list[str] = field(default_factory=list)
    at_bound: list[tuple[str, str, float]] = field(default_factory=list)
    max_log_likelihood: float = math.nan
    max_likelihood_values: dict[str, float] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)
    best_start: str = ""
    problems: list[str] = field(default_factory=list)
    misfit: list[tuple[str, float, str, float]] = field(default_factory=list)
    solver: str = ""
    seconds: float = 0.0

    @property
    def scored(self) -> bool:
        """Whether the structure got a finite score."""
        return self.status == "scored"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        out["misfit"] = [list(m) for m in self.misfit]
        out["at_bound"] = [list(b) for b in self.at_bound]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScreenResult:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        for key in ("elpd_loo", "elpd_se", "p_loo", "bic", "log_density", "max_log_likelihood"):
            d[key] = math.nan if d.get(key) is None else float(d[key])
        d["misfit"] = [tuple(m) for m in d.get("misfit", [])]
        d["at_bound"] = [tuple(b) for b in d.get("at_bound", [])]
        return cls(**d)

    def diagnostics(self) -> tuple[str, ...]:
        """Plain-language findings for the proposer's feedback."""
        out = [f"parameter {p} is not identified by the data" for p in self.unidentified]
        for name, side, value in self.at_bound:
            what = ("near 0: the term it belongs to may not be needed" if side == "lower" else
                    "very large: the term behaves as its limit, a simpler form may do")
            out.append(f"parameter {name} sits at its {side} bound ({value:.3g}, {what})")
        out += list(self.problems)
        by_side: dict[tuple[str, str], list[float]] = {}
        for obs, t, direction, _ in self.misfit:
            by_side.setdefault((obs, direction), []).append(t)
        for (obs, direction), times in by_side.items():
            shown = ", ".join(f"{t:g}" for t in sorted(times)[:6])
            out.append(f"fitted mean of {obs} is {direction} at t = {shown}")
        return tuple(out)


def at_bound(values: dict[str, float], priors: dict[str, Any], names: list[str]) -> list[tuple[str, str, float]]:
    """``(name, side, value)`` for each of ``names`` whose value sits at a bound of its prior's support.

    Parameters
    ----------
    values
        Constrained site values (the MAP).
    priors
        :class:`~cohortode.Prior` by site name.
    names
        The sites to check (the structural parameters).
    """
    out = []
    for name in names:
        if name not in values or name not in priors:
            continue
        v, prior = float(values[name]), priors[name]
        support = prior.to_numpyro().support
        low = getattr(support, "lower_bound", None)
        high = getattr(support, "upper_bound", None)
        low = float(low) if low is not None and np.ndim(low) == 0 else None
        high = float(high) if high is not None and np.ndim(high) == 0 else None
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high) and high > low:
            frac = (v - low) / (high - low)
            side = "lower" if frac < AT_BOUND_FRACTION else "upper" if frac > 1 - AT_BOUND_FRACTION else ""
        elif low == 0.0:
            typical = abs(float(prior.typical())) or 1.0
            side = "lower" if v < AT_BOUND_RATIO * typical else "upper" if v > typical / AT_BOUND_RATIO else ""
        else:
            side = ""
        if side:
            out.append((name, side, v))
    return out


def _rejected(h: str, reason: str, start: float) -> ScreenResult:
    return ScreenResult(h, "rejected", reason=reason, seconds=time.perf_counter() - start)


def _fit_parameters() -> set[str]:
    import inspect

    from ..infer import fit

    return set(inspect.signature(fit).parameters)


_FIT_PARAMETERS = _fit_parameters()
_FIT_ACCEPTS_SCREENING = "screening" in _FIT_PARAMETERS
_FIT_ACCEPTS_INIT = "init" in _FIT_PARAMETERS


def screen_structure(model: Any, data: Any, *, settings: Any, seed: int,
                     init: list[dict[str, float]] | None = None) -> ScreenResult:
    """Screen one structure (see the module documentation); never raises for a numerical failure.

    Parameters
    ----------
    model
        The :class:`~cohortode.ODEModel`.
    data
        The :class:`~cohortode.CohortData`.
    settings
        A :class:`~cohortode.discover.FitSettings`.
    seed
        Seed of the MAP starts and the Laplace draws.
    init
        Constrained site values of extra MAP starts, tried first (a mutated child starts at its parent's optimum,
        see :func:`cohortode.discover._parent_start.parent_starts`); used when :func:`cohortode.fit` accepts ``init``.
    """
    start = time.perf_counter()
    h = model.structure_hash

    import cohortode

    extra: dict[str, Any] = {}
    if _FIT_ACCEPTS_SCREENING:
        extra["screening"] = True  # the fast path of fit for screening, where it exists
    if init and _FIT_ACCEPTS_INIT:
        extra["init"] = [dict(point) for point in init]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = cohortode.fit(model, data, method="laplace", engine=settings.engine, error=settings.error,
                                n_starts=settings.screen_starts, laplace_draws_n=settings.screen_draws, seed=seed,
                                warn=False, **extra)
    except FloatingPointError as exc:
        return _rejected(h, f"no finite posterior density at any MAP start (exploding or NaN solutions): {exc}",
                         start)
    except Exception as exc:  # noqa: BLE001 - every failure of a candidate is a result, not a crash
        reason = getattr(exc, "reason", None)  # cohortode.FitError says precisely what failed
        if reason:
            return _rejected(h, f"screening failed: {reason}", start)
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" (in {last.name})" if last is not None else ""
        return _rejected(h, f"screening failed{where}: {type(exc).__name__}: {exc}", start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = fit.loo(warn=False)
    except Exception as exc:  # noqa: BLE001 - as above
        detail = str(exc) if isinstance(exc, FloatingPointError) else f"{type(exc).__name__}: {exc}"
        return _rejected(h, f"PSIS-LOO on the Laplace draws failed: {detail}", start)
    elpd = float(loo.elpd_loo)
    if not math.isfinite(elpd):
        return _rejected(h, "PSIS-LOO on the Laplace draws is not finite (solutions NaN or exploding at "
                            "posterior draws)", start)
    lik = fit.likelihood
    pointwise, mu, var = fit.map_rows()
    n_rows = int(lik.n_rows)
    k = len(fit.map.values)
    loglik = float(np.sum(pointwise))
    bic = -2.0 * loglik + k * math.log(max(n_rows, 1)) if math.isfinite(loglik) else math.inf
    unidentified = []
    for name in model.parameter_names:
        x = fit.draws(name)
        x = x[np.isfinite(x) & (x > 0)]
        if x.size > 2 and float(np.std(np.log(x))) > UNIDENTIFIED_LOG_SD:
            unidentified.append(name)
    bounds = at_bound(fit.map.values, fit.problem.priors, list(model.parameter_names))
    diag = fit.diagnostics
    max_loglik = float(diag.get("max_log_likelihood", math.nan))
    ml_values = {k: float(v) for k, v in (diag.get("max_likelihood_values") or {}).items()}
    reports = list(getattr(fit.map, "starts", []) or [])
    finite = [r for r in reports if math.isfinite(r.log_density)]
    best_start = max(finite, key=lambda r: r.log_density).label if finite else ""
    problems = list(fit.diagnostics.get("problems", []))
    kk = np.asarray(loo.pareto_k)
    if np.any(kk > 0.7):
        problems.append(f"Pareto k above 0.7 for {int(np.sum(kk > 0.7))} of {kk.size} rows (approximate elpd "
                        "unreliable there)")
    obs = fit.data.observations
    if hasattr(lik, "ybar"):  # cohort means: the standard error of the mean of n subjects
        z = (mu - np.asarray(lik.ybar)) / np.sqrt(np.maximum(var, 1e-300) / np.asarray(lik.n))
    else:  # counts of one population: the predictive SD of the observed count
        z = (mu - np.asarray(lik.k)) / np.sqrt(var)
    misfit = [(str(obs["observable"].iloc[i]), float(obs["time"].iloc[i]),
               "too high" if z[i] > 0 else "too low", float(z[i]))
              for i in np.flatnonzero(np.abs(z) > MISFIT_Z)]
    return ScreenResult(h, "scored", elpd_loo=elpd, elpd_se=float(loo.se), p_loo=float(loo.p_loo), bic=bic,
                        log_density=float(fit.map.log_density), n_parameters=k,
                        map_values={k: float(v) for k, v in fit.map.values.items()}, unidentified=unidentified,
                        at_bound=bounds, max_log_likelihood=max_loglik, max_likelihood_values=ml_values,
                        starts=[r.label for r in reports], best_start=best_start, problems=problems, misfit=misfit,
                        solver=str(fit.solver), seconds=time.perf_counter() - start)
