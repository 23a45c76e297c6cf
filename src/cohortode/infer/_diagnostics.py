"""Sampler diagnostics with named thresholds."""

from __future__ import annotations

import warnings

import arviz as az
import pandas as pd

from .._errors import DiagnosticsWarning

__all__ = ["GOOD_RHAT", "MIN_ESS_PER_CHAIN", "diagnose"]

GOOD_RHAT = 1.01
"""Largest acceptable rank-normalised split R-hat (Vehtari et al. 2021, Bayesian Analysis 16:667)."""
MIN_ESS_PER_CHAIN = 100
"""Smallest acceptable bulk and tail effective sample size per chain (the same reference)."""


def diagnose(idata: az.InferenceData, divergences: int, *, warn: bool = True) -> tuple[dict, pd.DataFrame]:
    """R-hat, bulk and tail ESS per parameter and the divergence count; warns when a threshold fails."""
    post = idata.posterior
    n_chains = post.sizes["chain"]
    rhat = az.rhat(post)
    ess_bulk = az.ess(post, method="bulk")
    ess_tail = az.ess(post, method="tail")
    rows = []
    for name in post.data_vars:
        rows.append({"parameter": name, "r_hat": float(rhat[name]), "ess_bulk": float(ess_bulk[name]),
                     "ess_tail": float(ess_tail[name])})
    table = pd.DataFrame(rows).set_index("parameter")
    summary = {
        "max_r_hat": float(table["r_hat"].max()),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "min_ess_tail": float(table["ess_tail"].min()),
        "divergences": int(divergences),
        "chains": int(n_chains),
        "draws": int(post.sizes["draw"]),
    }
    problems = []
    if n_chains >= 2 and not summary["max_r_hat"] <= GOOD_RHAT:
        problems.append(f"max R-hat {summary['max_r_hat']:.3f} > {GOOD_RHAT}")
    min_ess = MIN_ESS_PER_CHAIN * n_chains
    if summary["min_ess_bulk"] < min_ess or summary["min_ess_tail"] < min_ess:
        problems.append(f"min ESS (bulk {summary['min_ess_bulk']:.0f}, tail {summary['min_ess_tail']:.0f}) "
                        f"< {min_ess}")
    if divergences > 0:
        problems.append(f"{divergences} divergent transitions")
    summary["ok"] = not problems
    summary["problems"] = problems
    if problems and warn:
        warnings.warn("sampler diagnostics failed: " + "; ".join(problems) +
                      ". Run longer (num_samples, num_warmup), raise target_accept_prob, or simplify the structure.",
                      DiagnosticsWarning, stacklevel=3)
    return summary, table
