"""The observation-model interface: the distribution of an observed count given its expected value."""

from __future__ import annotations

import abc
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from ...spec import Prior

__all__ = ["ObservationModel"]


class ObservationModel(abc.ABC):
    """Distribution of an observed count ``k`` of a population of ``N`` given its expected value ``mu``.

    ``mu`` is the expected observed count: the ODE's expected fraction times ``N`` (times the reporting fraction,
    where one is estimated), or the ODE's expected count itself when no population is given. Implementations are
    stateless; their own parameters (e.g. an overdispersion) come in ``params`` as per-row arrays, keyed by the names
    in :attr:`parameters`.
    """

    name: str = "base"
    needs_population: bool = False
    """Whether each row needs its population size ``N`` (the binomial does)."""
    parameters: tuple[str, ...] = ()
    """Names of the model's own parameters; one sampled site ``<name>_<observable>`` per observable."""

    def default_priors(self) -> dict[str, Prior]:
        """Weakly informative prior of each parameter in :attr:`parameters`."""
        return {}

    @abc.abstractmethod
    def log_prob(self, k: jnp.ndarray, population: jnp.ndarray, mu: jnp.ndarray,
                 params: Mapping[str, jnp.ndarray]) -> jnp.ndarray:
        """Log probability of each observed count (all arguments broadcast; ``k`` may be non-integer, see notes).

        Implementations return ``-inf`` where ``mu`` is outside the support (negative, or above ``N``).
        """

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator, population: np.ndarray, mu: np.ndarray,
               params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Draw observed counts (NumPy; ``mu`` may hold NaN where a solve failed, giving NaN)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
