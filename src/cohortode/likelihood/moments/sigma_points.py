"""Sigma points (the unscented transform)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import MomentEngine, Moments, weighted_moments

__all__ = ["SigmaPoints"]


class SigmaPoints(MomentEngine):
    r"""Symmetric sigma points: ``2d + 1`` evaluations.

    Points ``0`` and ``\pm \sqrt{d + \kappa}\,\omega_j e_j`` with weights ``\kappa/(d+\kappa)`` and
    ``1/(2(d+\kappa))``. They match the mean and covariance of the Gaussian exactly, and with ``kappa = 3 - d`` also
    its fourth moments along each axis (Julier & Uhlmann 2004, Proc. IEEE 92:401). For ``d > 3`` that choice gives
    a negative centre weight, so for ``d > 3`` ``kappa = kappa_min`` (default 0.5) keeps all weights positive.

    Parameters
    ----------
    kappa
        Spread parameter; ``None`` uses ``3 - d`` for ``d <= 3``, else ``kappa_min``.
    """

    name = "sigma"

    def __init__(self, kappa: float | None = None, kappa_min: float = 0.5):
        self.kappa = kappa
        self.kappa_min = kappa_min

    def points(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit points ``(2d+1, d)`` and weights ``(2d+1,)``."""
        kappa = self.kappa if self.kappa is not None else (3.0 - d if d <= 3 else self.kappa_min)
        scale = np.sqrt(d + kappa)
        pts = np.zeros((2 * d + 1, d))
        for j in range(d):
            pts[1 + j, j] = scale
            pts[1 + d + j, j] = -scale
        w = np.full(2 * d + 1, 1.0 / (2 * (d + kappa)))
        w[0] = kappa / (d + kappa)
        return pts, w

    def n_points(self, d: int) -> int:
        return 2 * d + 1

    def moments(self, f, omega) -> Moments:
        d = omega.shape[0]
        if d == 0:
            v = f(jnp.zeros(0))
            return Moments(v, jnp.zeros_like(v), v**2)
        pts, w = self.points(d)
        values = jax.vmap(f)(jnp.asarray(pts) * omega)
        return weighted_moments(values, jnp.asarray(w))
