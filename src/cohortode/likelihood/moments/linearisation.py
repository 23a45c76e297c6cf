"""First-order linearisation around the typical individual."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import MomentEngine, Moments

__all__ = ["Linearisation"]


class Linearisation(MomentEngine):
    """First-order (FO) approximation: mean ``f(0)``, variance ``sum_j (df/deta_j * omega_j)**2``.

    Cheapest (one evaluation and one forward-mode Jacobian), but biased by design: the mean of a nonlinear function
    of log-normal parameters is not its value at the typical parameters. Useful for screening.
    """

    name = "fo"

    def n_points(self, d: int) -> int:
        return d + 1

    def moments(self, f, omega) -> Moments:
        d = omega.shape[0]
        zero = jnp.zeros(d)
        mean = f(zero)
        if d == 0:
            return Moments(mean, jnp.zeros_like(mean), mean**2)
        jac = jax.jacfwd(f)(zero)  # shape (*out, d)
        var = jnp.sum((jac * omega) ** 2, axis=-1)
        return Moments(mean, var, var + mean**2)
