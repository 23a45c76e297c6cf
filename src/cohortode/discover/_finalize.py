"""Full NUTS fits of the screening survivors and their comparison.

The adapter to :func:`cohortode.fit` (NUTS) and to the comparison: until ``Fit`` pickles and ``cohortode.compare``
exists, a worker returns the fit's ``InferenceData`` and the comparison is ``arviz.compare(method="stacking")`` on
them. Switching to the saved ``Fit`` objects and ``cohortode.compare`` touches this module only.
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
    idata
        The fit's ``arviz.InferenceData`` (posterior, pointwise log-likelihood, posterior predictive), or ``None``.
    diagnostics
        The fit's diagnostics dict (R-hat, ESS, divergences).
    seconds
        Wall time.
    """

    structure_hash: str
    status: str
    reason: str = ""
    idata: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def nuts_structure(model: Any, data: Any, *, settings: Any, seed: int) -> FinalResult:
    """NUTS fit of one structure (chains one after another in this process); never raises for a numerical failure."""
    start = time.perf_counter()
    import cohortode

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = cohortode.fit(model, data, method="nuts", engine=settings.engine, error=settings.error,
                                num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                                num_chains=settings.num_chains, n_starts=settings.screen_starts, seed=seed,
                                workers=1, warn=False)
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result
        return FinalResult(model.structure_hash, "failed", reason=f"{type(exc).__name__}: {exc}",
                           seconds=time.perf_counter() - start)
    diag = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in fit.diagnostics.items()}
    return FinalResult(model.structure_hash, "fitted", idata=fit.idata, diagnostics=diag,
                       seconds=time.perf_counter() - start)


def compare_final(idatas: dict[str, Any], log_priors: dict[str, float] | None = None) -> pd.DataFrame:
    """Comparison table of NUTS fits: PSIS-LOO elpd and stacking weights (``arviz.compare``).

    Parameters
    ----------
    idatas
        Name -> ``InferenceData``.
    log_priors
        Unused until ``cohortode.compare`` takes a structure prior; kept so callers need not change.

    Returns
    -------
    pandas.DataFrame
        One row per structure, best first: ``name``, ``rank``, ``elpd_loo``, ``se``, ``p_loo``, ``elpd_diff``,
        ``weight_stacking``, ``warning``.
    """
    import arviz as az

    if not idatas:
        return pd.DataFrame(columns=["name", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "weight_stacking"])
    if len(idatas) == 1:
        name, idata = next(iter(idatas.items()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(idata)
        return pd.DataFrame([{"name": name, "rank": 0, "elpd_loo": float(loo.elpd_loo), "se": float(loo.se),
                              "p_loo": float(loo.p_loo), "elpd_diff": 0.0, "weight_stacking": 1.0,
                              "warning": bool(loo.warning)}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(dict(idatas), ic="loo", method="stacking")
    table = table.rename(columns={"elpd_loo": "elpd_loo", "weight": "weight_stacking"})
    table.index.name = "name"
    table = table.reset_index()
    keep = [c for c in ("name", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "weight_stacking", "warning")
            if c in table.columns]
    table = table[keep].copy()
    table["elpd_loo"] = table["elpd_loo"].astype(float)
    table = table.sort_values(["weight_stacking", "elpd_loo", "name"], ascending=[False, False, True],
                              kind="mergesort").reset_index(drop=True)
    table["rank"] = range(len(table))
    return table
