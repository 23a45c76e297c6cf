"""The screening path of :func:`cohortode.fit` (``screening=True``): a MAP and Laplace fit in seconds.

What differs from a full fit, and why (figures: ``python benchmarks/screening.py``):

- **ODE path.** A nonlinear structure is solved by classical RK4 on a fixed grid built before tracing
  (``solver="rk4"``, :mod:`cohortode.compile._fixed_grid`) instead of adaptive Tsit5: it compiles in a fraction of
  the time and one evaluation costs a fixed number of right-hand-side calls. Linear structures keep their exact path.
- **Grid check.** The grid has no error control of its own, so at the optimum the log-likelihood is recomputed on a
  grid twice as fine (its error is about 1/16 of the coarse one's, so the difference estimates the coarse grid's
  error). When ``-2 log L`` moves by more than :data:`GRID_TOLERANCE_M2LL`, the grid is doubled and the optimum
  refined from where it was, up to :data:`MAX_GRID_STEPS`. The data's noise sets the scale: 0.1 in ``-2 log L`` is
  far below the differences that separate structures (BIC's penalty is ``log n`` per parameter). The finer grid
  splits every step in two inside the same compiled program (its number of substeps is a run-time argument), so
  neither the check nor a refinement compiles anything. Two guards keep a coarse grid from steering the optimiser:
  the grid is first made good enough at one of the caller's ``init`` points at least (a nested child's optimum lies
  near its parent's, where a parent with fast rates may need a finer grid than the default), and when the check had
  to refine the grid after the starts, the ``init`` points and the prior medians are run again on the final grid
  (the coarse optimum may sit in a basin that only the coarse grid made).
- **No stiffness switch.** The full path probes the step count of Tsit5 at the MAP to switch stiff structures to
  Kvaerno5; a stiff structure on the grid gives a poor or ``-inf`` density at the fast parameter values instead.
- **The grid's stability wall.** Past RK4's stability limit the grid gives non-finite values, and the optimiser stops
  at that wall with its gradient still large: a MAP at a saddle of the true posterior, whose Laplace draws fall past
  the wall, so that the candidate was rejected (epidemic structures with mass-action transmission and a fitted
  population size, proposed by the language model). A MAP whose gradient norm stays above
  :data:`WALL_GRADIENT_NORM` refines the grid as a failed grid check does; if it is still held there on the finest
  grid, :data:`WALLED_EXTRA_STARTS` more random starts look for an optimum away from the wall, and if none is found,
  the structure is screened on the exact path (the adaptive solver, one more compilation) from the best point so far.
- **Maximum likelihood.** BIC needs the maximised likelihood, not the likelihood at the MAP: a structure that
  extends another carries priors on its new terms, which pull its MAP away from the parent's fit (theophylline,
  linear -> linear plus Michaelis-Menten elimination: the MAP's ``-2 log L`` was 0.85 worse than the parent's
  although the child contains it). From the MAP and from every ``init`` point, L-BFGS-B maximises the
  log-likelihood on the same compiled function (its gradient comes with the same tangents);
  ``diagnostics["max_log_likelihood"]`` and ``["max_likelihood_values"]`` hold the result. That step runs on a grid
  that is right (within the tolerance) at the best ``init`` point; at an ``init`` point that no grid follows (a
  parent at rates too fast for any grid), the likelihood is computed with the default adaptive solver instead. So a
  nested child ends no worse than the parent it was started from. The maximum likelihood may also lie at faster rates
  than the MAP, past the grid's stability limit: a start whose optimisation stopped at non-finite values continues
  on finer grids, up to :data:`MAX_LIKELIHOOD_GRID_STEPS`. Every maximum found on a grid is then checked there as the
  MAP is; where the check fails the maximisation continues on finer grids, and where none follows, the likelihood at
  the point is computed with the adaptive solver (:func:`_followed_maximum`).
- **Laplace Hessian** by central differences of the compiled gradient (``2 d`` evaluations, no second compilation).

The final NUTS fit of a surviving structure uses none of this: the default solver and tolerances. Count data
(:class:`~cohortode.CountData`) take the same path with the count likelihood.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from .._errors import FitError
from ..compile import SolverOptions
from ..data import CountData
from ..likelihood import AggregateLikelihood, CountLikelihood, MomentEngine
from ..likelihood._residual import ErrorKind
from ..spec import ODEModel, Prior
from ._multistart import LBFGS_MEMORY, MAX_RESTARTS, RESTART_GRADIENT_NORM, compiled_objective, initial_points
from ._optimize import MapResult, find_map
from ._problem import BayesianProblem

__all__ = ["ScreeningFacts", "RowFunction", "screen", "finite_difference_hessian", "laplace_hessian",
           "SCREENING_GRID_STEPS", "MAX_GRID_STEPS", "GRID_TOLERANCE_M2LL", "HESSIAN_STEP", "maximise_likelihood",
           "SCREENING_AGREEMENT", "SCREENING_FTOL"]

SCREENING_GRID_STEPS = 64
"""Initial grid resolution of the RK4 path (steps per dosing segment, before adding observation times)."""
MAX_GRID_STEPS = 512
"""The grid is not refined beyond this; a structure still failing the check is reported (``grid_ok`` false)."""
MAX_LIKELIHOOD_GRID_STEPS = 2 * MAX_GRID_STEPS
"""The maximum-likelihood step may continue on grids up to this fine, where the grid's stability limit stopped it
(:func:`_maximise_past_the_grid`)."""
CONTINUATION_MAXITER = 50
"""L-BFGS-B iterations of each continuation on a finer grid (it starts near an optimum; a longer run mostly walks
along flat directions such as a between-subject SD going to 0, for gains far below :data:`GRID_TOLERANCE_M2LL`)."""
WALL_GRADIENT_NORM = 1.0
"""A screening MAP whose gradient norm (unconstrained space) is still above this after its restarts was stopped by
something other than convergence: on the RK4 grid, the wall of non-finite values past the grid's stability limit.
Its grid is refined as if the grid check had failed (an SIR-type structure proposed by the language model: log
density -223.7 with gradient norm 56 on 64 steps, -87.3 on 512)."""
WALLED_EXTRA_STARTS = 8
"""Random starts tried again when the MAP is still held at the wall on the finest grid."""
GRID_TOLERANCE_M2LL = 0.1
"""Largest accepted change of ``-2 log L`` at the optimum between the grid and one twice as fine."""
SCREENING_AGREEMENT = 3
"""Random starts stop once this many starts (init and prior medians included) agree on the best optimum."""
SCREENING_FTOL = 1e-7
"""L-BFGS-B's relative tolerance on the objective: about 1e-5 in ``-2 log L`` at the scale of these posteriors."""
HESSIAN_STEP = 1e-4
"""Step of the central differences of the gradient (unconstrained space) for the Laplace Hessian."""
HESSIAN_RETRY_STEPS = (1e-3,)
"""Larger steps tried in turn when the Hessian at :data:`HESSIAN_STEP` is not positive definite (see
:func:`laplace_hessian`)."""


@dataclass(frozen=True)
class ScreeningFacts:
    """How a screening fit was computed (recorded in the fit's diagnostics under ``"screening"``).

    Attributes
    ----------
    solver
        ``"rk4"`` or ``"linear"``.
    grid_steps
        Final grid resolution (``0`` on the linear path).
    grid_error_m2ll
        ``|Δ(-2 log L)|`` at the optimum between the final grid and one twice as fine (``0`` on the linear path).
    grid_ok
        Whether that change is within :data:`GRID_TOLERANCE_M2LL`.
    compile_seconds, optimise_seconds, check_seconds
        Compiling objectives; running the starts; the grid check (its compilation included).
    evaluations
        Objective evaluations, all starts and refinements together.
    max_log_likelihood, max_likelihood_values
        The maximised log-likelihood (from the MAP and the ``init`` points) and the site values there.
    """

    solver: str
    grid_steps: int
    grid_error_m2ll: float
    grid_ok: bool
    compile_seconds: float
    optimise_seconds: float
    check_seconds: float
    evaluations: int
    max_log_likelihood: float
    max_likelihood_values: dict[str, float]

    def as_dict(self) -> dict:
        """Plain dict (for diagnostics and logs)."""
        return dict(self.__dict__)


class RowFunction:
    """Per-row ``(pointwise log-likelihood, predicted mean, total variance)`` at unconstrained points, evaluated
    one point at a time through a compiled screening objective (built with ``rows=True``)."""

    def __init__(self, objective) -> None:
        self.objective = objective

    def __call__(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.with_log_density(z)[:3]

    def with_log_density(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(pointwise, mu, var, log posterior density)`` at ``z`` (one point, or a batch along the first axis)."""
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            out = self.objective(jnp.asarray(z))
            return (*(np.asarray(a) for a in out[4:7]), -np.asarray(out[0]))
        outs = [self.objective(jnp.asarray(zi)) for zi in z]
        per_row = tuple(np.stack([np.asarray(o[j]) for o in outs]) for j in (4, 5, 6))
        return (*per_row, -np.array([float(o[0]) for o in outs]))


def _problem(model, data, engine, error, priors, solver, steps, substeps: int = 1) -> BayesianProblem:
    options = SolverOptions(grid_steps=steps, grid_substeps=substeps)
    if isinstance(data, CountData):  # counts: population-level parameters, no moment engine or residual error
        lik: AggregateLikelihood | CountLikelihood = CountLikelihood(model, data, solver=solver, options=options)
    else:
        lik = AggregateLikelihood(model, data, engine=engine, error=error, solver=solver, options=options)
    return BayesianProblem.build(lik, priors)


def finite_difference_hessian(objective, z: np.ndarray, step: float = HESSIAN_STEP) -> np.ndarray:
    """Hessian of the objective's value by central differences of its gradient (``objective(z)[1]``)."""
    d = len(z)
    cols = []
    for i in range(d):
        e = np.zeros(d)
        e[i] = step
        g_plus = np.asarray(objective(jnp.asarray(z + e))[1])
        g_minus = np.asarray(objective(jnp.asarray(z - e))[1])
        cols.append((g_plus - g_minus) / (2 * step))
    h = np.stack(cols, axis=1)
    return 0.5 * (h + h.T)


def laplace_hessian(objective, z: np.ndarray) -> tuple[np.ndarray, int]:
    """Hessian of the negative log density at a mode ``z``, by :func:`finite_difference_hessian`, with a larger step
    where the first one gives a Hessian that is not positive definite; returns it and the objective's evaluations.

    At a mode found by the optimiser a negative eigenvalue is more often the differences' error than a saddle: the
    gradient through a fixed RK4 grid near its stability limit, or through the sigma points of a wide random effect,
    is not smooth at the scale of :data:`HESSIAN_STEP`. On theophylline, transit absorption (3) with linear plus
    Michaelis-Menten elimination had its smallest eigenvalue at -636 with a step of 1e-5 and -24 with 1e-4, and
    +0.37 with 1e-3, while the log density along that eigenvector is convex; the Laplace draws of the
    -24 Hessian spread over 500 orders of magnitude of a rate and none had a finite density. The steps of
    :data:`HESSIAN_RETRY_STEPS` are tried in turn and the first positive definite Hessian is kept; if there is none,
    the first one is returned (and the caller reports its negative eigenvalues).
    """
    first = finite_difference_hessian(objective, z)
    evaluations = 2 * len(z)
    if _positive_definite(first):
        return first, evaluations
    for step in HESSIAN_RETRY_STEPS:
        hess = finite_difference_hessian(objective, z, step)
        evaluations += 2 * len(z)
        if _positive_definite(hess):
            return hess, evaluations
    return first, evaluations


def _positive_definite(hess: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(hess))) and float(np.linalg.eigvalsh(hess).min()) > 0.0


def _grid_error(objective, z: np.ndarray) -> float:
    """``|Δ(-2 log L)|`` at ``z`` between the objective's grid and one twice as fine; ``inf`` where either is not
    finite (a grid too coarse for fast rates makes RK4 blow up)."""
    coarse_ll = float(objective(jnp.asarray(z))[2])
    fine_ll = float(objective.refined(2)(jnp.asarray(z))[2])
    if not (np.isfinite(coarse_ll) and np.isfinite(fine_ll)):
        return np.inf
    return abs(2.0 * (fine_ll - coarse_ll))


def _search(problem: BayesianProblem, objective, **starts) -> MapResult | None:
    """:func:`find_map` with the screen's tolerances (``starts``: its ``n_starts``, ``seed``, ``init``,
    ``agreement``); ``None`` when no start reaches a finite density."""
    try:
        return find_map(problem, objective=objective, ftol=SCREENING_FTOL, maxcor=LBFGS_MEMORY, **starts)
    except FitError:
        return None


def _gradient_norm(objective, z: np.ndarray) -> float:
    """Norm of the gradient of the negative log density at ``z`` (``inf`` where it is not finite)."""
    gradient = np.asarray(objective(jnp.asarray(z))[1])
    return float(np.linalg.norm(gradient)) if np.all(np.isfinite(gradient)) else np.inf


def _grid_following(objective, points: Sequence[np.ndarray], steps: int):
    """``(steps, objective)`` on the coarsest grid (doubling ``steps``, up to :data:`MAX_GRID_STEPS`) whose error is
    within :data:`GRID_TOLERANCE_M2LL` at one of ``points`` at least; the grid given when no grid makes any of them
    finite (then the grid was not what failed)."""
    start = (steps, objective)
    while (points and 2 * steps <= MAX_GRID_STEPS
           and min(_grid_error(objective, z) for z in points) > GRID_TOLERANCE_M2LL):
        steps, objective = 2 * steps, objective.refined(2)
    if points and not any(np.isfinite(float(objective(jnp.asarray(z))[2])) for z in points):
        return start
    return steps, objective


def _grid_for_best_parent(objective, points: Sequence[np.ndarray], steps: int
                          ) -> tuple[object, int, np.ndarray | None]:
    """``(objective, steps, point)``: the ``init`` point of highest likelihood and the objective (and its number of
    steps) on a grid that follows the dynamics there (error within :data:`GRID_TOLERANCE_M2LL`), for the
    maximum-likelihood step (``steps``: the given objective's grid; ``(objective, steps, None)`` when no point is
    finite).

    A nested child started at its parents' optima ends no worse than its best parent when the grid is right at that
    parent's point, and may improve on it from there. The MAP's grid need only be right at one of the points. The
    points' likelihoods are compared on a grid twice as fine; nothing is compiled (the same program with more
    substeps). A point that no grid follows is left to :func:`_exact_at_unfollowed`.
    """
    finer = objective.refined(2)
    scored = []
    for z in points:
        if np.all(np.isfinite(z)):
            loglik = float(finer(jnp.asarray(z))[2])
            if np.isfinite(loglik):
                scored.append((loglik, z))
    if not scored:
        return objective, steps, None
    best = max(scored, key=lambda item: item[0])[1]
    fine_steps, fine = _grid_following(objective, [best], steps)
    return fine, fine_steps, best


def _exact_log_likelihood(model, data, engine, error, priors):
    """``z -> log-likelihood`` with the default adaptive solver (``-inf`` where it is not finite), compiled on first
    use: only a structure with a point that no grid follows pays for the compilation."""
    compiled = []

    def loglik(z: np.ndarray) -> float:
        if not compiled:
            exact = _problem(model, data, engine, error, priors, "auto", 1)
            compiled.append(jax.jit(lambda z: exact.log_density_and_likelihood(z)[1]))
        value = float(compiled[0](jnp.asarray(z)))
        return value if np.isfinite(value) else -np.inf

    return loglik


def _exact_at_unfollowed(exact_loglik, objective, points: Sequence[np.ndarray]) -> list[tuple[float, np.ndarray]]:
    """``(log-likelihood, point)`` with the default adaptive solver (``exact_loglik``) at the ``init`` points where the
    grid's error exceeds :data:`GRID_TOLERANCE_M2LL` (or the grid solve fails); empty when the grid follows them all.

    A nested child contains its parent: at the parent's optimum, with the new terms switched off, its likelihood is
    the parent's. But a parent may sit at rates that no grid up to :data:`MAX_GRID_STEPS` follows (theophylline,
    transit (3) + one compartment: ``ktr`` 32/h with a between-subject SD of 0.7, so the virtual patients reach
    110/h, past explicit RK4's stability limit at any such grid), and its child, optimised on the grid, ended 0.2-0.35
    worse in ``-2 log L`` than the parent. The likelihood at those points is computed exactly here, so the child's
    maximised likelihood is at least its parent's.
    """
    out = []
    for z in points:
        if np.all(np.isfinite(z)) and not _grid_error(objective, z) <= GRID_TOLERANCE_M2LL:
            value = exact_loglik(z)
            if np.isfinite(value):
                out.append((value, np.asarray(z, dtype=float)))
    return out


def _followed_maximum(objective, steps: int, z: np.ndarray, exact_loglik) -> tuple[np.ndarray, float, int]:
    """``(point, log-likelihood, evaluations)``: a maximum found on the grid ``objective`` (``steps``), measured on a
    grid that follows the dynamics there.

    The maximum-likelihood step leaves the MAP, where the grid was checked, and may reach parameter values where the
    grid is wrong: on the pharmacodynamic recovery cohort (one compartment, Emax, indirect response II) it ran to a
    drug effect switched off and a fast turnover, where 64 steps gave ``-2 log L`` 150.23 and the adaptive solver
    157.60. A structure's BIC then rested on the grid's error, and its nested child, screened on a finer grid, ended
    5.7 worse than it. So the grid check is repeated at the maximum; where it fails the grid is doubled and the
    maximisation continued from there (:data:`CONTINUATION_MAXITER` iterations per grid, up to
    :data:`MAX_LIKELIHOOD_GRID_STEPS`), and where no grid follows, the likelihood at the point is computed exactly.
    """
    evaluations = 0
    loglik = float(objective(jnp.asarray(z))[2])
    while not _grid_error(objective, z) <= GRID_TOLERANCE_M2LL:
        if 2 * steps > MAX_LIKELIHOOD_GRID_STEPS:
            return z, exact_loglik(z), evaluations
        objective, steps = objective.refined(2), 2 * steps
        finer_z, finer_loglik, n = maximise_likelihood(objective, [z], CONTINUATION_MAXITER)
        evaluations += n
        if finer_z is None:  # not finite on the finer grid either: the exact value decides
            return z, exact_loglik(z), evaluations
        z, loglik = finer_z, finer_loglik
    return z, loglik, evaluations


def maximise_likelihood(objective, starts: Sequence[np.ndarray], maxiter: int = 200) -> tuple[np.ndarray, float, int]:
    """Maximise the log-likelihood (unconstrained space) from each start; the best point, its value, evaluations."""
    z, loglik, evaluations, _ = _maximise(objective, starts, maxiter)
    return z, loglik, evaluations


def _maximise(objective, starts: Sequence[np.ndarray], maxiter: int = 200, restarts: int = MAX_RESTARTS
              ) -> tuple[np.ndarray | None, float, int, bool]:
    """:func:`maximise_likelihood`, also saying whether the optimum may be held at a wall of non-finite values: an
    evaluation on the way was not finite and the best optimisation ended with its gradient norm above
    :data:`RESTART_GRADIENT_NORM` (a converged optimum has a small gradient even where a line search overshot into
    non-finite values), or no start was finite at all."""
    count, failed = [0], [0]

    def fun(z):
        count[0] += 1
        out = objective(jnp.asarray(z))
        v, g = -float(out[2]), -np.asarray(out[3])
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            failed[0] += 1
            return 1e300, np.zeros_like(z)
        return v, g

    best_z, best_v, best_norm = None, np.inf, 0.0
    for z0 in starts:
        if not np.all(np.isfinite(z0)) or fun(z0)[0] >= 1e300:
            continue
        z = np.asarray(z0, dtype=float)
        for _ in range(restarts + 1):
            res = minimize(fun, z, jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "ftol": SCREENING_FTOL,
                                                                        "maxcor": LBFGS_MEMORY})
            z = res.x
            v, g = fun(z)
            if v >= 1e300 or np.linalg.norm(g) <= RESTART_GRADIENT_NORM:
                break
        if v < best_v:
            best_z, best_v, best_norm = z, v, float(np.linalg.norm(g))
    return best_z, -best_v, count[0], bool(failed[0]) and (best_z is None or best_norm > RESTART_GRADIENT_NORM)


def _maximise_past_the_grid(objective, starts: Sequence[np.ndarray], steps: int
                            ) -> tuple[list[tuple[np.ndarray, object, int]], int]:
    """:func:`maximise_likelihood` from each of ``starts``, continued on finer grids (up to
    :data:`MAX_LIKELIHOOD_GRID_STEPS`) where the grid may be what stopped it: each start's maximum with the grid it
    was found on (``(point, objective, steps)``; starts that reach no finite value are left out), and the evaluations.

    The maximum likelihood may lie at faster rates than the MAP, which the priors hold back (theophylline, transit
    absorption (3) + one compartment + Michaelis-Menten elimination: ``ktr`` 24/h with a between-subject SD of 0.64,
    where the MAP has 19/h). There explicit RK4 on the MAP's grid blows up (its stability limit), and the optimiser,
    which sees only non-finite values past that boundary, stops short: ``-2 log L`` 8.80 on the screen's grid, where
    the structure reaches 8.21 with the adaptive solver and on 1,024 steps. So an optimisation held at such a wall
    (:func:`_maximise`) is continued from its optimum on grids twice as fine, each the same compiled program with
    more substeps, for at most :data:`CONTINUATION_MAXITER` iterations per grid, and the best value wins; so is a start
    where the grid fails outright (a parent's point at rates the grid cannot follow). This is done per start: the
    best optimum on the coarse grid may be a converged one in another basin (8.80 from the parent's start) while the
    start that was stopped leads to the better one. Every start's maximum is returned, not the best on its grid: the
    caller measures each where a grid follows it (:func:`_followed_maximum`), and the best on a coarse grid can be the
    grid's error.
    """
    maxima, evaluations = [], 0
    for start in starts:
        z, loglik, n, walled = _maximise(objective, [start])
        evaluations += n
        if z is None and walled and np.all(np.isfinite(start)):  # the grid fails at the start itself
            z, loglik = np.asarray(start, dtype=float), -np.inf
        finer, finer_steps = objective, steps
        grid = (finer, finer_steps)
        while z is not None and walled and 2 * finer_steps <= MAX_LIKELIHOOD_GRID_STEPS:
            finer, finer_steps = finer.refined(2), 2 * finer_steps
            finer_z, finer_loglik, n, walled = _maximise(finer, [z], CONTINUATION_MAXITER, restarts=0)
            evaluations += n
            if finer_z is not None and finer_loglik > loglik:
                z, loglik, grid = finer_z, finer_loglik, (finer, finer_steps)
        if z is not None and np.isfinite(loglik):
            maxima.append((z, *grid))
    return maxima, evaluations


def screen(model: ODEModel, data, *, engine: str | MomentEngine = "sigma", error: ErrorKind = "combined",
           priors: dict[str, Prior] | None = None, n_starts: int = 8, seed: int = 0,
           init: Sequence[Mapping[str, float]] = (), hessian: bool = False,
           grid_steps: int = SCREENING_GRID_STEPS
           ) -> tuple[MapResult, np.ndarray | None, ScreeningFacts, RowFunction | None]:
    """Screening MAP of one structure (see the module docstring).

    Returns
    -------
    result
        The MAP on the final grid.
    hess
        Hessian of the negative log density at the MAP when ``hessian`` is true, else ``None``.
    facts
        How it was computed.
    rows
        ``z -> (pointwise, mu, var)`` per data row at unconstrained points ``z`` (shape ``(sites,)`` or
        ``(draws, sites)``), on the final grid, through the objective already compiled (no further compilation);
        ``None`` for count data.

    Raises
    ------
    FitError
        When no start reaches a finite density.
    """
    linear = model.linear_system() is not None
    solver = "linear" if linear else "rk4"
    steps = 0 if linear else grid_steps
    problem = _problem(model, data, engine, error, priors, solver, max(steps, 1))
    rows = not isinstance(data, CountData)
    objective, compile_s = compiled_objective(problem, rows=rows, refinable=True)
    check_s = 0.0
    if not linear and init:
        # a nested child's optimum lies near its parent's: make the grid good enough there before optimising (at
        # one of the points at least: a parent's maximum-likelihood point may have run off to rates no grid follows)
        t0 = time.perf_counter()
        init_z = [z for _, z in initial_points(problem, init)[:-1] if np.all(np.isfinite(z))]
        steps, objective = _grid_following(objective, init_z, steps)
        if steps != grid_steps:
            problem = _problem(model, data, engine, error, priors, solver, grid_steps, objective.substeps)
        check_s += time.perf_counter() - t0
    start_steps = steps
    result = find_map(problem, n_starts=n_starts, seed=seed, init=init, objective=objective,
                      agreement=SCREENING_AGREEMENT, ftol=SCREENING_FTOL, maxcor=LBFGS_MEMORY)
    optimise_s, evaluations = result.optimise_seconds, result.evaluations
    error_m2ll, ok = 0.0, True
    while not linear:
        # the check and the refinements run the same compiled program with more substeps per grid step
        t0 = time.perf_counter()
        error_m2ll = _grid_error(objective, result.unconstrained)
        ok = error_m2ll <= GRID_TOLERANCE_M2LL
        walled = _gradient_norm(objective, result.unconstrained) > WALL_GRADIENT_NORM
        check_s += time.perf_counter() - t0
        if (ok and not walled) or 2 * steps > MAX_GRID_STEPS:
            break
        # refine: the finer grid becomes the grid, started from the coarse optimum only; the problem that the
        # fit keeps (for predictions) is built on the same grid (the compiled one, with as many substeps). A MAP
        # held at the grid's stability wall (its gradient still large) is refined too, although the grid is right
        # at the MAP itself.
        steps, objective = 2 * steps, objective.refined(2)
        problem = _problem(model, data, engine, error, priors, solver, grid_steps, objective.substeps)
        result = find_map(problem, n_starts=0, seed=seed, init=[result.values], objective=objective,
                          ftol=SCREENING_FTOL, maxcor=LBFGS_MEMORY)
        optimise_s += result.optimise_seconds
        evaluations += result.evaluations
    def better(candidate: MapResult | None) -> bool:
        """Count a further MAP search's cost; whether it beat the current result."""
        nonlocal optimise_s, evaluations
        if candidate is None:
            return False
        optimise_s += candidate.optimise_seconds
        evaluations += candidate.evaluations
        return candidate.log_density > result.log_density

    def recheck() -> None:
        """The grid check at a new result."""
        nonlocal error_m2ll, ok, check_s
        t0 = time.perf_counter()
        error_m2ll = _grid_error(objective, result.unconstrained)
        ok = error_m2ll <= GRID_TOLERANCE_M2LL
        check_s += time.perf_counter() - t0

    if steps != start_steps:
        # The coarse grid was wrong near the optimum it found, so that optimum may sit in a basin the coarse grid
        # made (theophylline, transit absorption (3) + Michaelis-Menten: a coarse optimum polished on the fine
        # grid ended at -2 log L 57.9, where the structure reaches 9.5): the caller's points and the prior medians
        # are run again on the final grid, and the best optimum wins.
        rerun = _search(problem, objective, n_starts=1, seed=seed, init=[*init])
        if better(rerun):
            result = rerun
            recheck()
    held = not linear and _gradient_norm(objective, result.unconstrained) > WALL_GRADIENT_NORM
    if held:
        # still held at the wall on the finest grid: its Laplace draws would fall past the wall (no finite
        # density), so more random starts look for an optimum away from it
        more = _search(problem, objective, n_starts=max(n_starts, WALLED_EXTRA_STARTS), seed=seed + 1)
        if better(more):
            result = more
            recheck()
            held = _gradient_norm(objective, result.unconstrained) > WALL_GRADIENT_NORM
    exact = False
    if held or (not linear and not ok):
        # no optimum away from the wall on any grid, or the finest grid is wrong at the MAP: the exact path (adaptive
        # solver, as a full fit), one compilation
        exact_problem = _problem(model, data, engine, error, priors, "auto", 1)
        exact_objective, seconds = compiled_objective(exact_problem, rows=rows)
        compile_s += seconds
        fallback = _search(exact_problem, exact_objective, n_starts=n_starts, seed=seed, init=[result.values, *init],
                           agreement=SCREENING_AGREEMENT)
        if better(fallback) or (fallback is not None and not ok):
            result, problem, objective, exact = fallback, exact_problem, exact_objective, True
            solver, steps, error_m2ll, ok = exact_problem.likelihood.compiled.solver, 0, 0.0, True
    t0 = time.perf_counter()
    init_points = [z for _, z in initial_points(problem, init)[:-1]]
    if linear or exact:
        ml_z, ml_loglik, ml_evaluations = maximise_likelihood(objective, [result.unconstrained, *init_points])
        found = [(ml_loglik, ml_z)] if ml_z is not None else []
    else:
        # every maximum found on a grid is measured on a grid that follows it (:func:`_followed_maximum`)
        exact_loglik = _exact_log_likelihood(model, data, engine, error, priors)
        found = []
        grids, ml_evaluations = _maximise_past_the_grid(objective, [result.unconstrained, *init_points], steps)
        if init_points:
            # the best parent's point on a grid right there (one more start), then exact values where no grid is right
            fine, fine_steps, best = _grid_for_best_parent(objective, init_points, steps)
            if fine is not objective:
                z, _, n = maximise_likelihood(fine, [best])
                ml_evaluations += n
                grids.append((z, fine, fine_steps))
            found += _exact_at_unfollowed(exact_loglik, fine, init_points)
        for z, grid, grid_steps_z in grids:
            if z is not None:
                z, loglik, n = _followed_maximum(grid, grid_steps_z, z, exact_loglik)
                ml_evaluations += n
                found.append((loglik, z))
    found = [(loglik, z) for loglik, z in found if np.isfinite(loglik)]
    ml_loglik, ml_z = max(found, key=lambda item: item[0], default=(-np.inf, None))
    if ml_z is None or ml_loglik < result.log_likelihood:
        ml_z, ml_loglik = result.unconstrained, result.log_likelihood
    optimise_s += time.perf_counter() - t0
    evaluations += ml_evaluations
    ml_values = {k: float(v) for k, v in problem.constrain(ml_z).items()}
    hess = None
    if hessian:
        t0 = time.perf_counter()
        hess, n = laplace_hessian(objective, result.unconstrained)
        optimise_s += time.perf_counter() - t0
        evaluations += n
    facts = ScreeningFacts(solver, steps, float(error_m2ll), bool(ok), compile_s, optimise_s, check_s, evaluations,
                           float(ml_loglik), ml_values)
    return result, hess, facts, RowFunction(objective) if rows else None
