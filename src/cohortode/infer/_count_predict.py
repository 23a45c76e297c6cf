"""Per-draw predictions of a count fit for one cohort: expected fraction, expected and replicated observed counts.

Shared by :meth:`cohortode.infer.CountFit.predict` (plain quantiles) and :class:`cohortode.Ensemble` (weighted
quantiles of a mixture, counterfactuals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..likelihood._count import TOLERANCE
from ..likelihood._layout import CohortLayout

__all__ = ["CountDraws", "count_draws"]


@dataclass(frozen=True)
class CountDraws:
    """Draws of one observable of one cohort, each array of shape ``(draw, time)``.

    Attributes
    ----------
    observable
        Its name.
    population
        Population of the observable's last data row in the cohort (NaN without one).
    fraction
        The model's expected fraction (all NaN without a population).
    expected
        Expected observed count: ``reporting * population * fraction`` (or the model's count without a population).
    observed
        One replicated observed count per draw and time (the observation model's noise).
    """

    observable: str
    population: float
    fraction: np.ndarray
    expected: np.ndarray
    observed: np.ndarray


def count_draws(fit, layout: CohortLayout, times: tuple[float, ...], flat: Mapping[str, np.ndarray],
                rng: np.random.Generator, *, after: Mapping[str, np.ndarray] | None = None,
                change_time: float | None = None) -> list[CountDraws]:
    """Per-draw predictions of every observed observable of ``layout``'s cohort at ``times``.

    Parameters
    ----------
    fit
        A :class:`~cohortode.infer.CountFit`.
    layout
        The cohort's layout (its doses and covariates may have been replaced).
    times
        Sorted, unique prediction times.
    flat
        Site -> draws ``(S,)``.
    rng
        Source of the replicated counts (drawn observable after observable, in data order).
    after, change_time
        Site -> draws that apply from ``change_time`` on (the state is carried over at that time); both or neither.

    Returns
    -------
    list of CountDraws
        One per observable with data rows in the cohort, in the likelihood's order.
    """
    lik = fit.likelihood
    values = {k: jnp.asarray(v) for k, v in flat.items()}
    if after is None:
        pred = jax.jit(jax.vmap(lambda v: lik.expected(v, layout, times)))(values)
    else:
        changed = {k: jnp.asarray(v) for k, v in after.items()}
        pred = jax.jit(jax.vmap(lambda v, w: lik.expected(v, layout, times, after=w, change_time=change_time)))(
            values, changed)
    pred = np.asarray(pred)
    obs = fit.data.observations
    names = list(fit.model.observable_names)
    out = []
    for noise in lik.noise:
        mine = obs.iloc[noise.rows]
        mine = mine[mine["cohort"] == layout.name]
        if not len(mine):
            continue
        population = float(mine["population"].iloc[-1])
        f = pred[:, :, names.index(noise.observable)]
        if np.isfinite(population):
            f = np.where(np.abs(f - np.clip(f, 0, 1)) <= TOLERANCE, np.clip(f, 0, 1), f)
        rho = np.asarray(flat[noise.reporting])[:, None] if noise.reporting else 1.0
        mu = rho * (population if np.isfinite(population) else 1.0) * f
        params = {p: np.asarray(flat[site])[:, None] for p, site in noise.sites.items()}
        observed = noise.model.sample(rng, np.full(mu.shape[1], population), mu, params)
        fraction = f if np.isfinite(population) else np.full_like(f, np.nan)
        out.append(CountDraws(noise.observable, population, fraction, mu, observed))
    return out
