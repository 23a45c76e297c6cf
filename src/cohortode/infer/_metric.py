"""The starting metric (inverse mass matrix) of NUTS: the Laplace covariance at the MAP, or the draws' covariance.

NumPyro's NUTS starts its warm-up from the identity and adapts a diagonal metric. On weakly identified ODE posteriors
(a Michaelis-Menten elimination whose Km and Vmax trade off) the correlated directions then force trees of 100-250
leapfrog steps, each a full ODE solve. Starting a dense, adapted metric from the inverse Hessian of the negative log
posterior at the MAP (which the MAP search makes cheap: a few gradient evaluations by central differences) puts the
sampler in the right geometry from the first iteration; warm-up still adapts it (a Gaussian guess is only a start:
a fixed Laplace metric mixed badly on the one-compartment theophylline posterior, whose variance components are far
from Gaussian). Measured on theophylline (``sigma`` engine, one chain, seed 0, ESS of the
worst parameter per 1000 gradient evaluations): one compartment with Michaelis-Menten elimination 0.95 (identity,
diagonal) -> 3.7 (Laplace, dense, adapted), at about 6 ms per gradient through Tsit5. On the exact linear path it did
not pay: 4 chains x 500 draws on theophylline and on the synthetic one-compartment cohort gave min bulk ESS 348-432
and 207-356 against 586-688 and 528-624 with the identity start (seeds 0 and 1). So ``fit(mass_matrix="auto")``
uses it for structures solved by an ODE solver only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inverse_mass_from_hessian", "inverse_mass_from_draws", "MAX_VARIANCE"]

MAX_VARIANCE = 10.0
"""Largest variance the starting metric gives any direction of the unconstrained space (a flat direction of the
Hessian, e.g. a variance component at its boundary, would otherwise get an absurd scale)."""
MIN_VARIANCE = 1e-8


def inverse_mass_from_hessian(hessian: np.ndarray | None) -> np.ndarray | None:
    """Inverse of a Hessian of the negative log posterior, eigenvalues clipped to a sane range.

    Returns ``None`` (start from NumPyro's identity) when the Hessian is missing or not finite.
    """
    if hessian is None:
        return None
    h = np.asarray(hessian, dtype=float)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or not np.all(np.isfinite(h)):
        return None
    eigval, eigvec = np.linalg.eigh(0.5 * (h + h.T))
    variance = 1.0 / np.clip(eigval, 1.0 / MAX_VARIANCE, 1.0 / MIN_VARIANCE)
    return (eigvec * variance) @ eigvec.T


def inverse_mass_from_draws(z: np.ndarray) -> np.ndarray | None:
    """Covariance of unconstrained draws ``(chain, draw, site)`` pooled over chains (clipped as above)."""
    flat = np.reshape(np.asarray(z, dtype=float), (-1, np.shape(z)[-1]))
    if flat.shape[0] < 2 * flat.shape[1] or not np.all(np.isfinite(flat)):
        return None
    cov = np.atleast_2d(np.cov(flat, rowvar=False))
    eigval, eigvec = np.linalg.eigh(0.5 * (cov + cov.T))
    return (eigvec * np.clip(eigval, MIN_VARIANCE, MAX_VARIANCE)) @ eigvec.T
