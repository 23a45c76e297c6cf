""":class:`CountFit`: a fit to counts of one population (outputs on the count scale)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._errors import CohortodeError
from ..likelihood import CountLikelihood
from ._count_predict import count_draws
from ._fit import Fit

__all__ = ["CountFit"]


class CountFit(Fit):
    """The result of :func:`~cohortode.fit` on a :class:`~cohortode.CountData`.

    As :class:`Fit`, except that ``idata`` holds ``log_likelihood`` ``y`` (one entry per data row),
    ``posterior_predictive`` ``count`` (a replicated observed count per row) and ``observed_data`` ``count``, and
    :meth:`predict` returns counts. It pickles, and :meth:`save` writes the same folder as :meth:`Fit.save` (the
    count table under ``data/``), which :meth:`load` and :meth:`Fit.load` read back as a ``CountFit``.
    """

    likelihood: CountLikelihood

    @classmethod
    def load(cls, path: str | os.PathLike) -> CountFit:
        """Read a count fit written by :meth:`save`.

        Raises
        ------
        CohortodeError
            Naming the file that is missing, truncated or edited, or when the folder holds a fit to a mean/SD/n
            table (read that with :meth:`Fit.load`).
        """
        from ._fit_io import load_fit

        fit = load_fit(path)
        if not isinstance(fit, CountFit):
            raise CohortodeError(f"{path}: holds a fit to a mean/SD/n cohort table, not to counts; read it with "
                                 f"cohortode.Fit.load")
        return fit

    def _inference_data(self, seed: int) -> az.InferenceData:
        lik = self.likelihood
        chains, draws = next(iter(self._draws.values())).shape
        flat = {k: jnp.asarray(v.reshape(-1)) for k, v in self._draws.items()}
        pointwise, mu = (np.asarray(a) for a in self._row_function()(flat))
        replicated = self._replicate(mu, {k: np.asarray(v) for k, v in flat.items()}, np.random.default_rng(seed))
        shape = (chains, draws, lik.n_rows)
        extra = {}
        if self._diverging is not None:
            extra["sample_stats"] = {"diverging": np.asarray(self._diverging, dtype=bool)}
        if getattr(self, "_laplace_log_weights", None) is not None:  # saved with the fit, read back by load
            extra["sample_stats"] = {"laplace_log_weight": np.reshape(self._laplace_log_weights, (chains, draws))}
        return az.from_dict(
            **extra,
            posterior={k: np.asarray(v) for k, v in self._draws.items()},
            log_likelihood={"y": pointwise.reshape(shape)},
            posterior_predictive={"count": replicated.reshape(shape)},
            observed_data={"count": np.asarray(lik.k)},
            coords={"row": np.arange(lik.n_rows)},
            dims={"y": ["row"], "count": ["row"]},
        )

    def _row_quantities(self, values):
        """Pointwise log-likelihood and expected observed count of every row (one pass; used by
        :meth:`pointwise_loglik` and the exact-refit fallback of :func:`cohortode.compare`)."""
        lik = self.likelihood
        mu = lik.row_expected(values)
        return lik.pointwise_from_expected(values, mu), mu

    def map_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row ``(pointwise log-likelihood, expected observed count, predictive variance)`` at the MAP.

        The variance is that of the replicated observed counts over the fit's draws (parameter uncertainty and
        observation noise; the expected count itself, as for Poisson noise, when the fit has one draw)."""
        values = {k: jnp.full((1,), v) for k, v in self.map.values.items()}
        pointwise, mu = (np.asarray(a)[0] for a in self._row_function()(values))
        replicated = np.asarray(self.idata.posterior_predictive["count"].values, dtype=float)
        replicated = replicated.reshape(-1, replicated.shape[-1])
        var = replicated.var(axis=0) if replicated.shape[0] > 1 else np.maximum(mu, 1.0)
        return pointwise, mu, np.maximum(var, 1.0)

    def _replicate(self, mu: np.ndarray, flat: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """A replicated observed count per draw and row, given the expected counts ``mu`` (draws, rows)."""
        lik = self.likelihood
        population = np.asarray(lik.population)
        out = np.full(mu.shape, np.nan)
        for noise in lik.noise:
            r = noise.rows
            params = {p: flat[site][:, None] for p, site in noise.sites.items()}
            out[:, r] = noise.model.sample(rng, population[r], mu[:, r], params)
        return out

    def predict(self, times: Sequence[float] | None = None, cohort: str | None = None, *, level: float = 0.9,
                max_draws: int = 200, seed: int = 0) -> pd.DataFrame:
        """Expected and observed counts at ``times``, with credible and predictive bands.

        Parameters
        ----------
        times
            Prediction times (default: 50 points from 0 to the cohort's last observation).
        cohort
            One cohort (default: all).
        level
            Probability of the bands.
        max_draws
            Posterior draws used (a random subset of this size).
        seed
            Seed of the subset and of the replicated counts.

        Returns
        -------
        pandas.DataFrame
            One row per cohort, observed observable and time: ``population`` (of the observable's last data row in
            the cohort; NaN without one), ``fraction`` with ``fraction_lower``/``fraction_upper`` (posterior median
            and band of the model's expected fraction; NaN without a population), ``expected`` with
            ``expected_lower``/``expected_upper`` (expected observed count, reporting fraction included), and
            ``observed_lower``/``observed_upper`` (predictive interval of an observed count).
        """
        lik = self.likelihood
        layouts = [lay for lay in lik.layouts if cohort is None or lay.name == cohort]
        if not layouts:
            raise ValueError(f"unknown cohort {cohort!r}; cohorts are {[lay.name for lay in lik.layouts]}")
        flat = self._flat_draws(max_draws, seed)
        rng = np.random.default_rng(seed)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        frames = []
        for layout in layouts:
            ts = tuple(float(t) for t in (np.linspace(0, max(layout.times), 50) if times is None else times))
            ts = tuple(sorted(set(ts)))
            for d in count_draws(self, layout, ts, flat, rng):
                frame = {"cohort": layout.name, "observable": d.observable, "time": ts, "population": d.population}
                for key, x in (("fraction", d.fraction), ("expected", d.expected)):
                    finite = np.isfinite(x).any()
                    frame[key] = np.nanmedian(x, axis=0) if finite else np.nan
                    frame[f"{key}_lower"] = np.nanquantile(x, lo, axis=0) if finite else np.nan
                    frame[f"{key}_upper"] = np.nanquantile(x, hi, axis=0) if finite else np.nan
                frame["observed_lower"] = np.nanquantile(d.observed, lo, axis=0)
                frame["observed_upper"] = np.nanquantile(d.observed, hi, axis=0)
                frames.append(pd.DataFrame(frame))
        return pd.concat(frames, ignore_index=True)
