"""The NumPyro model of a structure fitted to aggregate data: priors, IIV, residual error, likelihood."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpyro

from ..likelihood import AggregateLikelihood
from ..spec import DEFAULT_IIV_PRIOR, DataScales, Prior, resolve_priors
from ..spec._default_priors import DEFAULT_PROPORTIONAL_PRIOR

__all__ = ["BayesianProblem"]


@dataclass
class BayesianProblem:
    """Priors and likelihood together; ``model()`` is the NumPyro model.

    Attributes
    ----------
    likelihood
        The aggregate likelihood.
    priors
        Prior of every sampled site (typical values, ``omega_*``, ``sigma_*``).
    """

    likelihood: AggregateLikelihood
    priors: dict[str, Prior] = field(default_factory=dict)

    @classmethod
    def build(cls, likelihood: AggregateLikelihood, priors: dict[str, Prior] | None = None) -> BayesianProblem:
        """Resolve default priors (scaled to the data) and apply overrides given in ``priors``."""
        model, data = likelihood.model, likelihood.data
        scales = DataScales.from_data(data, model)
        out: dict[str, Prior] = dict(resolve_priors(model, scales))
        for name in likelihood.random_effects:
            p = model.parameter(name)
            if p.iiv_estimated:
                out[f"omega_{name}"] = p.iiv if isinstance(p.iiv, Prior) else DEFAULT_IIV_PRIOR
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

    def model(self) -> None:
        """The NumPyro model."""
        values = {name: numpyro.sample(name, prior.to_numpyro()) for name, prior in self.priors.items()}
        total = self.likelihood(values)
        numpyro.factor("loglik", jnp.where(jnp.isnan(total), -jnp.inf, total))
