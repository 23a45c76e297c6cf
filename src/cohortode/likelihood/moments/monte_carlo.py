"""Monte Carlo over fixed quasi-random virtual patients (common random numbers)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm, qmc

from .base import PATIENT_AXIS, MomentEngine, Moments, weighted_moments

__all__ = ["MonteCarlo"]


class MonteCarlo(MomentEngine):
    """Moments from ``n`` virtual patients drawn once from a scrambled Sobol sequence.

    The draws are fixed (common random numbers) so the likelihood is a smooth, deterministic function of the
    parameters, as in the aggregate-data approach of Weber et al. (2018, Ann. Appl. Stat. 12:1583). Points are
    symmetrised (``z`` and ``-z``), which makes the estimated mean exact for any odd part of ``f``.

    Parameters
    ----------
    n
        Number of virtual patients (rounded up to an even power of two).
    seed
        Seed of the Sobol scrambling.
    """

    name = "mc"
    batch_axis = PATIENT_AXIS

    def __init__(self, n: int = 256, seed: int = 0):
        if n < 2:
            raise ValueError(f"MonteCarlo needs n >= 2 virtual patients, got {n}")
        self.n = int(2 ** np.ceil(np.log2(n)))
        self.seed = seed
        self._cache: dict[int, np.ndarray] = {}

    def draws(self, d: int) -> np.ndarray:
        """Standard-normal draws of shape ``(n, d)``."""
        if d not in self._cache:
            sampler = qmc.Sobol(d, scramble=True, rng=np.random.default_rng(self.seed))
            u = sampler.random(self.n // 2)
            z = norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
            self._cache[d] = np.concatenate([z, -z], axis=0)
        return self._cache[d]

    def n_points(self, d: int) -> int:
        return self.n

    def moments(self, f, omega) -> Moments:
        d = omega.shape[0]
        if d == 0:
            v = jax.vmap(f, axis_name=self.batch_axis)(jnp.zeros((1, 0)))[0]
            return Moments(v, jnp.zeros_like(v), v**2)
        values = jax.vmap(f, axis_name=self.batch_axis)(jnp.asarray(self.draws(d)) * omega)
        return weighted_moments(values, jnp.full(self.n, 1.0 / self.n))
