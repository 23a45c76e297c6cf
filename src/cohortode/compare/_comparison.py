"""``compare``: the model-comparison table of fitted structures, and the :class:`Comparison` it returns."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from .._errors import CohortodeError, DiagnosticsWarning
from ..infer import Fit
from ._marginal import MarginalLikelihood, bridge_sampling, importance_sampling
from ._kfold import DEFAULT_FOLDS, KFold, kfold
from ._refit import RowMaskedPosterior, heldout_terms

if TYPE_CHECKING:
    from ..ensemble import Ensemble

__all__ = ["Comparison", "compare", "TABLE_COLUMNS"]

TABLE_COLUMNS = ("rank", "name", "equations", "n_parameters", "elpd_loo", "se", "elpd_diff", "dse", "p_loo",
                 "n_high_k", "refitted_rows", "elpd_method", "weight_stacking", "weight_pseudo_bma",
                 "log_marginal_likelihood", "log_marginal_likelihood_error", "posterior_probability",
                 "map_minus2_loglik", "aic", "bic", "max_r_hat", "min_ess_bulk", "divergences")
"""Columns of :attr:`Comparison.table`, in order."""

MAX_REFITS = 10
"""Default cap on exact refits per structure (worst rows first); the other bad rows keep their PSIS values."""


@dataclass
class Comparison:
    """The comparison of fitted structures.

    Attributes
    ----------
    table
        One row per structure, best (highest ``elpd_loo``) first; columns :data:`TABLE_COLUMNS`. ``elpd_diff`` and
        ``dse`` are relative to the best structure; ``n_high_k`` counts rows whose Pareto k exceeded the threshold;
        ``refitted_rows`` lists the data rows (0-based) whose leave-one-out term was computed by an exact refit;
        ``elpd_method`` says what produced ``elpd_loo``, ``se`` and ``p_loo``: ``"psis-loo"``,
        ``"psis-loo + exact refits"`` or ``"kfold(K) over time blocks"`` (then ``elpd_loo`` is the K-fold elpd);
        ``map_minus2_loglik``, ``aic`` and ``bic`` use the log-likelihood at the posterior mode (MAP), with the
        number of sampled sites as the number of parameters and the number of data rows as ``n``;
        ``max_r_hat``, ``min_ess_bulk`` are NaN for Laplace fits.
    fits
        The fits by name.
    loo
        The ``arviz.ELPDData`` per structure, with refitted rows' terms replaced by their exact values.
    marginal
        The marginal-likelihood estimate per structure.
    pareto_k_threshold
        Pareto k above which a row's PSIS estimate was deemed unreliable.
    kfold
        The K-fold cross-validation per structure (``compare(..., cv="kfold")``), else empty.
    """

    table: pd.DataFrame
    fits: dict[str, Fit]
    loo: dict[str, az.ELPDData]
    marginal: dict[str, MarginalLikelihood] = field(default_factory=dict)
    pareto_k_threshold: float = 0.7
    kfold: dict[str, KFold] = field(default_factory=dict)

    def weights(self, kind: Literal["stacking", "pseudo_bma", "posterior"] = "stacking") -> dict[str, float]:
        """Weights by structure name: ``"stacking"``, ``"pseudo_bma"`` (pseudo-BMA+) or ``"posterior"`` (BMA)."""
        column = {"stacking": "weight_stacking", "pseudo_bma": "weight_pseudo_bma",
                  "posterior": "posterior_probability"}.get(kind)
        if column is None:
            raise ValueError(f"unknown weights {kind!r}; use 'stacking', 'pseudo_bma' or 'posterior'")
        return {str(n): float(w) for n, w in zip(self.table["name"], self.table[column])}

    def to_ensemble(self, weights: Literal["stacking", "pseudo_bma", "posterior"] = "stacking") -> Ensemble:
        """An :class:`~cohortode.Ensemble` of the compared fits with the chosen weights."""
        from ..ensemble import Ensemble

        w = self.weights(weights)
        total = sum(w.values())
        if not np.isfinite(total) or total <= 0:
            raise ValueError(f"no usable {weights!r} weights in the comparison: {w}")
        return Ensemble.from_fits({name: self.fits[name] for name in w}, {k: v / total for k, v in w.items()})

    def __repr__(self) -> str:
        cols = ["rank", "name", "elpd_loo", "se", "weight_stacking", "posterior_probability"]
        return f"Comparison of {len(self.table)} structures\n{self.table[cols].to_string(index=False)}"


def compare(fits: Mapping[str, Fit] | Sequence[Fit], *, structure_log_prior: Mapping[str, float] | None = None,
            pareto_k_threshold: float | None = None, refit: bool = True, max_refits: int = MAX_REFITS,
            marginal_likelihood: bool = True, cv: Literal["loo", "kfold"] = "loo", folds: int = DEFAULT_FOLDS,
            seed: int = 0) -> Comparison:
    """Compare fitted structures of the same data: LOO, stacking, pseudo-BMA+ and posterior model probabilities.

    Parameters
    ----------
    fits
        NUTS or Laplace fits of the same cohort table, by name (or a sequence: names from the models, else
        ``m1, m2, ...``).
    structure_log_prior
        Prior log-probability of each structure (e.g. a proposer's log-prior), by name; ``None`` is uniform. It
        enters the posterior model probabilities only.
    pareto_k_threshold
        Pareto k above which a row's leave-one-out term is recomputed by an exact refit; ``None`` uses arviz's
        sample-size dependent threshold (``min(1 - 1/log10(S), 0.7)``).
    refit
        Refit rows above the threshold (NUTS warm-started from the full posterior, or Laplace).
    max_refits
        At most this many refits per structure, the rows with the highest k first; the other rows above the
        threshold keep their PSIS values and a :class:`~cohortode.DiagnosticsWarning` names them.
    marginal_likelihood
        Estimate the log marginal likelihoods (bridge sampling from NUTS draws, importance sampling for Laplace
        fits) and the posterior model probabilities; ``False`` leaves them NaN.
    cv
        ``"loo"``: PSIS-LOO with exact refits of rows above the threshold. ``"kfold"``: K-fold cross-validation
        over ``folds`` blocks of consecutive time points (:func:`~cohortode.compare.kfold`, one refit per block
        and structure), the option when many rows have a high Pareto k; ``refit`` and ``max_refits`` are then
        unused, ``n_high_k`` still counts PSIS-LOO's bad rows.
    folds
        The number of blocks for ``cv="kfold"``.
    seed
        Seed of the refits, the proposals and the Bayesian bootstrap of pseudo-BMA+.

    Returns
    -------
    Comparison
    """
    named = _named(fits)
    if len(named) < 1:
        raise ValueError("compare needs at least one fit")
    hashes = {name: _data_hash(f) for name, f in named.items()}
    if len(set(hashes.values())) > 1:
        raise CohortodeError(f"compare needs fits of the same data; the fits' data differ: {hashes}")
    if structure_log_prior is not None:
        missing = [n for n in named if n not in structure_log_prior]
        if missing:
            raise ValueError(f"structure_log_prior has no value for {missing}; names are {list(named)}")
    if cv not in ("loo", "kfold"):
        raise ValueError(f"unknown cv {cv!r}; use 'loo' (PSIS-LOO with exact refits) or 'kfold'")
    loos, refitted, n_high, marginals, thresholds, kfolds, methods = {}, {}, {}, {}, [], {}, {}
    for i, (name, f) in enumerate(named.items()):
        if f.method not in ("nuts", "laplace"):
            raise CohortodeError(f"compare needs NUTS or Laplace fits; {name!r} is a {f.method!r} fit")
        loo = f.loo(warn=False)
        threshold = float(loo.good_k) if pareto_k_threshold is None else float(pareto_k_threshold)
        thresholds.append(threshold)
        k = np.asarray(loo.pareto_k)
        bad = [int(r) for r in np.argsort(-k, kind="stable") if k[r] > threshold]  # worst first
        n_high[name] = len(bad)
        refitted[name] = []
        methods[name] = "psis-loo"
        if cv == "kfold":
            kfolds[name] = kfold(f, folds, seed=seed + 1000 * i)
            loo = _with_exact_terms(loo, dict(enumerate(kfolds[name].pointwise)), threshold)
            methods[name] = f"kfold({kfolds[name].folds}) over time blocks"
        elif refit and bad:
            chosen = sorted(bad[:max_refits])
            if len(bad) > max_refits:
                warnings.warn(f"{name}: {len(bad)} rows have Pareto k above {threshold:.2f}, more than "
                              f"max_refits={max_refits}; the {max_refits} worst are refitted, the PSIS-LOO terms of "
                              f"rows {sorted(bad[max_refits:])} are kept (unreliable)", DiagnosticsWarning,
                              stacklevel=2)
            if chosen:
                masked = RowMaskedPosterior(f) if f.method == "laplace" else None  # compiled once for all rows
                exact = {row: float(heldout_terms(f, [row], seed=seed + 1000 * i + row, masked=masked)[0])
                         for row in chosen}
                loo = _with_exact_terms(loo, exact, threshold)
                refitted[name] = chosen
                methods[name] = "psis-loo + exact refits"
        loos[name] = loo
        marginals[name] = _marginal(f, seed) if marginal_likelihood else MarginalLikelihood(np.nan, np.nan, "none")
    table = _table(named, loos, refitted, methods, n_high, marginals, structure_log_prior, seed)
    return Comparison(table, dict(named), loos, marginals, float(min(thresholds)), kfolds)


# ------------------------------------------------------------------------------------------------- helpers
def _named(fits: Mapping[str, Fit] | Sequence[Fit]) -> dict[str, Fit]:
    if isinstance(fits, Mapping):
        return {str(k): v for k, v in fits.items()}
    names = [f.model.name or f"m{i + 1}" for i, f in enumerate(fits)]
    if len(set(names)) < len(names):
        names = [f"m{i + 1}" for i in range(len(fits))]
    return dict(zip(names, fits))


def _data_hash(f: Fit) -> str:
    from ..data import data_hash

    return data_hash(f.data)


def _with_exact_terms(loo: az.ELPDData, exact: dict[int, float], threshold: float) -> az.ELPDData:
    """A copy of ``loo`` whose rows in ``exact`` carry the exact (refit or K-fold) terms (totals, SE, p_loo)."""
    out = loo.copy()
    loo_i = loo["loo_i"].copy()
    values = np.asarray(loo_i.values, float).copy()
    for row, value in exact.items():
        values[row] = value
    loo_i.values = values
    elpd = float(values.sum())
    out["loo_i"] = loo_i
    out["p_loo"] = float(loo["p_loo"]) + float(loo["elpd_loo"]) - elpd
    out["elpd_loo"] = elpd
    out["se"] = float(np.sqrt(values.size * np.var(values)))
    k = np.asarray(loo["pareto_k"])
    remaining = np.ones(k.size, bool)
    remaining[list(exact)] = False
    out["warning"] = bool(np.any(k[remaining] > threshold))
    return out


def _marginal(f: Fit, seed: int) -> MarginalLikelihood:
    problem = f.problem
    names = problem.site_names

    def log_density(z):
        return np.asarray(problem.batch_log_density(np.asarray(z, float)))
    z = problem.unconstrain_draws({k: f._draws[k] for k in names})  # (chain, draw, site)
    if f.method == "nuts":
        return bridge_sampling(log_density, z, seed=seed)
    flat = z.reshape(-1, len(names))
    return importance_sampling(log_density, flat.mean(axis=0), np.cov(flat, rowvar=False), seed=seed)


def _table(named, loos, refitted, methods, n_high, marginals, structure_log_prior, seed) -> pd.DataFrame:
    with warnings.catch_warnings():
        # arviz repeats the Pareto-k warning already counted in n_high_k
        warnings.filterwarnings("ignore", message=r".*[Pp]areto.*", category=UserWarning)
        if len(named) > 1:
            stacking = az.compare(loos, method="stacking")
            bma = az.compare(loos, method="BB-pseudo-BMA", seed=seed)
        else:
            stacking = bma = None
    names = list(named)
    log_ml = np.array([marginals[n].log_marginal_likelihood for n in names])
    log_prior = np.array([0.0 if structure_log_prior is None else float(structure_log_prior[n]) for n in names])
    log_post = log_ml + log_prior
    posterior = np.exp(log_post - logsumexp(log_post)) if np.all(np.isfinite(log_post)) else np.full(len(names),
                                                                                                    np.nan)
    rows = []
    for j, name in enumerate(names):
        f, loo = named[name], loos[name]
        k = f.problem.dimension
        n_rows = f.likelihood.n_rows
        # through the fit's compiled per-row function (evaluating the likelihood eagerly runs an ODE solver op by op)
        m2ll = -2.0 * float(np.sum(f.pointwise_loglik({n: np.array([v]) for n, v in f.map.values.items()})))
        d = f.diagnostics
        nuts = f.method == "nuts"
        rows.append({
            "name": name, "equations": "; ".join(f.model.equations()), "n_parameters": k,
            "elpd_loo": float(loo["elpd_loo"]), "se": float(loo["se"]),
            "elpd_diff": float(stacking.loc[name, "elpd_diff"]) if stacking is not None else 0.0,
            "dse": float(stacking.loc[name, "dse"]) if stacking is not None else 0.0,
            "p_loo": float(loo["p_loo"]), "n_high_k": n_high[name], "refitted_rows": tuple(refitted[name]),
            "elpd_method": methods[name],
            "weight_stacking": float(stacking.loc[name, "weight"]) if stacking is not None else 1.0,
            "weight_pseudo_bma": float(bma.loc[name, "weight"]) if bma is not None else 1.0,
            "log_marginal_likelihood": marginals[name].log_marginal_likelihood,
            "log_marginal_likelihood_error": marginals[name].error,
            "posterior_probability": float(posterior[j]),
            "map_minus2_loglik": m2ll, "aic": m2ll + 2 * k, "bic": m2ll + k * np.log(n_rows),
            "max_r_hat": float(d["max_r_hat"]) if nuts else np.nan,
            "min_ess_bulk": float(d["min_ess_bulk"]) if nuts else np.nan,
            "divergences": int(d["divergences"]) if nuts else 0,
        })
    table = pd.DataFrame(rows).sort_values("elpd_loo", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(len(table)))
    return table[list(TABLE_COLUMNS)]
