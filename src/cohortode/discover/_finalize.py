"""Full NUTS fits of the screening survivors, their comparison (:func:`cohortode.compare`) and the ensemble.

The only module of the loop that calls :func:`cohortode.fit` for NUTS and :func:`cohortode.compare`. A worker
returns the :class:`~cohortode.Fit` itself (it pickles); the run directory keeps it with :meth:`Fit.save`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["FinalResult", "nuts_structure", "compare_final"]


@dataclass
class FinalResult:
    """The NUTS fit of one structure.

    Attributes
    ----------
    structure_hash
        The structure's hash.
    status
        ``"fitted"`` or ``"failed"``.
    reason
        Why it failed.
    fit
        The :class:`~cohortode.Fit`, or ``None``.
    diagnostics
        The fit's diagnostics dict (R-hat, ESS, divergences).
    seconds
        Wall time.
    """

    structure_hash: str
    status: str
    reason: str = ""
    fit: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def nuts_structure(model: Any, data: Any, *, settings: Any, seed: int,
                   init: dict[str, float] | None = None) -> FinalResult:
    """NUTS fit of one structure (chains one after another in this process); never raises for a numerical failure.

    ``init`` (the screening optimum) is an extra MAP start.
    """
    start = time.perf_counter()
    import cohortode

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = cohortode.fit(model, data, method="nuts", engine=settings.engine, error=settings.error,
                                num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                                num_chains=settings.num_chains, n_starts=settings.screen_starts, seed=seed,
                                workers=1, warn=False, init=[dict(init)] if init else ())
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return FinalResult(model.structure_hash, "failed", reason=reason, seconds=time.perf_counter() - start)
    diag = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in fit.diagnostics.items() if isinstance(v, (int, float, str, bool))}
    return FinalResult(model.structure_hash, "fitted", fit=fit, diagnostics=diag,
                       seconds=time.perf_counter() - start)


def compare_final(fits: dict[str, Any], log_priors: dict[str, float] | None = None, *,
                  seed: int = 0) -> tuple[pd.DataFrame, Any]:
    """Compare the NUTS fits and weigh them.

    Parameters
    ----------
    fits
        Structure hash -> :class:`~cohortode.Fit`.
    log_priors
        Structure hash -> log prior of the structure (a language model's plausibility score), or ``None``.
    seed
        Seed of the comparison.

    Returns
    -------
    (pandas.DataFrame, Ensemble or None)
        :attr:`cohortode.Comparison.table` (best first; ``name`` is the structure hash) and the stacking-weighted
        :class:`~cohortode.Ensemble`.
    """
    import cohortode

    if not fits:
        return pd.DataFrame(columns=["rank", "name", "elpd_loo", "weight_stacking"]), None
    priors = None
    if log_priors is not None and all(log_priors.get(h) is not None for h in fits):
        priors = {h: float(log_priors[h]) for h in fits}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparison = cohortode.compare(dict(fits), structure_log_prior=priors, refit=False,
                                       marginal_likelihood=False, seed=seed)
        ensemble = comparison.to_ensemble("stacking")
    table = comparison.table.sort_values(["weight_stacking", "elpd_loo", "name"], ascending=[False, False, True],
                                         kind="mergesort").reset_index(drop=True)
    return table, ensemble
