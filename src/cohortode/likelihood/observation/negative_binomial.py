r"""Negative-binomial observations: mean :math:`\mu`, variance :math:`\mu + \alpha \mu^2`."""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy

from ...spec import Prior
from .base import ObservationModel

__all__ = ["NegativeBinomial", "DEFAULT_OVERDISPERSION_PRIOR"]

DEFAULT_OVERDISPERSION_PRIOR = Prior.halfnormal(1.0)
r"""Prior of the overdispersion :math:`\alpha`: half of its mass below 0.67 (a coefficient of variation of the count
noise below about 0.8 at large counts), and :math:`\alpha \to 0` (Poisson) allowed."""


class NegativeBinomial(ObservationModel):
    r"""Overdispersed counts (the "NB2" parameterisation, Grinsztajn et al. 2021 call :math:`\alpha` ``1/phi``).

    With :math:`r = 1/\alpha`:
    :math:`\log P(k) = \log\Gamma(k + r) - \log\Gamma(r) - \log k! + r \log\frac{r}{r + \mu} + k \log\frac{\mu}{r+\mu}`.
    The overdispersion :math:`\alpha` is the sampled site ``overdispersion_<observable>``.
    """

    name = "negative_binomial"
    parameters = ("overdispersion",)

    def default_priors(self) -> dict[str, Prior]:
        return {"overdispersion": DEFAULT_OVERDISPERSION_PRIOR}

    def log_prob(self, k, population, mu, params: Mapping[str, jnp.ndarray]):
        alpha = params["overdispersion"]
        ok = jnp.isfinite(mu) & (mu >= 0) & jnp.isfinite(alpha) & (alpha > 0)
        m = jnp.where(ok, mu, 1.0)
        r = 1.0 / jnp.where(ok, alpha, 1.0)
        ll = (gammaln(k + r) - gammaln(r) - gammaln(k + 1) + r * (jnp.log(r) - jnp.log(r + m))
              + xlogy(k, m) - xlogy(k, r + m))
        return jnp.where(ok, ll, -jnp.inf)

    def sample(self, rng, population, mu, params):
        alpha = np.asarray(params["overdispersion"], dtype=float)
        ok = np.isfinite(mu) & np.isfinite(alpha) & (alpha > 0)
        m = np.where(ok, np.maximum(mu, 0.0), 0.0)
        r = 1.0 / np.where(ok, alpha, 1.0)
        rate = rng.gamma(r, np.where(r > 0, m / r, 0.0))  # gamma-Poisson mixture
        draws = rng.poisson(rate).astype(float)
        return np.where(ok, draws, np.nan)
