"""The :class:`Ensemble`: weighted fitted structures, their mixture predictions and counterfactual simulations."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..infer import CountFit, Fit
from ..spec import ODEModel
from ._counterfactual import Counterfactual
from ._count_mixture import count_mixture
from ._mixture import cohort_size, observed_mean_draws, weighted_quantile
from ._regimen import ParameterChange, Regimen, apply_changes

__all__ = ["Ensemble", "Member"]

WEIGHT_TOLERANCE = 1e-6
"""Weights must sum to 1 within this tolerance (they are then normalised exactly)."""


@dataclass
class Member:
    """One structure of an ensemble: its name, fit and weight."""

    name: str
    fit: Fit
    weight: float

    @property
    def model(self) -> ODEModel:
        """The member's structure."""
        return self.fit.model


class Ensemble:
    """Fitted structures with weights (e.g. stacking weights from :func:`~cohortode.compare`).

    Parameters
    ----------
    members
        The members; weights must be >= 0 and sum to 1.
    provenance
        Free-form facts recorded in the saved manifest (e.g. ``{"llm": "Qwen2.5-7B"}``); data hash, seeds,
        package versions and creation time are added by :meth:`save`.
    """

    def __init__(self, members: Sequence[Member], provenance: Mapping[str, Any] | None = None):
        members = list(members)
        if not members:
            raise ValueError("an Ensemble needs at least one member")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be unique, got {names}")
        w = np.array([float(m.weight) for m in members])
        if np.any(~np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"member weights must be >= 0 and sum to 1, got {w.tolist()}")
        w = w / w.sum()
        self.members = [Member(m.name, m.fit, float(wi)) for m, wi in zip(members, w)]
        self.provenance = dict(provenance or {})
        self.saved_provenance: dict[str, Any] | None = None
        """The manifest's provenance when the ensemble was read by :meth:`load`."""

    @classmethod
    def from_fits(cls, fits: Mapping[str, Fit], weights: Mapping[str, float] | Sequence[float],
                  provenance: Mapping[str, Any] | None = None) -> Ensemble:
        """An ensemble from fits by name and their weights (by name, or in the fits' order)."""
        names = list(fits)
        ws = [weights[n] for n in names] if isinstance(weights, Mapping) else list(weights)
        if len(ws) != len(names):
            raise ValueError(f"{len(ws)} weights for {len(names)} fits")
        return cls([Member(n, fits[n], float(w)) for n, w in zip(names, ws)], provenance)

    # ------------------------------------------------------------------------------------------------ views
    @property
    def weights(self) -> dict[str, float]:
        """Weight by member name."""
        return {m.name: m.weight for m in self.members}

    def table(self) -> pd.DataFrame:
        """One row per member: name, weight, equations, method, number of sampled sites, structure hash."""
        return pd.DataFrame([{"name": m.name, "weight": m.weight, "equations": "; ".join(m.model.equations()),
                              "method": m.fit.method, "n_parameters": m.fit.problem.dimension,
                              "structure_hash": m.model.structure_hash} for m in self.members])

    def summary(self, level: float = 0.9) -> pd.DataFrame:
        """Posterior summary of every member's parameters (:meth:`Fit.summary`), with ``member`` and ``weight``."""
        frames = []
        for m in self.members:
            s = m.fit.summary(level).reset_index()
            s.insert(0, "weight", m.weight)
            s.insert(0, "member", m.name)
            frames.append(s)
        return pd.concat(frames, ignore_index=True)

    # ---------------------------------------------------------------------------------------- predictions
    @property
    def counts(self) -> bool:
        """Whether the members are fits to counts (:class:`~cohortode.infer.CountFit`)."""
        return isinstance(self.members[0].fit, CountFit)

    def predict(self, times: Sequence[float] | None = None, cohort: str | None = None, *, level: float = 0.9,
                max_draws: int = 200, seed: int = 0, n: float | None = None) -> pd.DataFrame:
        """Mixture predictions at ``times``, with bands at ``level``.

        Each member contributes its posterior draws (at most ``max_draws``, chosen as in :meth:`Fit.predict`)
        with total weight equal to its ensemble weight; medians and bands are weighted quantiles of the mixture.
        Columns as :meth:`Fit.predict`: ``cohort, observable, time, mean, mean_lower, mean_upper, sd, sd_lower,
        sd_upper, observed_mean_lower, observed_mean_upper`` (the last two: the predictive band of the mean a cohort
        of ``n`` subjects would report, ``n`` by default the median size of the cohort's rows); for fits to counts as :meth:`CountFit.predict <cohortode.infer.CountFit.predict>`: ``cohort,
        observable, time, population``, ``fraction`` and ``expected`` (expected fraction and expected observed
        count) with their ``_lower``/``_upper`` bands, and ``observed_lower``/``observed_upper`` (predictive
        interval of an observed count).
        """
        return self.simulate(times, cohort=cohort, level=level, max_draws=max_draws, seed=seed, n=n)

    def simulate(self, times: Sequence[float] | None = None, *, regimen: Regimen | None = None,
                 changes: Mapping[str, ParameterChange] | None = None, changes_from: float | None = None,
                 covariates: Mapping[str, float] | None = None, cohort: str | None = None, level: float = 0.9,
                 max_draws: int = 200, seed: int = 0, n: float | None = None) -> pd.DataFrame:
        """Counterfactual mixture predictions: a new regimen, changed parameters or changed covariates.

        Parameters
        ----------
        times
            Prediction times (default: 50 points up to the cohort's last observation time).
        regimen
            Replaces the cohort's doses (:class:`Regimen`).
        changes
            Typical values to change, by parameter name: a number multiplies every draw (``{"ke": 0.5}`` halves
            ke), :class:`Absolute` sets it (``{"ke": Absolute(0.1)}``).
        changes_from
            The time from which ``changes`` apply (e.g. ``{"beta": 0.5}`` from day 5: a contact rate halved from
            then on). The solve is cut there and continues from the state reached with the fitted values, so
            predictions before it are the fitted ones. ``None`` (default): from the start, initial state included.
        covariates
            Covariate values to use instead of the cohort's, by name.
        cohort
            One cohort (its doses and covariates are the starting point); ``None`` gives every cohort.
        level, max_draws, seed, n
            As in :meth:`predict` (``n`` is not used for fits to counts).

        Returns
        -------
        pandas.DataFrame
            With the columns of :meth:`predict`.
        """
        if changes_from is not None:
            if not changes:
                raise ValueError("changes_from needs changes (the parameters that change at that time)")
            if not np.isfinite(float(changes_from)):
                raise ValueError(f"changes_from must be a finite time, got {changes_from!r}")
        first = self.members[0].fit
        kinds = {isinstance(m.fit, CountFit) for m in self.members}
        if len(kinds) > 1:
            raise ValueError("an ensemble mixes fits to counts with fits to mean/SD/n tables; their predictions "
                             "are different quantities and cannot be mixed")
        cohorts = [lay.name for lay in first.likelihood.layouts if cohort is None or lay.name == cohort]
        if not cohorts:
            raise ValueError(f"unknown cohort {cohort!r}; cohorts are "
                             f"{[lay.name for lay in first.likelihood.layouts]}")
        members = [m for m in self.members if m.weight > 0.0]
        inputs = Counterfactual(times, regimen, changes, None if changes_from is None else float(changes_from),
                                covariates)
        if self.counts:
            return count_mixture(members, cohorts, inputs, level=level, max_draws=max_draws, seed=seed)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        observables = first.model.observable_names
        frames = []
        for name in cohorts:
            means, sds, weights, ts = [], [], [], None
            for m in members:
                mean, sd, ts = _member_draws(m.fit, name, inputs, max_draws, seed, observables)
                means.append(mean)
                sds.append(sd)
                weights.append(np.full(mean.shape[0], m.weight / mean.shape[0]))
            mean, sd, w = np.concatenate(means), np.concatenate(sds), np.concatenate(weights)
            observed = observed_mean_draws(mean, sd, cohort_size(first.data, name, n), seed)
            for j, obs_name in enumerate(observables):
                frames.append(pd.DataFrame({
                    "cohort": name, "observable": obs_name, "time": ts,
                    "mean": weighted_quantile(mean[:, :, j], w, 0.5),
                    "mean_lower": weighted_quantile(mean[:, :, j], w, lo),
                    "mean_upper": weighted_quantile(mean[:, :, j], w, hi),
                    "sd": weighted_quantile(sd[:, :, j], w, 0.5),
                    "sd_lower": weighted_quantile(sd[:, :, j], w, lo),
                    "sd_upper": weighted_quantile(sd[:, :, j], w, hi),
                    "observed_mean_lower": weighted_quantile(observed[:, :, j], w, lo),
                    "observed_mean_upper": weighted_quantile(observed[:, :, j], w, hi),
                }))
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------------------------------- storage
    def save(self, path: str | os.PathLike) -> Path:
        """Write the ensemble to the folder ``path``: ``manifest.json`` and one :meth:`Fit.save` folder per member.

        The manifest holds the weights and provenance: data hash, each member's seed, package versions, the
        language model used (from ``provenance["llm"]``, else ``None``), creation time, and ``provenance``.
        """
        from ._io import save_ensemble

        return save_ensemble(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Ensemble:
        """Read an ensemble written by :meth:`save` (damaged files raise :class:`~cohortode.CohortodeError`)."""
        from ._io import load_ensemble

        return load_ensemble(path)

    def __repr__(self) -> str:
        parts = ", ".join(f"{m.name}: {m.weight:.3f}" for m in self.members)
        return f"Ensemble({parts})"


def _member_draws(fit: Fit, cohort: str, inputs: Counterfactual, max_draws: int, seed: int, observables):
    """Per-draw predicted mean and SD ``(draw, time, observable)`` of one member for one cohort."""
    lik = fit.likelihood
    layout = inputs.layout(fit, cohort)
    ts = inputs.prediction_times(layout)
    draws = fit._flat_draws(max_draws, seed)
    changed = apply_changes(draws, inputs.changes, fit.model.parameter_names)
    missing = [o for o in observables if o not in fit.model.observable_names]
    if missing:
        raise ValueError(f"member {fit.model!r} lacks observables {missing}")
    index = [fit.model.observable_names.index(o) for o in observables]
    if inputs.changes_from is None:
        flat = {k: jnp.asarray(v) for k, v in changed.items()}

        def one(values):
            m, total = lik.moments(values, layout, ts)
            return m.mean, jnp.sqrt(jnp.maximum(total, 0.0))
        mean, sd = (np.asarray(a)[:, :, index] for a in jax.jit(jax.vmap(one))(flat))
    else:
        before = {k: jnp.asarray(v) for k, v in draws.items()}
        after = {k: jnp.asarray(v) for k, v in changed.items()}

        def switched(values, later):
            m, total = lik.moments(values, layout, ts, after=later, change_time=inputs.changes_from)
            return m.mean, jnp.sqrt(jnp.maximum(total, 0.0))
        mean, sd = (np.asarray(a)[:, :, index] for a in jax.jit(jax.vmap(switched))(before, after))
    return mean, sd, ts
