r"""PSIS-LOO from draws of an approximation of the posterior (the screening Laplace fit).

Plain PSIS-LOO assumes draws from the posterior itself. Laplace draws come from a Gaussian ``g`` in the unconstrained
space, and where the posterior is skewed (rates near zero, weakly identified volumes) some of them land where the
likelihood is very poor: arviz's ``loo`` then gives elpd values of -1,000 or -10,000 with ``p_loo`` in the thousands
for structures whose maximised log-likelihood is as good as the best one's (theophylline, the first discovery round:
8 structures, five with ``p_loo`` above 100 on 11 data rows), so ranking by it is noise.

The correction (Magnusson, Andersen, Jonasson and Vehtari 2019, "Bayesian leave-one-out cross-validation for large
data", ICML, PMLR 97:4244; R package ``loo``, ``loo_approximate_posterior``) treats the draws as an importance
sample: for row ``i`` the leave-one-out weight of draw ``s`` is

.. math:: \log r_{is} = \log p(\theta_s \mid y) - \log g(\theta_s) - \log p(y_i \mid \theta_s),

smoothed by PSIS (arviz's ``psislw``), and

.. math:: \widehat{\mathrm{elpd}}_i = \log \sum_s \tilde w_{is}\, p(y_i \mid \theta_s),

with ``log p(θ|y)`` the unnormalised log posterior density (its constant cancels in the self-normalised weights).
``p_loo`` is the log pointwise predictive density under the importance-weighted posterior minus the elpd. The Pareto
``k`` of each row includes the approximation's own error, so a poor Laplace fit shows up as high ``k``.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.special import logsumexp

import arviz as az

__all__ = ["approximate_posterior_loo"]

_MIN_DRAWS = 10
"""Fewest finite draws for Pareto smoothing (arviz fits the tail to at least a few of them)."""


def approximate_posterior_loo(log_likelihood: np.ndarray, log_posterior: np.ndarray,
                              log_proposal: np.ndarray) -> az.ELPDData:
    """PSIS-LOO of draws from an approximation ``g`` of the posterior (see the module documentation).

    Parameters
    ----------
    log_likelihood
        Pointwise log-likelihood, shape ``(draws, rows)``.
    log_posterior
        Unnormalised log posterior density of each draw, shape ``(draws,)``.
    log_proposal
        Log density of each draw under the approximation, shape ``(draws,)``.

    Returns
    -------
    arviz.ELPDData
        ``elpd_loo``, ``se``, ``p_loo``, ``loo_i``, ``pareto_k`` (per row) and ``warning``, as ``arviz.loo`` gives.
    """
    ll = np.asarray(log_likelihood, dtype=float)
    correction = np.asarray(log_posterior, dtype=float) - np.asarray(log_proposal, dtype=float)
    n_draws, n_rows = ll.shape
    finite = np.isfinite(correction) & np.all(np.isfinite(ll), axis=1)
    if np.count_nonzero(finite) < _MIN_DRAWS:
        raise FloatingPointError(f"only {np.count_nonzero(finite)} of {n_draws} draws of the approximation have a "
                                 f"finite posterior density and likelihood (at least {_MIN_DRAWS} needed to smooth "
                                 "the importance weights): the solutions fail over most of the approximate posterior")
    ll, correction = ll[finite], correction[finite]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz's generic Pareto k notice; k is returned per row
        lw_loo, k = az.psislw((correction[:, None] - ll).T)  # (rows, draws), normalised
        lw_full, _ = az.psislw(correction[None, :])
    loo_i = logsumexp(lw_loo + ll.T, axis=1)
    lpd_i = logsumexp(lw_full + ll.T, axis=1)
    elpd = float(np.sum(loo_i))
    se = float(np.sqrt(n_rows * np.var(loo_i)))
    good_k = min(1 - 1 / np.log10(max(len(correction), 10)), 0.7)
    k = np.asarray(k, dtype=float)
    rows = np.arange(n_rows)
    return az.ELPDData(
        data=[elpd, se, float(np.sum(lpd_i)) - elpd, int(n_draws), int(n_rows), bool(np.any(k > good_k)),
              xr.DataArray(loo_i, dims=["row"], coords={"row": rows}, name="loo_i"),
              xr.DataArray(k, dims=["row"], coords={"row": rows}, name="pareto_shape"), "log", good_k],
        index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i", "pareto_k", "scale",
               "good_k"],
    )
