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

__all__ = ["FinalResult", "StartedFit", "nuts_structure", "nuts_chain", "assemble", "compare_final"]


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


@dataclass
class StartedFit:
    """The start of one structure's NUTS fit (MAP and metric), whose chains still have to run, each a task.

    Attributes
    ----------
    structure_hash
        The structure's hash.
    start
        The :class:`~cohortode.infer.NutsStart` (it pickles; each chain task gets it).
    seconds
        Wall time of the start.
    """

    structure_hash: str
    start: Any
    seconds: float


def nuts_structure(model: Any, data: Any, *, settings: Any, seed: int, init: dict[str, float] | None = None,
                   split_chains: bool = False) -> FinalResult | StartedFit:
    """NUTS fit of one structure; never raises for a numerical failure.

    ``init`` (the screening optimum) is an extra MAP start. With ``split_chains`` only the start is computed here
    (a :class:`StartedFit`; run each chain with :func:`nuts_chain`, then :func:`assemble`), so that the chains of
    one structure can run on several workers; otherwise the chains run one after another in this process.
    """
    start = time.perf_counter()
    import cohortode
    from cohortode.infer import start_nuts

    options = dict(engine=settings.engine, error=settings.error, num_warmup=settings.num_warmup,
                   num_samples=settings.num_samples, num_chains=settings.num_chains, n_starts=settings.screen_starts,
                   seed=seed, warn=False, init=[dict(init)] if init else ())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if split_chains:
                begun = start_nuts(model, data, **options)
                return StartedFit(model.structure_hash, begun, time.perf_counter() - start)
            fit = cohortode.fit(model, data, method="nuts", workers=1, **options)
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return FinalResult(model.structure_hash, "failed", reason=reason, seconds=time.perf_counter() - start)
    return _fitted(model.structure_hash, fit, time.perf_counter() - start)


def nuts_chain(start: Any, index: int) -> Any:
    """Chain ``index`` of a started fit (:meth:`cohortode.infer.NutsStart.chain`), in this worker."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return start.chain(index)


def assemble(started: StartedFit, chains: list[Any], seconds: float) -> FinalResult:
    """The fit of ``started`` from all its chains (in chain order); ``seconds`` is the work of start and chains."""
    from cohortode.infer import fit_from_chains

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_from_chains(started.start, chains)
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result
        return FinalResult(started.structure_hash, "failed", reason=f"{type(exc).__name__}: {exc}", seconds=seconds)
    return _fitted(started.structure_hash, fit, seconds)


def _fitted(structure_hash: str, fit: Any, seconds: float) -> FinalResult:
    diag = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in fit.diagnostics.items() if isinstance(v, (int, float, str, bool))}
    return FinalResult(structure_hash, "fitted", fit=fit, diagnostics=diag, seconds=seconds)


def compare_final(fits: dict[str, Any], log_priors: dict[str, float] | None = None, *, seed: int = 0,
                  parsimony: bool = False, min_difference: float | None = None) -> tuple[pd.DataFrame, Any]:
    """Compare the NUTS fits and weigh them.

    Parameters
    ----------
    fits
        Structure hash -> :class:`~cohortode.Fit`.
    log_priors
        Structure hash -> log prior of the structure (a language model's plausibility score), or ``None``.
    seed
        Seed of the comparison.
    parsimony
        Leave out of the weights every structure that a structure with fewer parameters predicts as well (elpd_loo
        within one standard error of the difference, or within ``min_difference``,
        :func:`cohortode.compare.parsimony_exclusions`); they keep their row, with weight 0 and the reason in
        ``left_out``.
    min_difference
        The floor of that rule (``None``: :data:`cohortode.compare.PARSIMONY_FLOOR`).

    Returns
    -------
    (pandas.DataFrame, Ensemble or None)
        :attr:`cohortode.Comparison.table` (best first; ``name`` is the structure hash) plus ``left_out``, and the
        stacking-weighted :class:`~cohortode.Ensemble`.
    """
    import cohortode
    from cohortode.compare import PARSIMONY_FLOOR, parsimony_exclusions

    if not fits:
        return pd.DataFrame(columns=["rank", "name", "elpd_loo", "weight_stacking"]), None

    def compared(subset: dict[str, Any]) -> Any:
        priors = None
        if log_priors is not None and all(log_priors.get(h) is not None for h in subset):
            priors = {h: float(log_priors[h]) for h in subset}
        return cohortode.compare(dict(subset), structure_log_prior=priors, refit=False, marginal_likelihood=False,
                                 seed=seed)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparison = compared(fits)
        floor = PARSIMONY_FLOOR if min_difference is None else float(min_difference)
        left_out = parsimony_exclusions(comparison, min_difference=floor) if parsimony and len(fits) > 1 else {}
        weighed = compared({h: f for h, f in fits.items() if h not in left_out}) if left_out else comparison
        ensemble = weighed.to_ensemble("stacking")
    table = comparison.table.copy()
    for kind, column in (("stacking", "weight_stacking"), ("pseudo_bma", "weight_pseudo_bma")):
        weights = weighed.weights(kind)
        table[column] = [float(weights.get(str(n), 0.0)) for n in table["name"]]
    table["left_out"] = [left_out.get(str(n), "") for n in table["name"]]
    table = table.sort_values(["weight_stacking", "elpd_loo", "name"], ascending=[False, False, True],
                              kind="mergesort").reset_index(drop=True)
    return table, ensemble
