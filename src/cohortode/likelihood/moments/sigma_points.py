"""Sigma points (the unscented transform)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import PATIENT_AXIS, MomentEngine, Moments, weighted_moments

__all__ = ["SigmaPoints"]


class SigmaPoints(MomentEngine):
    r"""Symmetric sigma points: ``2d + 1`` evaluations.

    Points ``0`` and ``\pm \sqrt{d + \kappa}\,\omega_j e_j`` with weights ``\kappa/(d+\kappa)`` and
    ``1/(2(d+\kappa))``. They match the mean and covariance of the Gaussian exactly, and with ``kappa = 3 - d`` also
    its fourth moments along each axis (Julier & Uhlmann 2004, Proc. IEEE 92:401). For ``d > 3`` that choice gives
    a negative centre weight, so for ``d > 3`` ``kappa = kappa_min`` (default 0.5) keeps all weights positive.

    With ``degree=5`` (for ``d <= 4``) the rule is Stroud's fully symmetric degree-5 rule (Stroud 1971, rule
    5-2; McNamee & Stenger 1967) with ``2 d**2 + 1`` points: the centre, ``\pm\sqrt{3} e_i`` and
    ``\pm\sqrt{3} e_i \pm \sqrt{3} e_j``. It integrates every polynomial of degree 5 exactly, including the cross
    terms that the axis-only points miss (e.g. ``exp(eta_V) * g(eta_ka, eta_ke)``): on the one-compartment oral model
    the variance moves from within about 6% of a large Monte Carlo reference to within 0.5%.

    Parameters
    ----------
    kappa
        Spread parameter of the degree-3 rule; ``None`` uses ``3 - d`` for ``d <= 3``, else ``kappa_min``.
    degree
        3 (``2d + 1`` points) or 5 (``2 d**2 + 1`` points, for ``d <= 4``; larger ``d`` falls back to degree 3
        because the axis weights turn negative).
    """

    name = "sigma"
    batch_axis = PATIENT_AXIS

    def __init__(self, kappa: float | None = None, kappa_min: float = 0.5, degree: int = 3):
        if degree not in (3, 5):
            raise ValueError(f"degree must be 3 or 5, got {degree}")
        self.kappa = kappa
        self.kappa_min = kappa_min
        self.degree = degree

    def points(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit points ``(P, d)`` and weights ``(P,)``."""
        if self.degree == 5 and d <= 4:
            return _degree5_points(d)
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
        return 2 * d * d + 1 if (self.degree == 5 and d <= 4) else 2 * d + 1

    def moments(self, f, omega) -> Moments:
        d = omega.shape[0]
        if d == 0:
            v = jax.vmap(f, axis_name=self.batch_axis)(jnp.zeros((1, 0)))[0]
            return Moments(v, jnp.zeros_like(v), v**2)
        pts, w = self.points(d)
        values = jax.vmap(f, axis_name=self.batch_axis)(jnp.asarray(pts) * omega)
        return weighted_moments(values, jnp.asarray(w))


def _degree5_points(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Stroud's symmetric degree-5 rule for the standard normal in ``d`` dimensions."""
    r = np.sqrt(3.0)
    pts = [np.zeros(d)]
    w = [1.0 + (d * d - 7.0 * d) / 18.0]
    for i in range(d):
        for sign in (1.0, -1.0):
            p = np.zeros(d)
            p[i] = sign * r
            pts.append(p)
            w.append((4.0 - d) / 18.0)
    for i in range(d):
        for j in range(i + 1, d):
            for si in (1.0, -1.0):
                for sj in (1.0, -1.0):
                    p = np.zeros(d)
                    p[i], p[j] = si * r, sj * r
                    pts.append(p)
                    w.append(1.0 / 36.0)
    return np.array(pts), np.array(w)
