"""Exact held-out terms by refitting a structure without some data rows (one row, or a block for K-fold).

Where PSIS-LOO's Pareto k of a row is above the threshold, its importance weights are unreliable (Vehtari et al.
2017, Statistics and Computing 27:1413). The row's term :math:`\\log p(y_i \\mid y_{-i})` is then computed exactly:
the structure is refitted to the data without row ``i`` (same priors, so the prior does not move with the data),
and :math:`\\log \\frac1S \\sum_s p(y_i \\mid \\theta_s)` is taken over the refit's draws. A NUTS fit is refitted by NUTS
with every chain started from a draw of the full posterior (warm start); a Laplace fit by a Laplace approximation
at the optimum reached from the full MAP. K-fold cross-validation (:mod:`._kfold`) leaves out a block of rows the
same way.

The Laplace refit does not rebuild the problem: the rows' log-likelihood terms are independent summands, so the
posterior without rows ``R`` is the full prior plus the kept rows' terms, a mask that is an argument of one compiled
objective (and Hessian) per fit, shared by every refit of that fit (:class:`RowMaskedPosterior`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from .._errors import CohortDataWarning, CohortodeError
from ..likelihood._aggregate import row_loglik
from ..data import CohortData
from ..infer import Fit
from ..infer._fit import sample_nuts
from ..infer._metric import inverse_mass_from_draws
from ..infer._optimize import MapResult, forward_value_and_grad, laplace_draws
from ..infer._problem import rebuild_problem

__all__ = ["data_without_row", "data_without_rows", "exact_loo_term", "heldout_terms"]

REFIT_WARMUP = 200
"""Warm-up draws of a NUTS refit (its chains start inside the full posterior)."""


def data_without_row(data: CohortData, row: int) -> CohortData:
    """The cohort table without observation row ``row`` (0-based, in ``data.observations`` order)."""
    return data_without_rows(data, [row])


def data_without_rows(data: CohortData, rows: Sequence[int]) -> CohortData:
    """The cohort table without the observation rows ``rows`` (0-based, in ``data.observations`` order).

    Raises
    ------
    CohortodeError
        If ``rows`` is empty, out of range, or would leave no row.
    """
    n = len(data.observations)
    rows = sorted({int(r) for r in rows})
    if not rows or rows[0] < 0 or rows[-1] >= n:
        raise CohortodeError(f"rows to leave out must be between 0 and {n - 1}, got {rows}")
    if len(rows) == n:
        raise CohortodeError(f"leaving out all {n} rows leaves nothing to fit")
    obs = data.observations.drop(index=data.observations.index[rows]).drop(columns=["sd_used", "source_row"])
    dosing = data.dosing.drop(columns=["source_row"]) if len(data.dosing) else None
    covariates = data.covariates.reset_index() if len(data.covariates.columns) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CohortDataWarning)  # already reported for the full table
        return CohortData(obs.reset_index(drop=True), dosing=dosing, covariates=covariates, source=data.source,
                          description=data.description, time_unit=data.time_unit, units=data.units,
                          metadata=data.metadata)


def exact_loo_term(fit: Fit, row: int, *, seed: int = 0) -> float:
    """``log p(y_row | y_-row)`` of ``fit``'s structure, by refitting without the row (see the module docstring)."""
    return float(heldout_terms(fit, [row], seed=seed)[0])


def heldout_terms(fit: Fit, rows: Sequence[int], *, seed: int = 0,
                  masked: RowMaskedPosterior | None = None) -> np.ndarray:
    """Per-row held-out terms ``log (1/S) sum_s p(y_i | theta_s)``, ``theta_s ~ p(theta | y without rows)``.

    Parameters
    ----------
    fit
        A NUTS or Laplace fit; the refit uses its method, priors, engine, error model and solver.
    rows
        The data rows (0-based, in ``fit.data.observations`` order) left out together.
    seed
        Seed of the refit (warm-start draws, NUTS or Laplace draws).
    masked
        For a Laplace fit, its :class:`RowMaskedPosterior` when several refits share it (compiled once); ``None``
        builds one.

    Returns
    -------
    numpy.ndarray
        One term per row of ``rows``, in the order given.
    """
    if fit.method not in ("nuts", "laplace"):
        raise CohortodeError(f"refitting without rows needs a NUTS or Laplace fit, got method {fit.method!r}")
    rows = [int(r) for r in rows]
    if fit.method == "nuts":
        reduced = data_without_rows(fit.data, rows)
        lik = fit.likelihood
        problem = rebuild_problem(fit.model, reduced, engine=lik.engine, error=lik.error, solver=fit.solver,
                                  options=lik.compiled.options, priors=fit.priors)
        names = problem.site_names
        full = {k: fit.draws(k) for k in names}
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(full[names[0]]), fit.settings.num_chains, replace=False)
        init = problem.unconstrain_draws({k: v[pick] for k, v in full.items()})
        settings = dataclasses.replace(fit.settings, num_warmup=min(fit.settings.num_warmup, REFIT_WARMUP),
                                       until_converged=False)
        metric = None
        if getattr(fit.settings, "mass_matrix", "identity") == "laplace":  # the full posterior's covariance
            metric = inverse_mass_from_draws(problem.unconstrain_draws(full)[None])
        z, *_ = sample_nuts(problem, settings, init, workers=1, warn=False, seed=seed, inverse_mass_matrix=metric)
        draws = {k: np.asarray(v).reshape(-1) for k, v in problem.constrain(z).items()}
    else:
        data_without_rows(fit.data, rows)  # validates the rows
        masked = RowMaskedPosterior(fit) if masked is None else masked
        draws = masked.laplace_draws(rows, fit.settings.laplace_draws_n, seed)
    loglik = fit.pointwise_loglik(draws)[:, rows]
    return logsumexp(loglik, axis=0) - np.log(loglik.shape[0])


class RowMaskedPosterior:
    """A Laplace fit's posterior without some data rows, compiled once for every set of rows left out.

    Parameters
    ----------
    fit
        A fit of an aggregate (mean/SD/n) likelihood; its problem (priors, engine, solver) is reused as it is.
    """

    def __init__(self, fit: Fit):
        problem = fit.problem
        lik = problem.likelihood
        self._fit = fit

        def neg(z, keep):
            log_prior, values = problem.log_prior_and_values(z)
            mu, var = lik.row_moments(values)
            pointwise = row_loglik(lik.ybar, lik.s2, lik.n, lik.has_sd, mu, var)
            loglik = jnp.sum(jnp.where(keep, pointwise, 0.0))
            return -(log_prior + jnp.where(jnp.isnan(loglik), -jnp.inf, loglik))
        dim = problem.dimension
        self._value_and_grad = jax.jit(lambda z, keep: forward_value_and_grad(lambda x: neg(x, keep), dim)(z))
        self._hessian = jax.jit(lambda z, keep: jax.jacfwd(jax.jacfwd(lambda x: neg(x, keep)))(z))

    def _keep(self, rows: Sequence[int]) -> jax.Array:
        keep = np.ones(self._fit.likelihood.n_rows, bool)
        keep[list(rows)] = False
        return jnp.asarray(keep)

    def find_map(self, rows: Sequence[int]) -> MapResult:
        """The posterior mode without ``rows``, reached by L-BFGS-B from the full fit's MAP."""
        keep = self._keep(rows)

        def fun(z):
            v, g = self._value_and_grad(jnp.asarray(z), keep)
            v, g = float(v), np.asarray(g)
            return (v, g) if np.isfinite(v) and np.all(np.isfinite(g)) else (1e300, np.zeros_like(z))
        z0 = np.asarray(self._fit.map.unconstrained, float)
        res = minimize(fun, z0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
        value = -fun(res.x)[0]
        if not np.isfinite(value) or value <= -1e300:
            raise FloatingPointError(f"the refit without rows {list(rows)} found no finite posterior density")
        problem = self._fit.problem
        values = {k: float(v) for k, v in problem.constrain(res.x).items()}
        return MapResult(values, np.asarray(res.x), value, [value], problem)

    def laplace_draws(self, rows: Sequence[int], n: int, seed: int) -> dict[str, np.ndarray]:
        """``n`` draws of the Laplace approximation of the posterior without ``rows`` (constrained, by site)."""
        result = self.find_map(rows)
        hessian = np.asarray(self._hessian(jnp.asarray(result.unconstrained), self._keep(rows)))
        flat, _ = laplace_draws(result, n, seed, hessian=hessian)
        return {k: np.asarray(v) for k, v in flat.items()}
