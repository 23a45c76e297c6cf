"""K-fold cross-validation over blocks of consecutive time points, for fits with many rows of high Pareto k.

PSIS-LOO fails when many rows have a high Pareto k, which Laplace (screening) fits and small cohorts give often; an
exact refit per bad row is then as costly as K-fold and answers a narrower question. K-fold splits the distinct time
points, sorted, into ``K`` blocks of consecutive times; every row at a time of the block (all cohorts and observables
of that time) is left out together, the structure is refitted without the block (:func:`._refit.heldout_terms`: NUTS
warm-started from the full posterior, or Laplace from the full MAP, with the full fit's priors), and each held-out
row gets the term :math:`\\log \\frac1S \\sum_s p(y_i \\mid \\theta_s)` over the refit's draws (Vehtari, Gelman & Gabry
2017, Statistics and Computing 27:1413, section 4). The terms are per row, like PSIS-LOO's, so arviz's stacking and
pseudo-BMA+ weights take them unchanged; a block's elpd is the sum of its rows' terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import CohortodeError
from ..data import CohortData
from ..infer import Fit
from ._refit import RowMaskedPosterior, heldout_terms

__all__ = ["KFold", "kfold", "time_blocks", "DEFAULT_FOLDS"]

DEFAULT_FOLDS = 5
"""Default number of blocks of time points."""


@dataclass(frozen=True)
class KFold:
    """K-fold cross-validation of one fit over blocks of consecutive time points.

    Attributes
    ----------
    blocks
        Data rows (0-based, in ``data.observations`` order) of each block, earliest times first.
    pointwise
        The held-out term ``log p(y_i | y without i's block)`` of every data row, in data order.
    method
        How the blocks were refitted: ``"nuts"`` or ``"laplace"``.
    """

    blocks: tuple[np.ndarray, ...]
    pointwise: np.ndarray
    method: str

    @property
    def folds(self) -> int:
        """The number of blocks ``K``."""
        return len(self.blocks)

    @property
    def elpd(self) -> float:
        """The K-fold expected log predictive density, the sum of the per-row terms."""
        return float(np.sum(self.pointwise))

    @property
    def se(self) -> float:
        """Its standard error, ``sqrt(n var(pointwise))`` as for PSIS-LOO."""
        return float(np.sqrt(self.pointwise.size * np.var(self.pointwise)))

    @property
    def block_elpd(self) -> np.ndarray:
        """The elpd of each block (the sum of its rows' terms); these sum to :attr:`elpd`."""
        return np.array([float(np.sum(self.pointwise[b])) for b in self.blocks])


def time_blocks(data: CohortData, folds: int) -> tuple[np.ndarray, ...]:
    """Rows of ``data`` in ``folds`` blocks of consecutive distinct time points (as equal in size as possible).

    Parameters
    ----------
    data
        The cohort table.
    folds
        The number of blocks, between 2 and the number of distinct time points.

    Returns
    -------
    tuple of numpy.ndarray
        The row indices (0-based, in ``data.observations`` order) of each block, earliest times first.
    """
    times = data.observations["time"].to_numpy(float)
    distinct = np.unique(times)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not 2 <= folds <= distinct.size:
        raise CohortodeError(f"folds must be an integer between 2 and the number of distinct time points "
                             f"({distinct.size}), got {folds!r}")
    groups = np.array_split(distinct, int(folds))
    return tuple(np.flatnonzero(np.isin(times, g)) for g in groups)


def kfold(fit: Fit, folds: int = DEFAULT_FOLDS, *, seed: int = 0) -> KFold:
    """K-fold cross-validation of ``fit`` over blocks of consecutive time points (see the module docstring).

    Parameters
    ----------
    fit
        A NUTS or Laplace fit.
    folds
        The number of blocks ``K`` (between 2 and the number of distinct time points); one refit per block.
    seed
        Seed of the refits (block ``j`` uses ``seed + j``).

    Returns
    -------
    KFold
    """
    if fit.method not in ("nuts", "laplace"):
        raise CohortodeError(f"K-fold cross-validation needs a NUTS or Laplace fit, got method {fit.method!r}")
    blocks = time_blocks(fit.data, folds)
    pointwise = np.full(len(fit.data.observations), np.nan)
    masked = RowMaskedPosterior(fit) if fit.method == "laplace" else None  # compiled once for all blocks
    for j, rows in enumerate(blocks):
        pointwise[rows] = heldout_terms(fit, rows, seed=seed + j, masked=masked)
    return KFold(blocks, pointwise, fit.method)
