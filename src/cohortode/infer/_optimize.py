"""Multi-start MAP optimisation and the Laplace approximation, in the unconstrained space of the sites."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import FitError
from ._multistart import StartReport, run_starts
from ._problem import BayesianProblem

__all__ = ["MapResult", "find_map", "laplace_draws", "forward_value_and_grad"]


@dataclass
class MapResult:
    """The best optimum found.

    Attributes
    ----------
    values
        Constrained parameter values at the optimum.
    unconstrained
        Flat unconstrained vector at the optimum.
    log_density
        Log posterior density (unconstrained, with Jacobian) at the optimum.
    all_log_densities
        One per start (``-inf`` where a start failed), for checking multi-modality.
    problem
        The problem that was optimised.
    log_likelihood
        Log-likelihood at the optimum (``-2 log_likelihood`` is the deviance used for BIC).
    starts
        What became of each start (:class:`~cohortode.infer._multistart.StartReport`).
    evaluations
        Objective evaluations (value and gradient), all starts together.
    compile_seconds, optimise_seconds
        Time to compile the objective, and to run the starts.
    """

    values: dict[str, float]
    unconstrained: np.ndarray
    log_density: float
    all_log_densities: list[float]
    problem: BayesianProblem
    log_likelihood: float = float("nan")
    starts: tuple[StartReport, ...] = ()
    evaluations: int = 0
    compile_seconds: float = 0.0
    optimise_seconds: float = 0.0


def forward_value_and_grad(f, dim: int):
    """Value and gradient of a scalar function by forward mode: one primal and ``dim`` tangents, batched.

    With few parameters and an ODE solve inside, forward mode is cheaper than reverse mode (no adjoint solve or
    stored trajectory).
    """
    basis = jnp.eye(dim)

    def vg(z):
        value, tangents = jax.vmap(lambda v: jax.jvp(f, (z,), (v,)), out_axes=(None, 0))(basis)
        return value, tangents
    return vg


def find_map(problem: BayesianProblem, *, n_starts: int = 8, seed: int = 0, maxiter: int = 500,
             init: Sequence[Mapping[str, float]] = (), candidates_per_start: int = 1, objective=None,
             agreement: int | None = None, ftol: float | None = None, maxcor: int = 10) -> MapResult:
    """Maximise the log posterior from ``init``, the prior medians and ``n_starts - 1`` random starts (L-BFGS-B).

    One function is compiled, the forward-mode value and gradient of the log posterior; nothing is evaluated
    eagerly (``objective`` passes one already compiled by :func:`~cohortode.infer._multistart.compiled_objective`).
    Starts whose density is not finite are skipped; the best finite optimum wins. See
    :mod:`cohortode.infer._multistart`.

    Parameters
    ----------
    init
        Extra starts (constrained site values; missing sites at their prior median), always tried first.
    candidates_per_start, agreement, ftol, maxcor
        See :func:`~cohortode.infer._multistart.run_starts`.

    Raises
    ------
    FitError
        When no start reaches a finite posterior density; ``reason`` says what happened to each start.
    """
    out = run_starts(problem, init=init, n_starts=n_starts, seed=seed, maxiter=maxiter,
                     candidates_per_start=candidates_per_start, objective=objective,
                     agreement=agreement, ftol=ftol, maxcor=maxcor)
    if out.z is None:
        per_start = tuple(f"start {r.label!r}: {r.reason}" for r in out.starts)
        raise FitError(f"{problem.likelihood.model!r} cannot be fitted: no start reached a finite posterior "
                       f"density; " + "; ".join(per_start), starts=per_start)
    values = {k: float(v) for k, v in problem.constrain(out.z).items()}
    return MapResult(values, np.asarray(out.z), out.log_density, [r.log_density for r in out.starts], problem,
                     out.log_likelihood, out.starts, out.evaluations, out.compile_seconds, out.optimise_seconds)


def laplace_draws(result: MapResult, n: int = 1000, seed: int = 0,
                  hessian: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws from the Gaussian at the MAP with covariance the inverse Hessian (unconstrained space).

    Returns the constrained draws and the Hessian's eigenvalues (non-positive ones mean a flat or saddle direction:
    they are clipped to a small positive value and reported by the caller). ``hessian`` (of the negative log
    density) skips computing it by nested forward mode.
    """
    draws, eigval, _, _ = laplace_sample(result, n, seed, hessian)
    return draws, eigval


def laplace_sample(result: MapResult, n: int = 1000, seed: int = 0, hessian: np.ndarray | None = None
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """:func:`laplace_draws`, plus the unconstrained draws ``(n, sites)`` and the log density of each under the
    Gaussian (for importance weighting against the posterior, see :mod:`cohortode.infer._approximate_loo`)."""
    problem = result.problem
    if hessian is None:
        neg = lambda z: -problem.log_density(z)  # noqa: E731
        hessian = np.asarray(jax.jit(jax.jacfwd(jax.jacfwd(neg)))(jnp.asarray(result.unconstrained)))
    hess = 0.5 * (hessian + hessian.T)
    eigval, eigvec = np.linalg.eigh(hess)
    clipped = np.maximum(eigval, 1e-6)
    cov = (eigvec / clipped) @ eigvec.T
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(result.unconstrained, cov, size=n, method="eigh")
    projected = (z - result.unconstrained) @ eigvec  # coordinates along the eigenvectors
    log_g = (-0.5 * np.sum(projected**2 * clipped, axis=1) + 0.5 * np.sum(np.log(clipped))
             - 0.5 * len(clipped) * np.log(2.0 * np.pi))
    draws = {k: np.asarray(v) for k, v in problem.constrain(z).items()}
    return draws, eigval, z, log_g
