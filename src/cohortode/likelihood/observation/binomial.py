r"""Binomial observations: :math:`k \sim \mathrm{Binomial}(N, \mu / N)`."""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlog1py, xlogy

from .base import ObservationModel

__all__ = ["Binomial"]


class Binomial(ObservationModel):
    r"""Count ``k`` of a population of ``N`` in a state, each member independently with probability :math:`p = \mu/N`.

    Notes
    -----
    :math:`\log P(k) = \log\binom{N}{k} + k \log p + (N - k) \log(1 - p)`, with the binomial coefficient through
    :math:`\Gamma`, so a fraction times ``N`` that is not a whole number (a rounded published fraction) is accepted:
    the kernel in ``p`` is exact and the constant depends on the data only.
    """

    name = "binomial"
    needs_population = True

    def log_prob(self, k, population, mu, params: Mapping[str, jnp.ndarray]):
        n = population
        ok = jnp.isfinite(mu) & (mu >= 0) & (mu <= n)
        p = jnp.where(ok, mu / n, 0.5)
        ll = (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + xlogy(k, p) + xlog1py(n - k, -p))
        return jnp.where(ok, ll, -jnp.inf)

    def sample(self, rng, population, mu, params):
        ok = np.isfinite(mu)
        p = np.clip(np.where(ok, mu / population, 0.0), 0.0, 1.0)
        draws = rng.binomial(np.round(population).astype(np.int64), p).astype(float)
        return np.where(ok, draws, np.nan)
