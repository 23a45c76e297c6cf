r"""Poisson observations: :math:`k \sim \mathrm{Poisson}(\mu)`."""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy

from .base import ObservationModel

__all__ = ["Poisson"]


class Poisson(ObservationModel):
    r"""Counts with variance equal to their mean: :math:`\log P(k) = k \log\mu - \mu - \log k!`."""

    name = "poisson"

    def log_prob(self, k, population, mu, params: Mapping[str, jnp.ndarray]):
        ok = jnp.isfinite(mu) & (mu >= 0)
        m = jnp.where(ok, mu, 1.0)
        ll = xlogy(k, m) - m - gammaln(k + 1)
        return jnp.where(ok, ll, -jnp.inf)

    def sample(self, rng, population, mu, params):
        ok = np.isfinite(mu)
        draws = rng.poisson(np.where(ok, np.maximum(mu, 0.0), 0.0)).astype(float)
        return np.where(ok, draws, np.nan)
