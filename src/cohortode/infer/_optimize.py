"""Multi-start MAP optimisation and the Laplace approximation, in NumPyro's unconstrained space."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import initialize_model
from numpyro.infer import init_to_median
from scipy.optimize import minimize

__all__ = ["MapResult", "find_map", "laplace_draws"]


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
        Log joint density (unconstrained, with Jacobian) at the optimum.
    all_log_densities
        One per start (``-inf`` where a start failed), for checking multi-modality.
    """

    values: dict[str, float]
    unconstrained: np.ndarray
    log_density: float
    all_log_densities: list[float]
    potential: object
    unravel: object
    postprocess: object


def _setup(model, seed: int, strategy):
    info = initialize_model(jax.random.PRNGKey(seed), model, init_strategy=strategy, dynamic_args=False,
                            forward_mode_differentiation=True)
    z0, unravel = ravel_pytree(info.param_info.z)
    potential = jax.jit(lambda z: info.potential_fn(unravel(z)))
    return z0, unravel, potential, info.postprocess_fn


def _forward_value_and_grad(f, dim: int):
    """Value and gradient of a scalar function by forward mode: one primal and ``dim`` tangents, batched."""
    basis = jnp.eye(dim)

    def vg(z):
        value, tangents = jax.vmap(lambda v: jax.jvp(f, (z,), (v,)), out_axes=(None, 0))(basis)
        return value, tangents
    return vg


def find_map(model, *, n_starts: int = 8, seed: int = 0, maxiter: int = 500) -> MapResult:
    """Maximise the log posterior from the prior medians and ``n_starts - 1`` random starts.

    Gradients are forward-mode (faster than reverse mode through an ODE solve with few parameters). Starts whose
    density is not finite are skipped; the best finite optimum wins.
    """
    z_med, unravel, potential, post = _setup(model, seed, init_to_median(num_samples=15))
    value_and_grad = jax.jit(_forward_value_and_grad(potential, z_med.shape[0]))
    rng = np.random.default_rng(seed)
    z_med = np.asarray(z_med)
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
        if not np.isfinite(float(potential(z0))):
            all_v.append(-np.inf)
            continue
        res = minimize(fun, z0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
        v = float(potential(res.x))
        all_v.append(-v if np.isfinite(v) else -np.inf)
        if np.isfinite(v) and v < best_v:
            best_z, best_v = res.x, v
    if best_z is None:
        raise FloatingPointError("no start gave a finite posterior density; the structure cannot be fitted here")
    values = {k: float(np.asarray(v)) for k, v in post(unravel(jnp.asarray(best_z))).items()}
    return MapResult(values, np.asarray(best_z), -best_v, all_v, potential, unravel, post)


def laplace_draws(result: MapResult, n: int = 1000, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws from the Gaussian at the MAP with covariance the inverse Hessian (unconstrained space).

    Returns the constrained draws and the Hessian's eigenvalues (non-positive ones mean a flat or saddle direction:
    they are clipped to a small positive value and reported by the caller).
    """
    hess = np.asarray(jax.jit(jax.jacfwd(jax.jacfwd(result.potential)))(jnp.asarray(result.unconstrained)))
    hess = 0.5 * (hess + hess.T)
    eigval, eigvec = np.linalg.eigh(hess)
    clipped = np.maximum(eigval, 1e-6)
    cov = (eigvec / clipped) @ eigvec.T
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(result.unconstrained, cov, size=n, method="eigh")
    post = jax.jit(jax.vmap(lambda zz: result.postprocess(result.unravel(zz))))
    draws = {k: np.asarray(v) for k, v in post(jnp.asarray(z)).items()}
    return draws, eigval
