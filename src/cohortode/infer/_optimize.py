"""Multi-start MAP optimisation and the Laplace approximation, in the unconstrained space of the sites."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

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
    """

    values: dict[str, float]
    unconstrained: np.ndarray
    log_density: float
    all_log_densities: list[float]
    problem: BayesianProblem


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


def find_map(problem: BayesianProblem, *, n_starts: int = 8, seed: int = 0, maxiter: int = 500) -> MapResult:
    """Maximise the log posterior from the prior medians and ``n_starts - 1`` random starts (L-BFGS-B).

    One function is compiled, the forward-mode value and gradient of the log posterior; nothing is evaluated
    eagerly. Starts whose density is not finite are skipped; the best finite optimum wins.

    Raises
    ------
    FloatingPointError
        When no start gives a finite posterior density.
    """
    neg_vg = forward_value_and_grad(lambda z: -problem.log_density(z), problem.dimension)
    value_and_grad = jax.jit(neg_vg)
    rng = np.random.default_rng(seed)
    z_med = problem.initial_point()
    # random starts: uniform within +-1 of the prior medians in the unconstrained (log) space
    starts = [z_med] + [z_med + rng.uniform(-1.0, 1.0, z_med.shape) for _ in range(n_starts - 1)]

    def fun(z):
        v, g = value_and_grad(jnp.asarray(z))
        v, g = float(v), np.asarray(g)
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(z)
        return v, g

    best_z, best_v, all_v = None, np.inf, []
    for z0 in starts:
        if fun(z0)[0] >= 1e300:  # not finite at the start
            all_v.append(-np.inf)
            continue
        res = minimize(fun, z0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
        v = fun(res.x)[0]
        ok = np.isfinite(v) and v < 1e300
        all_v.append(-v if ok else -np.inf)
        if ok and v < best_v:
            best_z, best_v = res.x, v
    if best_z is None:
        raise FloatingPointError("no start gave a finite posterior density; the structure cannot be fitted here")
    values = {k: float(v) for k, v in problem.constrain(best_z).items()}
    return MapResult(values, np.asarray(best_z), -best_v, all_v, problem)


def laplace_draws(result: MapResult, n: int = 1000, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws from the Gaussian at the MAP with covariance the inverse Hessian (unconstrained space).

    Returns the constrained draws and the Hessian's eigenvalues (non-positive ones mean a flat or saddle direction:
    they are clipped to a small positive value and reported by the caller).
    """
    problem = result.problem
    neg = lambda z: -problem.log_density(z)  # noqa: E731
    hess = np.asarray(jax.jit(jax.jacfwd(jax.jacfwd(neg)))(jnp.asarray(result.unconstrained)))
    hess = 0.5 * (hess + hess.T)
    eigval, eigvec = np.linalg.eigh(hess)
    clipped = np.maximum(eigval, 1e-6)
    cov = (eigvec / clipped) @ eigvec.T
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(result.unconstrained, cov, size=n, method="eigh")
    draws = {k: np.asarray(v) for k, v in problem.constrain(z).items()}
    return draws, eigval
