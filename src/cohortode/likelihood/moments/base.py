"""The moment-engine interface: cohort mean and variance of a prediction under random effects."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp

__all__ = ["MomentEngine", "Moments", "PATIENT_AXIS"]

PATIENT_AXIS = "virtual_patients"
"""Name of the ``vmap`` axis over virtual patients in the sampling engines (collectives may reduce over it)."""


class Moments(NamedTuple):
    """Moments over the population of a prediction ``f(eta)``.

    Attributes
    ----------
    mean
        ``E[f]``.
    var
        ``Var[f]`` (between-subject variance of the noise-free prediction).
    second
        ``E[f^2]`` (needed by proportional residual error).
    """

    mean: jnp.ndarray
    var: jnp.ndarray
    second: jnp.ndarray


class MomentEngine(abc.ABC):
    """Predicts the population mean and variance of ``f(eta)``, ``eta ~ Normal(0, diag(omega**2))``."""

    name: str = "base"
    batch_axis: str | None = None
    """Name of the ``vmap`` axis under which the engine evaluates ``f`` (``None``: ``f`` is not vmapped by name).
    ``f`` may use it in collectives such as ``lax.pmax``, e.g. to pick one numerical branch for the whole batch."""

    @abc.abstractmethod
    def moments(self, f: Callable[[jnp.ndarray], jnp.ndarray], omega: jnp.ndarray) -> Moments:
        """Moments of ``f`` over the random effects.

        Parameters
        ----------
        f
            Maps a random-effect vector ``eta`` of shape ``(d,)`` to predictions of any shape.
        omega
            Standard deviations of the random effects, shape ``(d,)``.
        """

    def n_points(self, d: int) -> int:
        """Number of evaluations of ``f`` per call (a cost measure)."""
        return 0


def weighted_moments(values: jnp.ndarray, weights: jnp.ndarray) -> Moments:
    """Moments of point values (first axis: points) under weights that sum to one."""
    w = weights.reshape((-1,) + (1,) * (values.ndim - 1))
    mean = jnp.sum(w * values, axis=0)
    var = jnp.maximum(jnp.sum(w * (values - mean) ** 2, axis=0), 0.0)
    return Moments(mean, var, var + mean**2)
