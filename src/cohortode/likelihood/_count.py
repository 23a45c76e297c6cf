r"""The likelihood of counts (or fractions) of one population, one observation model per observable.

For each row (cohort ``c``, time ``t``, observable ``o``) with observed count :math:`k` of a population of
:math:`N`, the ODE solution at the population-level parameters gives the expected fraction :math:`f` (or, without a
population, the expected count). The expected observed count is :math:`\mu = \rho N f` (:math:`\rho`, the reporting
fraction ``reporting_<o>``, is 1 unless the data ask to estimate it), and :math:`k` follows the observable's
observation model (:mod:`cohortode.likelihood.observation`). There are no random effects and no moment engine: the
population is one unit. Rows are kept apart (pointwise) for PSIS-LOO; a failed solve gives ``-inf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel, SolverOptions, compile_model
from ..spec import ODEModel, Prior
from ._layout import CohortLayout, cohort_layout
from .observation import ObservationModel, get_observation_model

__all__ = ["CountLikelihood", "ObservableNoise", "DEFAULT_REPORTING_PRIOR", "REPORTING_PREFIX"]

DEFAULT_REPORTING_PRIOR = Prior.uniform(0.0, 1.0)
"""Prior of a reporting fraction."""
REPORTING_PREFIX = "reporting"
TOLERANCE = 1e-6
"""Expected fractions this far outside [0, 1] (ODE round-off) are clipped to it; farther ones give ``-inf``."""


@dataclass(frozen=True)
class ObservableNoise:
    """How one observable is observed: its observation model, sampled sites and population scale.

    Attributes
    ----------
    observable
        Its name.
    model
        The observation model.
    sites
        Parameter name of the observation model -> sampled site (``overdispersion`` -> ``overdispersion_<o>``).
    reporting
        The site of the reporting fraction, or ``None`` (fraction 1).
    rows
        Data rows of this observable.
    """

    observable: str
    model: ObservationModel
    sites: dict[str, str]
    reporting: str | None
    rows: np.ndarray


class CountLikelihood:
    """Pointwise log-likelihood of a model for a :class:`~cohortode.CountData`.

    Parameters
    ----------
    model
        The structure; its parameters are population-level (IIV declared in the model is not used).
    data
        The count table.
    solver, options
        See :func:`cohortode.compile.compile_model`.

    Notes
    -----
    Parameter values are passed as a mapping from site name to value: the model's parameters under their own names,
    observation-model parameters as ``<parameter>_<observable>`` (e.g. ``overdispersion_cases``) and reporting
    fractions as ``reporting_<observable>``.
    """

    random_effects: tuple[str, ...] = ()
    engine: None = None
    """No moment engine (kept so that a fit's picklable state reads alike for both likelihoods)."""
    error: None = None
    """No residual error: the observation models are the noise."""

    def __init__(self, model: ODEModel, data, *, solver: str = "auto", options: SolverOptions | None = None):
        self.model = model
        self.data = data
        self.compiled: CompiledModel = compile_model(model, solver, options)
        data.check_observables(model.observable_names)
        if len(data.dosing):
            data.check_dose_targets(model.states)
        obs = data.observations
        self.n_rows = len(obs)
        pop = obs["population"].to_numpy(dtype=float)
        self.k = jnp.asarray(obs["count"].to_numpy(dtype=float))
        self.has_population = np.isfinite(pop)
        self.population = jnp.asarray(np.where(self.has_population, pop, np.inf))
        self.scale = jnp.asarray(np.where(self.has_population, pop, 1.0))
        self.layouts: tuple[CohortLayout, ...] = tuple(cohort_layout(model, data, c) for c in data.cohorts)
        self.noise: tuple[ObservableNoise, ...] = tuple(self._noise(o) for o in dict.fromkeys(obs["observable"]))

    def _noise(self, observable: str) -> ObservableNoise:
        obs = self.data.observations
        rows = np.flatnonzero((obs["observable"] == observable).to_numpy())
        model = get_observation_model(str(obs["observation"].iloc[rows[0]]))
        reporting = f"{REPORTING_PREFIX}_{observable}" if bool(obs["reporting"].iloc[rows[0]]) else None
        return ObservableNoise(observable, model, {p: f"{p}_{observable}" for p in model.parameters}, reporting, rows)

    def with_solver(self, solver: str) -> CountLikelihood:
        """The same likelihood solved with ``solver``."""
        return CountLikelihood(self.model, self.data, solver=solver, options=self.compiled.options)

    def observation_priors(self) -> dict[str, Prior]:
        """Default prior of every observation-model and reporting-fraction site."""
        out: dict[str, Prior] = {}
        for noise in self.noise:
            defaults = noise.model.default_priors()
            out.update({site: defaults[p] for p, site in noise.sites.items()})
            if noise.reporting:
                out[noise.reporting] = DEFAULT_REPORTING_PRIOR
        return out

    # ------------------------------------------------------------------------------------------------ pieces
    def theta(self, values: Mapping[str, jnp.ndarray]) -> jnp.ndarray:
        """The model's parameters in model order."""
        return jnp.stack([jnp.asarray(values[n], dtype=jnp.float64) for n in self.model.parameter_names])

    def expected(self, values: Mapping[str, jnp.ndarray], layout: CohortLayout,
                 times: tuple[float, ...] | None = None, *, after: Mapping[str, jnp.ndarray] | None = None,
                 change_time: float | None = None, substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """The model's observables (expected fraction, or count) at ``times``, shape ``(times, observables)``.

        ``after`` (site values) replaces ``values`` from ``change_time`` on (see
        :meth:`cohortode.compile.CompiledModel.simulate`); ``substeps`` refines the fixed grid of the ``"rk4"`` path.
        """
        times = layout.times if times is None else times
        return self.compiled.simulate(self.theta(values), jnp.asarray(layout.covariates), layout.schedule, times,
                                      after=None if after is None else self.theta(after), change_time=change_time,
                                      substeps=substeps)

    def reporting(self, values: Mapping[str, jnp.ndarray], noise: ObservableNoise) -> jnp.ndarray:
        """The reporting fraction of an observable (1 when not estimated)."""
        return jnp.asarray(values[noise.reporting] if noise.reporting else 1.0, dtype=jnp.float64)

    def row_expected(self, values: Mapping[str, jnp.ndarray], substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """Expected observed count of every data row (NaN where the solve failed)."""
        f = jnp.zeros(self.n_rows)
        for layout in self.layouts:
            pred = self.expected(values, layout, substeps=substeps)
            f = f.at[layout.rows].set(pred[layout.time_index, layout.obs_index])
        has_pop = jnp.asarray(self.has_population)
        clipped = jnp.clip(f, 0.0, 1.0)
        f = jnp.where(has_pop & (jnp.abs(f - clipped) <= TOLERANCE), clipped, f)
        rho = jnp.ones(self.n_rows)
        for noise in self.noise:
            rho = rho.at[noise.rows].set(self.reporting(values, noise))
        return rho * self.scale * f

    def noise_parameters(self, values: Mapping[str, jnp.ndarray], noise: ObservableNoise) -> dict[str, jnp.ndarray]:
        """The observation model's parameters of an observable."""
        return {p: jnp.asarray(values[site], dtype=jnp.float64) for p, site in noise.sites.items()}

    # -------------------------------------------------------------------------------------------- likelihood
    def pointwise_from_expected(self, values: Mapping[str, jnp.ndarray], mu: jnp.ndarray) -> jnp.ndarray:
        """Log-likelihood of each row given the expected counts ``mu`` of every row."""
        ll = jnp.zeros(self.n_rows)
        for noise in self.noise:
            r = noise.rows
            ll = ll.at[r].set(noise.model.log_prob(self.k[r], self.population[r], mu[r],
                                                   self.noise_parameters(values, noise)))
        return jnp.where(jnp.isnan(ll), -jnp.inf, ll)

    def pointwise(self, values: Mapping[str, jnp.ndarray], substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """Log-likelihood of each data row (shape ``(n_rows,)``); ``-inf`` where the solve failed."""
        return self.pointwise_from_expected(values, self.row_expected(values, substeps))

    def __call__(self, values: Mapping[str, jnp.ndarray], substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """Total log-likelihood (``substeps``: see :meth:`expected`)."""
        return jnp.sum(self.pointwise(values, substeps))
