"""Exact leave-one-out terms by refitting a structure without one data row.

Where PSIS-LOO's Pareto k of a row is above the threshold, its importance weights are unreliable (Vehtari et al.
2017, Statistics and Computing 27:1413). The row's term :math:`\\log p(y_i \\mid y_{-i})` is then computed exactly:
the structure is refitted to the data without row ``i`` (same priors, so the prior does not move with the data),
and :math:`\\log \\frac1S \\sum_s p(y_i \\mid \\theta_s)` is taken over the refit's draws. A NUTS fit is refitted by NUTS
with every chain started from a draw of the full posterior (warm start); a Laplace fit by a Laplace approximation
at the optimum reached from the full MAP.
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from .._errors import CohortDataWarning, CohortodeError
from ..data import CohortData
from ..infer import Fit
from ..infer._fit import sample_nuts
from ..infer._optimize import MapResult, forward_value_and_grad, laplace_draws
from ..infer._problem import BayesianProblem, rebuild_problem

__all__ = ["data_without_row", "exact_loo_term"]

REFIT_WARMUP = 200
"""Warm-up draws of a NUTS refit (its chains start inside the full posterior)."""


def data_without_row(data: CohortData, row: int) -> CohortData:
    """The cohort table without observation row ``row`` (0-based, in ``data.observations`` order)."""
    obs = data.observations.drop(index=data.observations.index[row]).drop(columns=["sd_used", "source_row"])
    dosing = data.dosing.drop(columns=["source_row"]) if len(data.dosing) else None
    covariates = data.covariates.reset_index() if len(data.covariates.columns) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CohortDataWarning)  # already reported for the full table
        return CohortData(obs.reset_index(drop=True), dosing=dosing, covariates=covariates, source=data.source,
                          description=data.description, time_unit=data.time_unit, units=data.units,
                          metadata=data.metadata)


def exact_loo_term(fit: Fit, row: int, *, seed: int = 0) -> float:
    """``log p(y_row | y_-row)`` of ``fit``'s structure, by refitting without the row (see the module docstring)."""
    if fit.method not in ("nuts", "laplace"):
        raise CohortodeError(f"exact leave-one-out needs a NUTS or Laplace fit, got method {fit.method!r}")
    reduced = data_without_row(fit.data, row)
    lik = fit.likelihood
    problem = rebuild_problem(fit.model, reduced, engine=lik.engine, error=lik.error, solver=fit.solver,
                              options=lik.compiled.options, priors=fit.priors)
    names = problem.site_names
    if fit.method == "nuts":
        full = {k: fit.draws(k) for k in names}
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(full[names[0]]), fit.settings.num_chains, replace=False)
        init = problem.unconstrain_draws({k: v[pick] for k, v in full.items()})
        settings = dataclasses.replace(fit.settings, num_warmup=min(fit.settings.num_warmup, REFIT_WARMUP),
                                       until_converged=False)
        z, *_ = sample_nuts(problem, settings, init, workers=1, warn=False, seed=seed)
        draws = {k: np.asarray(v).reshape(-1) for k, v in problem.constrain(z).items()}
    else:
        result = _map_from(problem, np.asarray(fit.map.unconstrained))
        flat, _ = laplace_draws(result, fit.settings.laplace_draws_n, seed)
        draws = {k: np.asarray(v) for k, v in flat.items()}
    loglik = fit.pointwise_loglik(draws)[:, row]
    return float(logsumexp(loglik) - np.log(loglik.size))


def _map_from(problem: BayesianProblem, z0: np.ndarray) -> MapResult:
    """The posterior mode reached by L-BFGS-B from ``z0``."""
    vg = jax.jit(forward_value_and_grad(lambda z: -problem.log_density(z), problem.dimension))

    def fun(z):
        v, g = vg(jnp.asarray(z))
        v, g = float(v), np.asarray(g)
        return (v, g) if np.isfinite(v) and np.all(np.isfinite(g)) else (1e300, np.zeros_like(z))
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    value = -fun(res.x)[0]
    if not np.isfinite(value) or value <= -1e300:
        raise FloatingPointError("the refit without a row found no finite posterior density")
    values = {k: float(v) for k, v in problem.constrain(res.x).items()}
    return MapResult(values, np.asarray(res.x), value, [value], problem)
