"""Quantiles of a weighted mixture of draws."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_quantile", "observed_mean_draws", "cohort_size"]


def weighted_quantile(x: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` along axis 0 of draws ``x`` with per-draw weights (NaN draws are left out).

    Sorted draws :math:`x_{(i)}` with cumulative weight :math:`C_i` sit at plotting positions
    :math:`(C_i - w_i) / (C_n - w_n)`, and the quantile interpolates linearly between them. With equal weights this is
    numpy's default (``"linear"``) quantile, so a mixture with one member of weight 1 gives that member's bands.
    """
    x = np.asarray(x, float)
    flat = x.reshape(x.shape[0], -1)
    out = np.full(flat.shape[1], np.nan)
    weights = np.asarray(weights, float)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        keep = np.isfinite(col) & (weights > 0)
        if not keep.any():
            continue
        order = np.argsort(col[keep], kind="stable")
        xs, ws = col[keep][order], weights[keep][order]
        if xs.size == 1:
            out[j] = xs[0]
            continue
        c = np.cumsum(ws)
        p = (c - ws) / (c[-1] - ws[-1])
        out[j] = np.interp(q, p, xs)
    return out.reshape(x.shape[1:])


def observed_mean_draws(mean: np.ndarray, sd: np.ndarray, n: float, seed: int) -> np.ndarray:
    """Draws of the mean that a cohort of ``n`` subjects would report: ``mean + sd / sqrt(n) * z`` per draw.

    ``mean`` and ``sd`` are per-draw predictions ``(draw, time, observable)`` of the cohort mean and of the SD of
    one individual's observation; the sample mean of ``n`` independent observations is ``N(mean, sd^2 / n)``
    (methods section 5), so its predictive band adds that sampling noise to the uncertainty of the mean.
    ``z`` is standard normal from ``seed``.
    """
    z = np.random.default_rng(seed).standard_normal(np.shape(mean))
    return np.asarray(mean, float) + np.asarray(sd, float) / np.sqrt(float(n)) * z


def cohort_size(data, cohort: str, n: float | None) -> float:
    """``n`` if given (checked), else the median number of subjects behind the rows of ``cohort``."""
    if n is not None:
        if isinstance(n, bool) or not (float(n) >= 1 and np.isfinite(float(n))):
            raise ValueError(f"n: expected a cohort size of at least 1, got {n!r}")
        return float(n)
    obs = data.observations
    sizes = obs.loc[obs["cohort"] == cohort, "n"].to_numpy(float)
    sizes = sizes[np.isfinite(sizes)]
    return float(np.median(sizes)) if sizes.size else 1.0
