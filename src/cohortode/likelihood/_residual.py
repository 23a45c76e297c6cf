"""Residual (within-subject) error models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax.numpy as jnp

__all__ = ["ResidualError", "ErrorKind"]

ErrorKind = Literal["additive", "proportional", "combined"]


@dataclass(frozen=True)
class ResidualError:
    """Residual error of one observation around the individual prediction ``f``.

    ``"additive"``: ``y = f + e_a``; ``"proportional"``: ``y = f (1 + e_p)``; ``"combined"``: both, independent,
    with ``e_a ~ N(0, sigma_add^2)`` and ``e_p ~ N(0, sigma_prop^2)``. Averaged over the population, the residual adds
    ``sigma_add^2 + sigma_prop^2 E[f^2]`` to the cohort variance.
    """

    kind: ErrorKind = "combined"

    def __post_init__(self) -> None:
        if self.kind not in ("additive", "proportional", "combined"):
            raise ValueError(f"unknown residual error {self.kind!r}; use 'additive', 'proportional' or 'combined'")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the residual SD parameters."""
        return {"additive": ("sigma_add",), "proportional": ("sigma_prop",),
                "combined": ("sigma_add", "sigma_prop")}[self.kind]

    def variance(self, sigmas: dict[str, jnp.ndarray], second_moment: jnp.ndarray) -> jnp.ndarray:
        """Residual variance added to the cohort variance, given ``E[f^2]``."""
        var = jnp.zeros_like(second_moment)
        if "sigma_add" in sigmas:
            var = var + sigmas["sigma_add"] ** 2
        if "sigma_prop" in sigmas:
            var = var + sigmas["sigma_prop"] ** 2 * second_moment
        return var
