"""A structure fitted to aggregate data as a Bayesian problem: priors, IIV, residual error, likelihood."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions.transforms import biject_to

from ..data import CountData
from ..likelihood import AggregateLikelihood, CountLikelihood
from ..spec import DEFAULT_IIV_PRIOR, DataScales, Prior, resolve_priors
from ..spec._default_priors import DEFAULT_PROPORTIONAL_PRIOR

__all__ = ["BayesianProblem", "PROBLEM_PIECES", "problem_pieces", "rebuild_problem"]


@dataclass
class BayesianProblem:
    """Priors and likelihood together; :meth:`log_density` is the posterior that MAP, Laplace and NUTS use.

    Attributes
    ----------
    likelihood
        The aggregate likelihood (mean/SD/n tables) or the count likelihood (counts of one population).
    priors
        Prior of every sampled site (typical values, ``omega_*``, ``sigma_*``; for counts, observation-model sites
        such as ``overdispersion_<observable>`` and reporting fractions ``reporting_<observable>``).
    """

    likelihood: AggregateLikelihood | CountLikelihood
    priors: dict[str, Prior] = field(default_factory=dict)

    @classmethod
    def build(cls, likelihood: AggregateLikelihood | CountLikelihood,
              priors: dict[str, Prior] | None = None) -> BayesianProblem:
        """Resolve default priors (scaled to the data) and apply overrides given in ``priors``."""
        model, data = likelihood.model, likelihood.data
        scales = DataScales.from_data(data, model)
        out: dict[str, Prior] = dict(resolve_priors(model, scales))
        for name in likelihood.random_effects:
            p = model.parameter(name)
            if p.iiv_estimated:
                out[f"omega_{name}"] = p.iiv if isinstance(p.iiv, Prior) else DEFAULT_IIV_PRIOR
        if isinstance(likelihood, CountLikelihood):
            out.update(likelihood.observation_priors())
        else:
            yscale = max(scales.observable_scale.values(), default=1.0)
            for s in likelihood.error.parameter_names:
                out[s] = Prior.halfnormal(0.1 * yscale) if s == "sigma_add" else DEFAULT_PROPORTIONAL_PRIOR
        if priors:
            unknown = [k for k in priors if k not in out]
            if unknown:
                raise ValueError(f"priors given for unknown site(s) {unknown}; sites are {list(out)}")
            out.update(priors)
        return cls(likelihood, out)

    @property
    def site_names(self) -> list[str]:
        """Names of the sampled sites, in order."""
        return list(self.priors)

    # ------------------------------------------------------------------------------ unconstrained posterior
    @cached_property
    def _transforms(self):
        dists = [self.priors[k].to_numpyro() for k in self.site_names]
        return dists, [biject_to(d.support) for d in dists]

    @property
    def dimension(self) -> int:
        """Number of sampled sites (all scalars)."""
        return len(self.priors)

    def log_density(self, z: jax.Array) -> jax.Array:
        """Log posterior density of a flat unconstrained vector ``z`` (one entry per site, in ``site_names`` order).

        Each site is mapped to its prior's support by NumPyro's bijection (``exp`` for positive sites) and the log
        Jacobian is added, so this is the density NumPyro's NUTS would sample (its potential energy is the
        negative). A likelihood that is NaN (a failed ODE solve) gives ``-inf``. Pure and jittable: nothing is
        evaluated outside ``jax.jit``, unlike ``numpyro.infer.util.initialize_model``, which runs the model eagerly.
        """
        return self.log_density_and_likelihood(z)[0]

    def log_density_and_likelihood(self, z: jax.Array,
                                   substeps: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """:meth:`log_density` and the log-likelihood at ``z`` from one evaluation of the likelihood.

        Tracing the likelihood once instead of twice halves the program that the screening objective compiles.
        ``substeps`` refines the fixed grid of the ``"rk4"`` path (see :meth:`CompiledModel.simulate`).
        """
        log_prior, values = self.log_prior_and_values(z)
        loglik = self.likelihood(values) if substeps is None else self.likelihood(values, substeps)
        return log_prior + jnp.where(jnp.isnan(loglik), -jnp.inf, loglik), loglik

    def log_density_and_rows(self, z: jax.Array, substeps: jax.Array | None = None
                             ) -> tuple[jax.Array, jax.Array, tuple[jax.Array, ...]]:
        """:meth:`log_density_and_likelihood` and the per-row quantities ``(pointwise, mu, var)`` of an aggregate
        likelihood (log-likelihood, predicted mean and total variance of every data row), from one evaluation.

        ``substeps`` refines the fixed grid of the ``"rk4"`` path (see :meth:`CompiledModel.simulate`)."""
        if not isinstance(self.likelihood, AggregateLikelihood):
            raise TypeError("per-row moments exist for aggregate (mean/SD/n) likelihoods only")
        from ..likelihood._aggregate import row_loglik

        lik = self.likelihood
        log_prior, values = self.log_prior_and_values(z)
        mu, var = lik.row_moments(values, substeps=substeps)
        pointwise = row_loglik(lik.ybar, lik.s2, lik.n, lik.has_sd, mu, var)
        loglik = jnp.sum(pointwise)
        return log_prior + jnp.where(jnp.isnan(loglik), -jnp.inf, loglik), loglik, (pointwise, mu, var)

    def log_prior_and_values(self, z: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Log prior density of ``z`` (log Jacobian of the bijections included) and the constrained site values."""
        dists, transforms = self._transforms
        values = {}
        total = jnp.zeros(())
        for i, (name, d, tr) in enumerate(zip(self.site_names, dists, transforms)):
            x = tr(z[i])
            values[name] = x
            total = total + d.log_prob(x) + tr.log_abs_det_jacobian(z[i], x)
        return total, values

    @cached_property
    def batch_log_density(self):
        """:meth:`log_density` of a batch of points ``(n, sites) -> (n,)``, compiled once per problem."""
        return jax.jit(jax.vmap(self.log_density))

    def constrain(self, z) -> dict[str, jax.Array]:
        """Site values of an unconstrained vector (works on a batch along the first axes: ``z[..., i]``)."""
        _, transforms = self._transforms
        z = jnp.asarray(z)
        return {name: tr(z[..., i]) for i, (name, tr) in enumerate(zip(self.site_names, transforms))}

    def unconstrain(self, values: dict[str, float]) -> np.ndarray:
        """Inverse of :meth:`constrain` for one point."""
        _, transforms = self._transforms
        return np.asarray([float(tr.inv(jnp.asarray(float(values[name]))))
                           for name, tr in zip(self.site_names, transforms)])

    def unconstrain_draws(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`constrain` for arrays of draws: ``name -> (...)`` gives ``(..., sites)``."""
        _, transforms = self._transforms
        return np.stack([np.asarray(tr.inv(jnp.asarray(values[name], dtype=jnp.float64)))
                         for name, tr in zip(self.site_names, transforms)], axis=-1)

    def initial_point(self) -> np.ndarray:
        """The prior medians, unconstrained."""
        return self.unconstrain({name: prior.typical() for name, prior in self.priors.items()})


PROBLEM_PIECES = ("model", "data", "engine", "error", "solver", "options", "priors")
"""The picklable pieces a problem is rebuilt from (:func:`problem_pieces`, :func:`rebuild_problem`)."""


def problem_pieces(problem: BayesianProblem) -> dict:
    """The picklable pieces of ``problem`` (:data:`PROBLEM_PIECES`), for ``rebuild_problem(**pieces)``."""
    lik = problem.likelihood
    return {"model": lik.model, "data": lik.data, "engine": getattr(lik, "engine", None),
            "error": getattr(lik, "error", None), "solver": lik.compiled.solver, "options": lik.compiled.options,
            "priors": dict(problem.priors)}


def rebuild_problem(model, data, *, engine, error, solver: str, options, priors: dict[str, Prior]) -> BayesianProblem:
    """The problem of a fit from its picklable pieces (the compiled model is rebuilt, or taken from the cache)."""
    if isinstance(data, CountData):
        lik: AggregateLikelihood | CountLikelihood = CountLikelihood(model, data, solver=solver, options=options)
    else:
        lik = AggregateLikelihood(model, data, engine=engine, error=error, solver=solver, options=options)
    return BayesianProblem(lik, dict(priors))
