r"""Log marginal likelihood of a structure: bridge sampling from posterior draws, importance sampling from a Gaussian.

Bridge sampling (Meng and Wong 1996, Statistica Sinica 6:831), in the form of Gronau et al. (2017, J. Math. Psychol.
81:80): with an unnormalised posterior :math:`q(\theta) = p(y \mid \theta) p(\theta)` (here in the unconstrained
space, Jacobian included, so that :math:`\int q = p(y)`), posterior draws :math:`\theta_i` and draws
:math:`\tilde\theta_j` from a proposal :math:`g` (a normal with the mean and covariance of half of the posterior
draws), the optimal bridge function gives the fixed point

.. math::

    \hat p(y)^{(t+1)} = \frac{N_2^{-1} \sum_j l_{2j} / (s_1 l_{2j} + s_2 \hat p(y)^{(t)})}
                             {N_1^{-1} \sum_i 1 / (s_1 l_{1i} + s_2 \hat p(y)^{(t)})},
    \quad l_{1i} = \frac{q(\theta_i)}{g(\theta_i)},\ l_{2j} = \frac{q(\tilde\theta_j)}{g(\tilde\theta_j)},

with :math:`s_k = N_k / (N_1 + N_2)`. Its relative mean-squared error is approximated as in Fruehwirth-Schnatter
(2004, Econometrics Journal 7:143), the posterior term inflated by the integrated autocorrelation time of the
draws (from their effective sample size); the error of :math:`\log \hat p(y)` is its square root.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import arviz as az
import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, multivariate_t

__all__ = ["MarginalLikelihood", "bridge_sampling", "importance_sampling"]

LogDensity = Callable[[np.ndarray], np.ndarray]
"""Unnormalised log posterior of a batch of unconstrained points ``(n, d) -> (n,)``."""


@dataclass(frozen=True)
class MarginalLikelihood:
    """An estimate of :math:`\\log p(y)`.

    Attributes
    ----------
    log_marginal_likelihood
        The estimate.
    error
        Its approximate Monte Carlo standard error (log units).
    method
        ``"bridge"`` or ``"importance"``.
    iterations
        Fixed-point iterations (bridge sampling), 0 otherwise.
    """

    log_marginal_likelihood: float
    error: float
    method: str
    iterations: int = 0


def bridge_sampling(log_density: LogDensity, draws: np.ndarray, *, seed: int = 0, tol: float = 1e-10,
                    max_iter: int = 1000) -> MarginalLikelihood:
    """Bridge-sampling estimate of the log marginal likelihood (see the module docstring).

    Parameters
    ----------
    log_density
        Unnormalised log posterior of a batch of unconstrained points, ``(n, d) -> (n,)``.
    draws
        Posterior draws in the same space, ``(chain, draw, d)`` or ``(draw, d)``. The first half of each chain
        fits the proposal; the second half enters the fixed point.
    seed
        Seed of the proposal draws.
    tol, max_iter
        Convergence of the fixed point (change of the log estimate).
    """
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 2:
        draws = draws[None]
    chains, n, d = draws.shape
    if n < 4:
        raise ValueError(f"bridge sampling needs at least 4 draws per chain, got {n}")
    half = n // 2
    fit_part = draws[:, :half].reshape(-1, d)
    post = draws[:, half:]
    n1 = post.shape[0] * post.shape[1]
    n2 = n1
    mean = fit_part.mean(axis=0)
    cov = np.atleast_2d(np.cov(fit_part, rowvar=False)) + 1e-10 * np.eye(d)
    proposal = multivariate_normal(mean, cov)
    rng = np.random.default_rng(seed)
    prop = np.atleast_2d(proposal.rvs(size=n2, random_state=rng)).reshape(n2, d)
    post_flat = post.reshape(-1, d)
    l1 = np.asarray(log_density(post_flat), float) - proposal.logpdf(post_flat).reshape(-1)
    l2 = np.asarray(log_density(prop), float) - proposal.logpdf(prop).reshape(-1)
    l2 = np.where(np.isfinite(l2), l2, -np.inf)
    if not np.all(np.isfinite(l1)):
        raise FloatingPointError("the log density is not finite at some posterior draws")
    lstar = float(np.median(l1))
    e1, e2 = np.exp(l1 - lstar), np.exp(l2 - lstar)
    s1, s2 = n1 / (n1 + n2), n2 / (n1 + n2)
    r, iterations = 1.0, 0
    for iterations in range(1, max_iter + 1):
        r_new = np.mean(e2 / (s1 * e2 + s2 * r)) / np.mean(1.0 / (s1 * e1 + s2 * r))
        done = abs(np.log(r_new) - np.log(r)) < tol
        r = r_new
        if done:
            break
    # relative mean-squared error (Fruehwirth-Schnatter 2004), as in Gronau et al. 2017, eq. 17
    f1 = e2 / (s1 * e2 + s2 * r)  # at the proposal draws (independent)
    f2 = r / (s1 * e1 + s2 * r)   # at the posterior draws (autocorrelated)
    iat = _autocorrelation_time(f2.reshape(post.shape[0], post.shape[1]))
    re2 = np.var(f1, ddof=1) / np.mean(f1) ** 2 / n2 + iat * np.var(f2, ddof=1) / np.mean(f2) ** 2 / n1
    return MarginalLikelihood(float(np.log(r) + lstar), float(np.sqrt(re2)), "bridge", iterations)


def importance_sampling(log_density: LogDensity, mean: np.ndarray, cov: np.ndarray, *, n: int = 4000,
                        seed: int = 0, df: float = 4.0) -> MarginalLikelihood:
    """Importance-sampling estimate of the log marginal likelihood with a multivariate Student-t proposal.

    For fits without posterior draws (Laplace): the proposal has the Laplace mean and covariance and ``df`` degrees
    of freedom (heavier tails than the posterior keep the weights' variance finite). The error is the delta-method
    standard error of the log of the mean weight.
    """
    mean = np.asarray(mean, float)
    d = mean.size
    cov = np.atleast_2d(np.asarray(cov, float)) + 1e-10 * np.eye(d)
    proposal = multivariate_t(mean, cov * (df - 2.0) / df, df=df)
    x = np.asarray(proposal.rvs(size=n, random_state=np.random.default_rng(seed))).reshape(n, d)
    logw = np.asarray(log_density(x), float) - np.asarray(proposal.logpdf(x)).reshape(-1)
    logw = np.where(np.isfinite(logw), logw, -np.inf)
    estimate = logsumexp(logw) - np.log(n)
    w = np.exp(logw - logw.max())
    error = np.std(w, ddof=1) / np.mean(w) / np.sqrt(n)
    return MarginalLikelihood(float(estimate), float(error), "importance")


def _autocorrelation_time(x: np.ndarray) -> float:
    """Integrated autocorrelation time of draws ``(chain, draw)``: draws per effective draw (at least 1)."""
    if np.ptp(x) == 0:
        return 1.0
    ess = float(az.ess(x, method="mean")) if x.shape[0] > 1 or x.shape[1] > 8 else float(x.size)
    return max(1.0, x.size / ess)
