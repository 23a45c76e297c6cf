"""Quantiles of a weighted mixture of draws."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_quantile"]


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
