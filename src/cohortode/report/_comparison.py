"""A model-comparison table for fits: :func:`cohortode.compare` when present, else PSIS-LOO through arviz."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["compare_fits", "COLUMNS"]

#: Columns of the comparison table the report shows first (others follow when present).
COLUMNS = ("rank", "name", "equations", "n_parameters", "elpd_loo", "se", "elpd_diff", "dse", "p_loo",
           "n_high_k", "n_high_pareto_k", "refitted_rows", "weight_stacking", "weight_pseudo_bma",
           "posterior_probability")


def compare_fits(fits: Mapping[str, object], *, seed: int = 0, **options) -> pd.DataFrame:
    """One row per fit: LOO, its standard error, and stacking and pseudo-BMA+ weights.

    Uses :func:`cohortode.compare` (its ``.table``; ``options`` are passed on, e.g. ``refit=False``) when the package
    provides it; otherwise arviz's ``compare`` (stacking, and Bayesian-bootstrap pseudo-BMA+) on the fits' pointwise
    log-likelihoods.
    """
    import cohortode

    if not fits:
        raise ValueError("compare_fits needs at least one fit.")
    if hasattr(cohortode, "compare"):
        result = cohortode.compare(dict(fits), seed=seed, **options)
        return getattr(result, "table", result)
    import arviz as az

    names = list(fits)
    with warnings.catch_warnings():
        # arviz's generic Pareto-k warnings: the count per structure is a column of the table instead
        warnings.simplefilter("ignore")
        loos = {n: az.loo(fits[n].idata, pointwise=True) for n in names}
        if len(names) > 1:
            idatas = {n: fits[n].idata for n in names}
            stack = az.compare(idatas, method="stacking")
            bma = az.compare(idatas, method="BB-pseudo-BMA", seed=np.random.default_rng(seed).integers(2**31))
            w_stack = stack["weight"].to_dict()
            w_bma = bma["weight"].to_dict()
        else:
            w_stack = w_bma = {names[0]: 1.0}
    best = max(float(loos[n].elpd_loo) for n in names)
    rows = []
    for n in names:
        loo = loos[n]
        fit = fits[n]
        k = np.asarray(loo.pareto_k)
        rows.append({
            "name": n, "equations": "; ".join(fit.model.equations()), "n_parameters": len(fit.model.parameter_names),
            "elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "elpd_diff": best - float(loo.elpd_loo),
            "dse": np.nan, "p_loo": float(loo.p_loo),
            "n_high_k": int((k > float(getattr(loo, "good_k", 0.7))).sum()),
            "weight_stacking": float(w_stack.get(n, 0.0)), "weight_pseudo_bma": float(w_bma.get(n, 0.0)),
            "method": fit.method,
        })
    table = pd.DataFrame(rows).sort_values("elpd_loo", ascending=False).reset_index(drop=True)
    if len(names) > 1:
        table["dse"] = [float(stack.loc[n, "dse"]) for n in table["name"]]
    else:
        table["dse"] = 0.0
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
