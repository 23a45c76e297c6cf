"""Multi-start MAP: one compiled objective, starts chosen and run with L-BFGS-B, a precise reason for every failure.

Starts, in the order they are tried:

1. the caller's ``init`` points (constrained site values; missing sites at their prior median), for example a
   parent structure's optimum with the new terms at neutral values, so that a nested child starts where its parent
   ended;
2. the prior medians;
3. random points, uniform within +-1 of the prior medians in the unconstrained space. ``candidates_per_start`` times
   more are drawn than needed and only the best (highest log density, one evaluation each) are optimised: a cheap
   way to avoid starting in regions where the solve fails or the prediction is far from the data.

Each start runs L-BFGS-B and is restarted from where it stopped (fresh curvature memory) while the gradient is still
large: L-BFGS-B stops early ("relative reduction of f") after a line search that hit the edge of the region where
the solve succeeds, and one restart nearly always recovers.

With ``agreement=k`` the remaining starts are skipped once ``k`` starts have ended at the best optimum so far
(within :data:`AGREEMENT_TOLERANCE`): on well-posed structures every start ends at the same point, and the later
ones only cost time. The ``init`` points and the prior medians are always run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from ._problem import BayesianProblem
from ._start_diagnosis import diagnose_start

__all__ = ["StartReport", "MultiStartResult", "RefinableObjective", "compiled_objective", "compile_lowered",
           "COMPILER_OPTIONS", "initial_points", "run_starts",
           "RESTART_GRADIENT_NORM", "MAX_RESTARTS", "AGREEMENT_TOLERANCE", "LBFGS_MEMORY"]

RESTART_GRADIENT_NORM = 1e-2
"""A start whose final gradient norm (unconstrained space) exceeds this is restarted from where it stopped."""
MAX_RESTARTS = 3
"""Restarts of L-BFGS-B per start at most."""
AGREEMENT_TOLERANCE = 1e-2
"""Starts whose optima differ by less than this in log density (0.02 in ``-2 log L``) found the same optimum."""
LBFGS_MEMORY = 40
"""Correction pairs L-BFGS-B keeps in a screen (SciPy's ``maxcor``, whose default of 10 the full path keeps).
Posteriors here have 8 to 30 sites, so 40 is a full-memory quasi-Newton method. On six theophylline structures (14
to 20 sites) it cut the objective evaluations of a screen by 21-47% (median 40%) against the default, at the same
optima."""
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
"""XLA options of the objectives compiled here: the CPU backend's older loop-fusion emitters instead of its MLIR ones
compile a new structure's objective 25-35% faster (0.4-0.8 s of 1.2-2.7 s), with the same cost per evaluation and
results equal to rounding (measured on six theophylline structures, linear, fixed-grid and adaptive paths, XLA of
jaxlib 0.10.2; ``python benchmarks/screening.py``)."""
_WALL = 1e300
"""Objective value given to L-BFGS-B where the density is not finite (it backtracks from it)."""


@dataclass(frozen=True)
class StartReport:
    """What became of one start.

    Attributes
    ----------
    label
        ``"init 0"``, ``"prior median"``, ``"random 3"``...
    start_log_density
        Log posterior density at the start (``-inf`` when not finite).
    log_density
        At the end of the optimisation (``-inf`` when the start failed).
    evaluations
        Objective evaluations (value and gradient together).
    reason
        Empty when the start succeeded; otherwise why it failed.
    """

    label: str
    start_log_density: float
    log_density: float
    evaluations: int
    reason: str = ""


@dataclass(frozen=True)
class MultiStartResult:
    """The best optimum and the record of every start.

    Attributes
    ----------
    z
        Best unconstrained point, or ``None`` when every start failed.
    log_density, log_likelihood
        At ``z``.
    starts
        One report per optimised start.
    evaluations
        All objective evaluations, start selection included.
    compile_seconds, optimise_seconds
        Time to trace and compile the objective; time spent evaluating and optimising.
    """

    z: np.ndarray | None
    log_density: float
    log_likelihood: float
    starts: tuple[StartReport, ...]
    evaluations: int
    compile_seconds: float
    optimise_seconds: float


def compiled_objective(problem: BayesianProblem, *, rows: bool = False, refinable: bool = False):
    """Compile ``z -> (-log density, its gradient, log-likelihood, its gradient)``; returns it and the seconds taken.

    Forward mode: one primal and ``dimension`` tangents, batched. With few parameters and an ODE solve inside it is
    cheaper than reverse mode (no adjoint solve or stored trajectory). The log-likelihood's gradient comes with the
    same tangents, so maximising the likelihood needs no second compilation.

    With ``rows`` (aggregate likelihoods only) the function also returns the per-row ``(pointwise, mu, var)`` of
    :meth:`BayesianProblem.log_density_and_rows`, so that the pointwise log-likelihood of Laplace draws (for
    PSIS-LOO) and the fitted means need no program of their own: compiling one costs as much as the optimisation.

    With ``refinable`` the compiled program also takes the number of substeps of the ``"rk4"`` grid (see
    :meth:`CompiledModel.simulate`) as a run-time argument, and a :class:`RefinableObjective` is returned: the grid
    check and its refinements evaluate the same program on a finer grid instead of compiling new ones.
    """
    basis = jnp.eye(problem.dimension)

    if rows:
        def pieces(z, substeps):
            log_density, loglik, per_row = problem.log_density_and_rows(z, substeps)
            return -log_density, loglik, per_row
    else:
        def pieces(z, substeps):
            log_density, loglik = problem.log_density_and_likelihood(z, substeps)
            return -log_density, loglik, ()

    def objective(z, substeps):
        (value, loglik, per_row), (tangents, loglik_tangents, _) = jax.vmap(
            lambda v: jax.jvp(lambda x: pieces(x, substeps), (z,), (v,)), out_axes=((None, None, None), 0))(basis)
        return (value, tangents, loglik, loglik_tangents, *per_row)

    start = time.perf_counter()
    if refinable:
        program = compile_lowered(jax.jit(objective).lower(jnp.zeros(problem.dimension), jnp.ones((), jnp.int32)))
        compiled = RefinableObjective(program, 1)
    else:
        compiled = compile_lowered(jax.jit(lambda z: objective(z, None)).lower(jnp.zeros(problem.dimension)))
    return compiled, time.perf_counter() - start


def compile_lowered(lowered):
    """XLA-compile a lowered program with :data:`COMPILER_OPTIONS` (without them where this XLA build does not know
    one)."""
    try:
        return lowered.compile(compiler_options=COMPILER_OPTIONS)
    except Exception as exc:  # jaxlib's XlaRuntimeError; only an unknown option is expected here
        if "compile option" not in str(exc):
            raise
        return lowered.compile()


class RefinableObjective:
    """A compiled objective ``z -> outputs`` whose fixed ODE grid is refined by ``substeps`` at run time.

    Calling it evaluates the program with :attr:`substeps`; :meth:`refined` gives the same program on a grid
    ``m`` times finer (nothing is recompiled).
    """

    def __init__(self, program, substeps: int) -> None:
        self.program = program
        self.substeps = int(substeps)
        self._substeps = jnp.asarray(self.substeps, dtype=jnp.int32)

    def __call__(self, z):
        return self.program(z, self._substeps)

    def refined(self, factor: int) -> RefinableObjective:
        """The objective on a grid ``factor`` times finer than this one's."""
        return RefinableObjective(self.program, self.substeps * int(factor))


def initial_points(problem: BayesianProblem, init: Sequence[Mapping[str, float]]) -> list[tuple[str, np.ndarray]]:
    """Unconstrained starts of the caller's ``init`` dicts, then the prior medians.

    Sites missing from a dict take their prior median; keys that are not sites of this structure are ignored (a
    parent's whole optimum can be passed). A value outside a site's support gives a non-finite coordinate, which the
    start's report then names.
    """
    medians = {name: prior.typical() for name, prior in problem.priors.items()}
    out = []
    for i, point in enumerate(init):
        values = dict(medians)
        values.update({k: float(v) for k, v in point.items() if k in medians})
        with np.errstate(all="ignore"):
            out.append((f"init {i}", problem.unconstrain(values)))
    out.append(("prior median", problem.unconstrain(medians)))
    return out


def _select_random(objective, centre: np.ndarray, n: int, per_start: int, rng: np.random.Generator):
    """The ``n`` best of ``n * per_start`` random points around ``centre`` (one evaluation each)."""
    if n <= 0:
        return [], 0
    pool = [centre + rng.uniform(-1.0, 1.0, centre.shape) for _ in range(n * per_start)]
    scores = []
    for z in pool:
        v = float(objective(jnp.asarray(z))[0])
        scores.append(v if np.isfinite(v) else np.inf)
    order = np.argsort(scores, kind="stable")[:n]
    return [(f"random {i}", pool[j]) for i, j in enumerate(order)], len(pool)


def run_starts(problem: BayesianProblem, *, init: Sequence[Mapping[str, float]] = (), n_starts: int = 8,
               seed: int = 0, maxiter: int = 500, candidates_per_start: int = 1, objective=None,
               agreement: int | None = None, ftol: float | None = None, maxcor: int = 10) -> MultiStartResult:
    """Optimise the log posterior from every start and keep the best.

    Parameters
    ----------
    problem
        The posterior.
    init
        Extra starts (constrained site values), always tried first.
    n_starts
        Prior medians plus ``n_starts - 1`` random starts (the ``init`` points come on top); ``0`` runs the
        ``init`` points only.
    seed
        Seed of the random starts.
    maxiter
        L-BFGS-B iterations per run.
    candidates_per_start
        Random points drawn per random start kept (the best are kept).
    objective
        The compiled objective of :func:`compiled_objective`, when the caller has it already (then
        ``compile_seconds`` is 0).
    agreement
        Stop once this many starts agree on the best optimum (``None``: run every start).
    ftol
        L-BFGS-B's relative tolerance on the objective (``None``: SciPy's default, 2.2e-9).
    maxcor
        L-BFGS-B's number of correction pairs (SciPy's default 10; the screening path uses :data:`LBFGS_MEMORY`).
    """
    compile_seconds = 0.0
    if objective is None:
        objective, compile_seconds = compiled_objective(problem)
    t0 = time.perf_counter()
    count = [0]

    def fun(z):
        count[0] += 1
        v, g = objective(jnp.asarray(z))[:2]
        v, g = float(v), np.asarray(g)
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            return _WALL, np.zeros_like(z)
        return v, g

    starts = initial_points(problem, init)
    centre = starts[-1][1]
    if n_starts < 1:  # only the caller's points
        starts = starts[:-1]
    rng = np.random.default_rng(seed)
    randoms, drawn = _select_random(objective, centre, n_starts - 1, max(candidates_per_start, 1), rng)
    starts += randoms
    evaluations = drawn
    reports, best_z, best_v = [], None, np.inf
    options = {"maxiter": maxiter, "maxcor": maxcor}
    if ftol is not None:
        options["ftol"] = ftol
    n_required = len(starts) - len(randoms)
    for index, (label, z0) in enumerate(starts):
        if agreement is not None and index >= n_required and best_z is not None:
            agreeing = sum(r.log_density >= -best_v - AGREEMENT_TOLERANCE for r in reports)
            if agreeing >= agreement:
                break
        count[0] = 0
        v0 = fun(z0)[0] if np.all(np.isfinite(z0)) else _WALL
        if v0 >= _WALL:
            reports.append(StartReport(label, -np.inf, -np.inf, count[0], diagnose_start(problem, z0)))
            evaluations += count[0]
            continue
        z = np.asarray(z0, dtype=float)
        for _ in range(MAX_RESTARTS + 1):
            res = minimize(fun, z, jac=True, method="L-BFGS-B", options=options)
            z = res.x
            v, g = fun(z)
            if v >= _WALL or np.linalg.norm(g) <= RESTART_GRADIENT_NORM:
                break
        evaluations += count[0]
        if v >= _WALL:
            reason = "optimisation ended where the density is not finite: " + diagnose_start(problem, z)
            reports.append(StartReport(label, -v0, -np.inf, count[0], reason))
            continue
        reports.append(StartReport(label, -v0, -v, count[0]))
        if v < best_v:
            best_z, best_v = z, v
    loglik = float(objective(jnp.asarray(best_z))[2]) if best_z is not None else -np.inf
    return MultiStartResult(best_z, -best_v, loglik, tuple(reports), evaluations, compile_seconds,
                            time.perf_counter() - t0)
