r"""The population likelihood of aggregate cohort statistics.

For each reported row (cohort ``c``, time ``t``, observable ``o``) with sample mean :math:`\bar y`, sample SD
:math:`s` and size :math:`n`, the moment engine predicts the population mean :math:`\mu` and the variance of one
observation :math:`V = \mathrm{Var}_\eta[f] + \sigma_{add}^2 + \sigma_{prop}^2 E_\eta[f^2]`. Then

- :math:`\bar y \sim N(\mu, V/n)`;
- where an SD is given and :math:`n \ge 2`: :math:`(n-1) s^2 / V \sim \chi^2_{n-1}`.

Both hold exactly when individual observations are normal and independent; :doc:`methods` lists the assumptions. The
log-likelihood of a row is the sum of the two terms; rows are kept apart (pointwise) for PSIS-LOO.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from ..compile import CompiledModel, SolverOptions, compile_model
from ..spec import ODEModel
from ._layout import CohortLayout, cohort_layout
from ._residual import ErrorKind, ResidualError
from ._sensitivity import parameter_sensitivities, worth_sensitivities
from .moments import MomentEngine, Moments, get_engine

__all__ = ["AggregateLikelihood", "CohortLayout"]


class AggregateLikelihood:
    """Pointwise log-likelihood of a model for a :class:`~cohortode.CohortData`.

    Parameters
    ----------
    model
        The structure.
    data
        The cohort table.
    engine
        Moment engine or its name (``"sigma"``, ``"mc"``, ``"mc:N"``, ``"fo"``).
    error
        Residual error kind.
    solver, options
        See :func:`cohortode.compile.compile_model`.

    Notes
    -----
    Parameter values are passed as a mapping from site name to value: each parameter's typical value under its own
    name, estimated IIV standard deviations under ``omega_<name>``, residual SDs under ``sigma_add`` and
    ``sigma_prop``. Fixed IIV SDs come from the model.
    """

    def __init__(self, model: ODEModel, data, *, engine: str | MomentEngine = "sigma",
                 error: ErrorKind | ResidualError = "combined", solver: str = "auto",
                 options: SolverOptions | None = None):
        self.model = model
        self.data = data
        self.engine = get_engine(engine)
        self.error = error if isinstance(error, ResidualError) else ResidualError(error)
        self.compiled: CompiledModel = compile_model(model, solver, options)
        data.check_observables(model.observable_names)
        if len(data.dosing):
            data.check_dose_targets(model.states)
        obs = data.observations
        self.n_rows = len(obs)
        self.ybar = jnp.asarray(obs["mean"].to_numpy(dtype=float))
        s = obs["sd_used"].to_numpy(dtype=float)
        n = obs["n"].to_numpy(dtype=float)
        self.has_sd = jnp.asarray(np.isfinite(s) & (n >= 2))
        self.s2 = jnp.asarray(np.where(np.isfinite(s), s, 0.0) ** 2)
        self.n = jnp.asarray(n)
        self.layouts = tuple(self._layout(c) for c in data.cohorts)
        self.random_effects = tuple(p.name for p in model.parameters
                                    if p.iiv_estimated or (p.iiv_fixed or 0.0) > 0)
        # random effect j acts on parameter _re_map[:, j] (a 0/1 matrix, so eta enters as theta * exp(M @ eta))
        self._re_map = np.zeros((len(model.parameters), len(self.random_effects)))
        for j, name in enumerate(self.random_effects):
            self._re_map[model.parameter_names.index(name), j] = 1.0

    # ------------------------------------------------------------------------------------------------ layout
    def _layout(self, cohort: str) -> CohortLayout:
        return cohort_layout(self.model, self.data, cohort)

    def with_solver(self, solver: str) -> AggregateLikelihood:
        """The same likelihood solved with ``solver``."""
        return AggregateLikelihood(self.model, self.data, engine=self.engine, error=self.error, solver=solver,
                                   options=self.compiled.options)

    @property
    def sensitivity_rule(self) -> bool:
        """Whether a solve's derivatives carry one tangent per model parameter rather than one per sampled site
        (:mod:`cohortode.likelihood._sensitivity`): when the typical values, estimated between-subject SDs and
        residual SDs outnumber the parameters enough to repay the rule's extra trace."""
        params = self.model.parameters
        n_sites = len(params) + sum(p.iiv_estimated for p in params) + len(self.error.parameter_names)
        return worth_sensitivities(len(params), n_sites)

    # ------------------------------------------------------------------------------------------------ pieces
    def unpack(self, values: Mapping[str, jnp.ndarray]) -> tuple[jnp.ndarray, jnp.ndarray, dict[str, jnp.ndarray]]:
        """Typical values (model order), random-effect SDs (``random_effects`` order) and residual SDs."""
        theta = jnp.stack([jnp.asarray(values[n], dtype=jnp.float64) for n in self.model.parameter_names])
        omegas = []
        for name in self.random_effects:
            p = self.model.parameter(name)
            omegas.append(jnp.asarray(values[f"omega_{name}"] if p.iiv_estimated else p.iiv_fixed,
                                      dtype=jnp.float64))
        omega = jnp.stack(omegas) if omegas else jnp.zeros(0)
        sigmas = {k: jnp.asarray(values[k], dtype=jnp.float64) for k in self.error.parameter_names}
        return theta, omega, sigmas

    def individual(self, theta: jnp.ndarray, layout: CohortLayout, times: tuple[float, ...] | None = None, *,
                   theta_after: jnp.ndarray | None = None, change_time: float | None = None,
                   substeps: jnp.ndarray | None = None):
        """``f(eta)``: observables of an individual with random effects ``eta`` (shape ``(times, observables)``).

        ``theta_after`` (typical values, the same ``eta``) replaces ``theta`` from ``change_time`` on (see
        :meth:`cohortode.compile.CompiledModel.simulate`); ``substeps`` refines the fixed grid of the ``"rk4"`` path.
        """
        times = layout.times if times is None else times
        re_map = jnp.asarray(self._re_map)

        def individual_values(typical, eta):
            return typical if eta.shape[0] == 0 else typical * jnp.exp(re_map @ eta)

        def f(eta):
            after = None if theta_after is None else individual_values(theta_after, eta)
            if after is None and self.sensitivity_rule:
                solve = parameter_sensitivities(lambda phi: self.compiled.simulate(
                    phi, jnp.asarray(layout.covariates), layout.schedule, times, batch_axis=self.engine.batch_axis,
                    substeps=substeps))
                return solve(individual_values(theta, eta))
            return self.compiled.simulate(individual_values(theta, eta), jnp.asarray(layout.covariates),
                                          layout.schedule, times, batch_axis=self.engine.batch_axis, after=after,
                                          change_time=change_time, substeps=substeps)
        return f

    def moments(self, values: Mapping[str, jnp.ndarray], layout: CohortLayout,
                times: tuple[float, ...] | None = None, *, after: Mapping[str, jnp.ndarray] | None = None,
                change_time: float | None = None, substeps: jnp.ndarray | None = None) -> tuple[Moments, jnp.ndarray]:
        """Population moments of the noise-free prediction, and the total variance of one observation.

        ``after`` (site values; only its typical values are used) replaces ``values`` from ``change_time`` on.
        """
        theta, omega, sigmas = self.unpack(values)
        theta_after = None if after is None else self.unpack(after)[0]
        m = self.engine.moments(self.individual(theta, layout, times, theta_after=theta_after,
                                                change_time=change_time, substeps=substeps), omega)
        total = m.var + self.error.variance(sigmas, m.second)
        return m, total

    # -------------------------------------------------------------------------------------------- likelihood
    def row_moments(self, values: Mapping[str, jnp.ndarray],
                    substeps: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Predicted mean and total variance of one observation, for every data row."""
        mu = jnp.zeros(self.n_rows)
        var = jnp.ones(self.n_rows)
        for layout in self.layouts:
            m, total = self.moments(values, layout, substeps=substeps)
            mu = mu.at[layout.rows].set(m.mean[layout.time_index, layout.obs_index])
            var = var.at[layout.rows].set(total[layout.time_index, layout.obs_index])
        return mu, var

    def pointwise(self, values: Mapping[str, jnp.ndarray], substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """Log-likelihood of each data row (shape ``(n_rows,)``); ``-inf`` where the solve failed."""
        mu, var = self.row_moments(values, substeps)
        return row_loglik(self.ybar, self.s2, self.n, self.has_sd, mu, var)

    def __call__(self, values: Mapping[str, jnp.ndarray], substeps: jnp.ndarray | None = None) -> jnp.ndarray:
        """Total log-likelihood (``substeps`` refines the fixed grid of the ``"rk4"`` path)."""
        return jnp.sum(self.pointwise(values, substeps))


def row_loglik(ybar, s2, n, has_sd, mu, var):
    """Per-row log-likelihood of a sample mean and a sample variance (see the module docstring)."""
    ok = jnp.isfinite(mu) & jnp.isfinite(var) & (var > 0)
    v = jnp.where(ok, var, 1.0)
    m = jnp.where(ok, mu, 0.0)
    ll_mean = -0.5 * (jnp.log(2 * jnp.pi * v / n) + n * (ybar - m) ** 2 / v)
    k = jnp.maximum(n - 1.0, 1.0)
    q = jnp.where(has_sd, k * s2 / v, 1.0)
    ll_var = (0.5 * k - 1.0) * jnp.log(q) - 0.5 * q - 0.5 * k * jnp.log(2.0) - gammaln(0.5 * k) + jnp.log(k / v)
    ll = ll_mean + jnp.where(has_sd, ll_var, 0.0)
    return jnp.where(ok, ll, -jnp.inf)
