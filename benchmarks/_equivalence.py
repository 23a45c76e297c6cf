"""Numerical structural equivalence: do two structures give the same observable trajectories up to a change of
parameters?

Two structures are one mechanism written two ways when every trajectory either produces, the other reproduces
with some parameter values (a two-compartment model with clearances or with rate constants; a Michaelis constant
in amount or in concentration units). :func:`structurally_equivalent` tests that numerically, in both directions:
for a few random parameter vectors of one structure (drawn around its data-scaled default prior medians) it
simulates the observed observables of every cohort of the data (their doses and covariates) on a dense time grid
over the observed span, and fits the other structure's parameters to those trajectories by least squares on a
relative scale. The structures are equivalent when every fit reproduces its target within ``tolerance``.

Fitting a reparameterisation is a global problem: the default priors of two parameterisations need not agree (the
default median of a clearance is set as if the volume were 1), so the matching values can lie several log units
from the prior medians, where a multi-compartment fit has wide basins of wrong local optima (a peripheral
compartment turned into a sink). Each fit therefore runs in two stages:

1. directly: least squares from the best few of a coarse random search over the default priors;
2. when that misses, by continuation from a matched pair (any fit, in either direction, that reached the
   tolerance): the source's parameters move from the pair's value to the target's in small steps, and the fitted
   structure is refitted at each step from the previous solution. For equivalent structures this follows the
   smooth change of parameters; for different ones it only finds a better local optimum, so it cannot make a
   near-miss look equivalent. Once every fit is within the tolerance, fits above ``POLISH * tolerance`` are
   continued as well, which only tightens the reported error.

The relative error of a point is ``|y - y_target| / (|y_target| + FLOOR * peak)``, ``peak`` the largest
``|y_target|`` of its cohort and observable: relative to the value itself, with a floor where a trajectory passes
through zero (a concentration at the time of an oral dose). Solves run at tight tolerances (``rtol`` 1e-10).
Measured on recovery cohorts (seeds 0 to 5, four draws each way): exact reparameterisations fit to 1e-15 (ke or
CL/V; Km in amount or in concentration) and, for the two-compartment model with clearances or rate constants, to
1e-14 where the draw identifies every parameter and 1e-6 to 3e-5 where it does not (a truth draw with a tiny
exchange rate to the peripheral compartment), the worst fit of a pair at most 2.6e-5; near-misses leave their worst
fit at 0.07 to 0.53 (linear against Michaelis-Menten elimination) and 0.86 to 0.96 (logistic against Gompertz
growth), though single fits of the nesting direction get close (Michaelis-Menten reproduces linear elimination to
1e-5, Gompertz some logistic draws to 1e-6), which is why both directions and several draws are needed. The default
``tolerance`` 1e-3 sits a factor of about 40 above the first and 70 below the second.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import least_squares

from cohortode import CohortData, ODEModel
from cohortode.compile import SolverOptions, compile_model
from cohortode.likelihood._layout import cohort_layout
from cohortode.spec import DataScales, default_priors

__all__ = ["structurally_equivalent", "check_equivalence", "EquivalenceCheck", "TOLERANCE"]

TOLERANCE = 1e-3
"""Largest relative error of a fit that still counts as reproducing its target trajectories."""
FLOOR = 1e-3
"""Floor of the relative scale, as a fraction of the target trajectory's peak (per cohort and observable)."""
DRAW_SD_LOG = 0.5
"""Spread (log scale) of the random parameter vectors around the default prior medians."""
BOUND_LOG = 12.0
"""Fitted parameters stay within ``exp(+-BOUND_LOG)`` of their prior medians."""
GRID_POINTS = 40
"""Evenly spaced times added to the observed times (and their midpoints) of each cohort."""
SOLVER = SolverOptions(rtol=1e-10, atol=1e-12, max_steps=20000)
"""Tight tolerances, so that an exact reparameterisation fits far below ``TOLERANCE``."""
SEARCH = 64
"""Random parameter vectors of the coarse search that picks the starts of a direct fit."""
MAX_NFEV = 200
"""Residual evaluations per least-squares fit."""
STEP_NFEV = 60
"""Residual evaluations per fit at an intermediate step of a continuation."""
CONTINUATION_STEPS = 8
"""Steps from a matched pair to a target (halved where a step's fit misses)."""
ANCHORS = 2
"""Matched pairs (the nearest to the target) a failed fit is continued from."""
POLISH = 1e-2
"""Fits within the tolerance but above ``POLISH * tolerance`` are continued as well, for a tight reported error."""
FAILED = 1e3
"""Residual that stands in for a failed solve during a fit."""


@dataclass(frozen=True)
class EquivalenceCheck:
    """The outcome of :func:`check_equivalence`.

    Attributes
    ----------
    equivalent
        Whether every fit reproduced its target within the tolerance.
    worst
        The largest relative error over the fits made (``inf`` when the pair was rejected without a fit).
    errors
        ``(direction, how, relative error)`` per fit: ``direction`` ``"candidate->truth"`` for the truth fitted to
        the candidate's trajectories, ``"truth->candidate"`` for the reverse; ``how`` ``"direct"`` or
        ``"continued"``.
    reason
        Why the pair was rejected without a fit, else ``""``.
    """

    equivalent: bool
    worst: float
    errors: tuple[tuple[str, str, float], ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class _Simulator:
    """One structure's observed observables on every cohort's grid, as a function of its log parameters."""

    model: ODEModel
    log_median: np.ndarray
    sd_log: np.ndarray
    blocks: tuple[tuple[int, int], ...]   # (times, observables) per cohort, in the order of the flat output
    values: Callable[[np.ndarray], np.ndarray]
    jacobian: Callable[[np.ndarray], np.ndarray]

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of the fitted log parameters."""
        return self.log_median - BOUND_LOG

    @property
    def upper(self) -> np.ndarray:
        """Upper bounds of the fitted log parameters."""
        return self.log_median + BOUND_LOG


@dataclass
class _Fit:
    """One fit: ``fitted`` at ``x_fitted`` reproducing ``source`` at ``x_source`` with relative error ``error``."""

    source: str
    fitted: str
    x_source: np.ndarray
    x_fitted: np.ndarray
    error: float
    how: str = "direct"

    def at(self, name: str) -> np.ndarray:
        """The parameters of structure ``name`` (``"truth"`` or ``"candidate"``) in this matched pair."""
        return self.x_source if name == self.source else self.x_fitted


def _cohort_grids(data: CohortData) -> list[tuple[str, tuple[float, ...], tuple[str, ...]]]:
    """Per cohort: its name, a dense time grid over its observed span, and its observed observables (sorted)."""
    obs = data.observations
    out = []
    for cohort in data.cohorts:
        rows = obs[obs["cohort"] == cohort]
        observed = np.unique(rows["time"].to_numpy(dtype=float))
        mids = 0.5 * (observed[1:] + observed[:-1])
        even = np.linspace(observed[0], observed[-1], GRID_POINTS)
        grid = np.unique(np.round(np.concatenate([observed, mids, even]), 12))
        out.append((str(cohort), tuple(float(t) for t in grid), tuple(sorted(set(map(str, rows["observable"]))))))
    return out


def _simulator(model: ODEModel, data: CohortData) -> _Simulator:
    """The jitted observables of ``model`` (flattened over cohorts, times and observables) and their Jacobian."""
    compiled = compile_model(model, options=SOLVER)
    names = list(model.observable_names)
    pieces = []
    for cohort, grid, observed in _cohort_grids(data):
        layout = cohort_layout(model, data, cohort)
        pieces.append((layout.schedule, jnp.asarray(layout.covariates, dtype=jnp.float64), grid,
                       np.array([names.index(o) for o in observed], dtype=int)))

    def flat(log_params: jax.Array) -> jax.Array:
        params = jnp.exp(log_params)
        return jnp.concatenate([compiled.simulate(params, cov, schedule, grid)[:, index].ravel()
                                for schedule, cov, grid, index in pieces])

    priors = default_priors(model, DataScales.from_data(data, model))
    log_median = np.log([priors[p].params[0] for p in model.parameter_names])
    sd_log = np.array([priors[p].params[1] for p in model.parameter_names])
    values, jac = jax.jit(flat), jax.jit(jax.jacfwd(flat))
    return _Simulator(model, log_median, sd_log, tuple((len(g), len(i)) for _, _, g, i in pieces),
                      lambda x: np.asarray(values(jnp.asarray(x))), lambda x: np.asarray(jac(jnp.asarray(x))))


def _scales(sim: _Simulator, target: np.ndarray) -> np.ndarray:
    """The relative scale of each point of ``target``: ``|y| + FLOOR * peak`` of its cohort and observable."""
    out = []
    start = 0
    for n_times, n_obs in sim.blocks:
        block = np.abs(target[start:start + n_times * n_obs].reshape(n_times, n_obs))
        peak = block.max(axis=0)
        out.append((block + FLOOR * np.where(peak > 0, peak, 1.0)).ravel())
        start += n_times * n_obs
    return np.concatenate(out)


def _draw(sim: _Simulator, rng: np.random.Generator, tries: int = 10) -> np.ndarray | None:
    """A random parameter vector around the prior medians whose trajectories are finite (``None`` if none is)."""
    for _ in range(tries):
        x = sim.log_median + DRAW_SD_LOG * rng.standard_normal(sim.log_median.size)
        with np.errstate(all="ignore"):
            y = sim.values(x)
        if np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0:
            return x
    return None


def _local_fit(fitted: _Simulator, target: np.ndarray, x0: np.ndarray, max_nfev: int) -> tuple[np.ndarray, float]:
    """Least squares of ``fitted`` to ``target`` from ``x0``: the optimum and its maximum relative error."""
    scales = _scales(fitted, target)

    def residuals(x: np.ndarray) -> np.ndarray:
        r = (fitted.values(x) - target) / scales
        return np.where(np.isfinite(r), r, FAILED)

    def jacobian(x: np.ndarray) -> np.ndarray:
        j = fitted.jacobian(x) / scales[:, None]
        return np.where(np.isfinite(j), j, 0.0)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if x0.size == 0:  # nothing to fit
            return x0, float(np.max(np.abs(residuals(x0))))
        fit = least_squares(residuals, np.clip(x0, fitted.lower, fitted.upper), jac=jacobian,
                            bounds=(fitted.lower, fitted.upper), method="trf", x_scale="jac", ftol=1e-15,
                            xtol=1e-15, gtol=1e-15, max_nfev=max_nfev)
        return fit.x, float(np.max(np.abs(residuals(fit.x))))


def _direct_fit(fitted: _Simulator, target: np.ndarray, rng: np.random.Generator, starts: int,
                tolerance: float) -> tuple[np.ndarray, float]:
    """The best fit of ``fitted`` to ``target`` from the ``starts`` best points of a coarse random search.

    The search takes the prior median and ``SEARCH`` vectors drawn from the default priors at their full spread;
    the fits stop at the first within ``tolerance``.
    """
    scales = _scales(fitted, target)
    pool = fitted.log_median + fitted.sd_log * rng.standard_normal((SEARCH, fitted.log_median.size))
    pool = np.vstack([fitted.log_median, np.clip(pool, fitted.lower, fitted.upper)])
    with np.errstate(all="ignore"):
        costs = np.array([np.sum(((fitted.values(x) - target) / scales) ** 2) for x in pool])
    costs = np.where(np.isfinite(costs), costs, np.inf)
    best_x, best = pool[0], np.inf
    for i in np.argsort(costs)[:starts]:
        x, error = _local_fit(fitted, target, pool[i], MAX_NFEV)
        if error < best:
            best_x, best = x, error
        if best < tolerance:
            break
    return best_x, best


def _continued_fit(sims: dict[str, _Simulator], fit: _Fit, anchor: _Fit, target: np.ndarray,
                   tolerance: float) -> tuple[np.ndarray, float]:
    """Refit ``fit`` by continuation from the matched pair ``anchor``.

    The source's parameters move along the straight line (in log space) from their value in the pair to
    ``fit.x_source``; the fitted structure starts from its value in the pair and is refitted at every step from the
    previous solution. A step is taken when its fit is within ``tolerance``, else it is halved; the path starts
    with ``CONTINUATION_STEPS`` equal steps, and is given up below a 16th of that (the last solution is refitted to
    ``target`` all the same).
    """
    source, fitted = sims[fit.source], sims[fit.fitted]
    x_from, x = anchor.at(fit.source), anchor.at(fit.fitted)
    lam, step = 0.0, 1.0 / CONTINUATION_STEPS
    while lam < 1.0 and step >= 1.0 / (16 * CONTINUATION_STEPS):
        ahead = min(1.0, lam + step)
        with np.errstate(all="ignore"):
            y = source.values((1.0 - ahead) * x_from + ahead * fit.x_source)
        x_new, error = _local_fit(fitted, y, x, STEP_NFEV) if np.all(np.isfinite(y)) else (x, np.inf)
        if error < tolerance:
            x, lam, step = x_new, ahead, min(2.0 * step, 1.0 / CONTINUATION_STEPS)
        else:
            step /= 2.0
    return _local_fit(fitted, target, x, MAX_NFEV)


def _improve(sims: dict[str, _Simulator], fit: _Fit, fits: list[_Fit], target: np.ndarray, tolerance: float,
             goal: float) -> None:
    """Continue ``fit`` from up to ``ANCHORS`` matched pairs until its error is below ``goal`` (in place).

    Pairs are the other fits within ``tolerance``: those within ``goal`` first, the nearest to the target first.
    """
    anchors = sorted((a for a in fits if a is not fit and a.error < tolerance),
                     key=lambda a: (a.error >= goal, float(np.linalg.norm(a.at(fit.source) - fit.x_source))))
    for anchor in anchors[:ANCHORS]:
        x_fitted, error = _continued_fit(sims, fit, anchor, target, tolerance)
        if error < fit.error:
            fit.x_fitted, fit.error, fit.how = x_fitted, error, "continued"
        if fit.error < goal:
            return


def _cheap_rejection(truth: ODEModel, candidate: ODEModel, data: CohortData) -> str:
    """Why the pair cannot be equivalent (or cannot be compared on ``data``) without a fit, else ``""``."""
    if set(truth.observable_names) != set(candidate.observable_names):
        return f"observables differ: {sorted(truth.observable_names)} vs {sorted(candidate.observable_names)}"
    missing = set(data.observables) - set(truth.observable_names)
    if missing:
        return f"observables of the data that the models lack: {sorted(missing)}"
    targets = set(map(str, data.dosing["target"])) if len(data.dosing) else set()
    for label, model in (("truth", truth), ("candidate", candidate)):
        if not targets <= set(model.states):
            return f"dose targets {sorted(targets - set(model.states))} are not states of the {label}"
        if not set(model.covariates) <= set(map(str, data.covariates.columns)):
            return f"covariates of the {label} are not in the data"
    return ""


def check_equivalence(truth: ODEModel, candidate: ODEModel, data: CohortData, *, draws: int = 4, starts: int = 3,
                      tolerance: float = TOLERANCE, seed: int = 0, stop_early: bool = True) -> EquivalenceCheck:
    """Test numerically whether ``candidate`` and ``truth`` give the same observable trajectories on ``data``.

    Parameters
    ----------
    truth, candidate
        The two structures (their parameter names and counts may differ).
    data
        The cohorts whose doses, covariates, observed observables and observed time spans the trajectories follow.
    draws
        Random parameter vectors per direction.
    starts
        Local fits per direct fit (from the best points of the coarse search).
    tolerance
        Largest maximum relative error of a fit that counts as reproducing its target.
    seed
        Seed of the draws and the searches.
    stop_early
        Stop at the first fit that neither a direct fit nor a continuation brings within ``tolerance``.

    Returns
    -------
    EquivalenceCheck
    """
    reason = _cheap_rejection(truth, candidate, data)
    if reason:
        return EquivalenceCheck(False, np.inf, reason=reason)
    rng = np.random.default_rng(seed)
    sims = {"truth": _simulator(truth, data), "candidate": _simulator(candidate, data)}
    fits: list[_Fit] = []
    targets: list[np.ndarray] = []
    for source, fitted in (("candidate", "truth"), ("truth", "candidate")):
        for _ in range(draws):
            x_source = _draw(sims[source], rng)
            if x_source is None:
                return EquivalenceCheck(False, np.inf, reason=f"the {source} gives no finite trajectories")
            targets.append(sims[source].values(x_source))
            x_fitted, error = _direct_fit(sims[fitted], targets[-1], rng, starts, tolerance)
            fits.append(_Fit(source, fitted, x_source, x_fitted, error))
    for fit, target in zip(fits, targets):  # fits that miss: the decision
        if fit.error >= tolerance:
            _improve(sims, fit, fits, target, tolerance, tolerance * POLISH)
            if stop_early and fit.error >= tolerance:
                break
    if all(f.error < tolerance for f in fits):  # fits within the tolerance but not tight: the reported error
        for fit, target in zip(fits, targets):
            if fit.error >= tolerance * POLISH:
                _improve(sims, fit, fits, target, tolerance, tolerance * POLISH)
    errors = tuple((f"{f.source}->{f.fitted}", f.how, f.error) for f in fits)
    worst = max(f.error for f in fits)
    return EquivalenceCheck(bool(worst < tolerance), worst, errors)


def structurally_equivalent(truth: ODEModel, candidate: ODEModel, data: CohortData, *, draws: int = 4,
                            starts: int = 3, tolerance: float = TOLERANCE, seed: int = 0) -> tuple[bool, float]:
    """Whether ``candidate`` is ``truth`` up to a change of parameters, and the worst relative error of the fits.

    Parameters and the method as in :func:`check_equivalence` (this is its ``(equivalent, worst)``).

    Examples
    --------
    A one-compartment elimination written with a rate constant or with a clearance, on an IV cohort::

        truth = ODEModel(["central"], {"central": "-ke*central"}, {"conc": "central/V"})
        candidate = ODEModel(["central"], {"central": "-(CL/V)*central"}, {"conc": "central/V"})
        structurally_equivalent(truth, candidate, data)   # (True, ~1e-15)
    """
    check = check_equivalence(truth, candidate, data, draws=draws, starts=starts, tolerance=tolerance, seed=seed)
    return check.equivalent, check.worst
