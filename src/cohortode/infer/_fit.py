"""``fit``: MAP, Laplace or NUTS fit of one structure to aggregate cohort data, and the :class:`Fit` result."""

from __future__ import annotations

import dataclasses

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import release_compiled_code_if_needed
from .._errors import DiagnosticsWarning
from ..compile import SolverOptions
from ..data import CountData
from ..likelihood import AggregateLikelihood, CountLikelihood, MomentEngine, row_loglik
from ..likelihood._residual import ErrorKind
from ..spec import ODEModel, Prior
from ._approximate_loo import approximate_posterior_loo
from ._chains import ChainResult, NutsSettings, run_chains
from ._diagnostics import GOOD_RHAT, diagnose
from ._metric import inverse_mass_from_draws, inverse_mass_from_hessian
from ._multistart import compiled_objective
from ._nuts_start import NutsStart
from ._optimize import MapResult, find_map, laplace_sample
from ._problem import PROBLEM_PIECES, BayesianProblem, problem_pieces, rebuild_problem
from ._screening import laplace_hessian, screen
from ._settings import FitSettings, Method, engine_spec

__all__ = ["fit", "Fit"]

STIFF_STEP_FRACTION = 0.25
"""Tsit5 needing more than this fraction of ``max_steps`` at the MAP marks a structure as stiff (Kvaerno5 then)."""


class Fit:
    """The result of :func:`fit`: a value that outlives its process.

    A fit pickles (its compiled JAX functions are rebuilt on unpickling, never pickled) and saves to a folder with
    :meth:`save` / :meth:`load`; a loaded or unpickled fit predicts exactly what the original predicted.

    Attributes
    ----------
    model, data, method
        What was fitted, and how.
    settings
        The :class:`FitSettings` it was made with.
    priors
        The prior of every sampled site (defaults resolved, overrides applied).
    idata
        ``arviz.InferenceData`` with groups ``posterior``, ``log_likelihood`` (variable ``y``, one entry per data
        row), ``posterior_predictive`` (``mean`` and ``sd`` per row), ``observed_data`` and, for NUTS,
        ``sample_stats`` (``diverging``). Built on first use.
    map
        The MAP result (every method starts there).
    diagnostics
        Summary dict (``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``ok``, ``problems``,
        and ``convergence``: whether an extension reached its targets); for MAP/Laplace, optimisation facts
        instead.
    diagnostics_table
        Per-parameter R-hat and ESS (NUTS only; empty otherwise).
    solver
        The ODE path used (``"tsit5"``, ``"kvaerno5"``, ``"linear"``, or ``"rk4"`` for a screening fit).
    seconds
        Wall time.
    screening
        Whether this was a screening fit (``fit(..., screening=True)``: fixed-grid ODE path, see
        :mod:`cohortode.infer._screening`); ``diagnostics["screening"]`` then says how it was computed.
    """

    def __init__(self, problem: BayesianProblem, settings: FitSettings, draws: dict[str, np.ndarray],
                 map_result: MapResult, diagnostics: dict, diagnostics_table: pd.DataFrame, seconds: float, *,
                 diverging: np.ndarray | None = None, warn: bool = True, idata: az.InferenceData | None = None,
                 rows: dict[str, tuple[np.ndarray, ...]] | None = None,
                 laplace_log_weights: np.ndarray | None = None):
        self.settings = settings
        self.map = map_result
        self.diagnostics = diagnostics
        self.diagnostics_table = diagnostics_table
        self.seconds = seconds
        self._draws = draws  # name -> (chain, draw)
        self._diverging = diverging  # (chain, draw) for NUTS
        self._warn = warn
        self._idata = idata
        self._rows = rows  # per-row (pointwise, mu, var) of the draws and the MAP, when the fit computed them
        # Laplace fits: log posterior density minus log Gaussian density of every draw (importance weights of
        # the draws against the posterior, used by loo)
        self._laplace_log_weights = laplace_log_weights
        self._row_fn = None
        self._attach(problem)

    def _attach(self, problem: BayesianProblem) -> None:
        self.problem = problem
        self.likelihood = problem.likelihood
        self.model: ODEModel = problem.likelihood.model
        self.data = problem.likelihood.data
        self.solver = problem.likelihood.compiled.solver
        self.map.problem = problem

    @property
    def method(self) -> str:
        """``"map"``, ``"laplace"`` or ``"nuts"``."""
        return self.settings.method

    @property
    def screening(self) -> bool:
        """Whether this was a screening fit (``fit(..., screening=True)``)."""
        return self.settings.screening

    @property
    def seed(self) -> int:
        """The seed of the fit."""
        return self.settings.seed

    @property
    def priors(self) -> dict[str, Prior]:
        """The prior of every sampled site, in sampling order."""
        return dict(self.problem.priors)

    @property
    def idata(self) -> az.InferenceData:
        """The ``arviz.InferenceData`` of the fit (built on first use)."""
        if self._idata is None:
            self._idata = self._inference_data(self.settings.seed)
        return self._idata

    @idata.setter
    def idata(self, value: az.InferenceData) -> None:
        self._idata = value

    # ------------------------------------------------------------------------------------- process boundary
    def __getstate__(self) -> dict:
        return {"settings": self.settings, **problem_pieces(self.problem), "draws": self._draws,
                "diverging": self._diverging,
                "map": {"values": self.map.values, "unconstrained": self.map.unconstrained,
                        "log_density": self.map.log_density, "all_log_densities": self.map.all_log_densities},
                "diagnostics": self.diagnostics, "diagnostics_table": self.diagnostics_table,
                "seconds": self.seconds, "warn": self._warn, "idata": self._idata, "rows": self._rows,
                "laplace_log_weights": self._laplace_log_weights}

    def __setstate__(self, state: dict) -> None:
        problem = rebuild_problem(**{k: state[k] for k in PROBLEM_PIECES})
        self.settings = state["settings"]
        self.map = MapResult(problem=problem, **state["map"])
        self.diagnostics = state["diagnostics"]
        self.diagnostics_table = state["diagnostics_table"]
        self.seconds = state["seconds"]
        self._draws = state["draws"]
        self._diverging = state["diverging"]
        self._warn = state["warn"]
        self._idata = state["idata"]
        self._rows = state.get("rows")
        self._laplace_log_weights = state.get("laplace_log_weights")
        self._row_fn = None
        self._attach(problem)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to the folder ``path`` (created; existing files of a fit are replaced).

        The folder holds ``model.toml``, ``settings.json`` (settings, priors, solver, MAP, data hash),
        ``diagnostics.json``, ``idata.nc`` (the ``InferenceData``, netCDF) and ``data/`` (the cohort tables as CSV).

        Returns
        -------
        pathlib.Path
            The folder.
        """
        from ._fit_io import save_fit

        return save_fit(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Fit:
        """Read a fit written by :meth:`save`.

        A folder holding a fit to counts (:class:`~cohortode.CountData`) gives a :class:`~cohortode.infer.CountFit`.

        Raises
        ------
        CohortodeError
            Naming the file that is missing, truncated or edited (the data tables are checked against their hash).
        """
        from ._fit_io import load_fit

        return load_fit(path)

    # --------------------------------------------------------------------------------------------- idata
    def _flat_draws(self, max_draws: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        flat = {k: v.reshape(-1) for k, v in self._draws.items()}
        n = len(next(iter(flat.values())))
        if max_draws is not None and n > max_draws:
            idx = np.random.default_rng(seed).choice(n, max_draws, replace=False)
            flat = {k: v[idx] for k, v in flat.items()}
        return flat

    def _inference_data(self, seed: int) -> az.InferenceData:
        lik = self.likelihood
        chains, draws = next(iter(self._draws.values())).shape
        if self._rows is not None:
            pointwise, mu, var = self._rows["draws"]
        else:
            flat = {k: jnp.asarray(v.reshape(-1)) for k, v in self._draws.items()}
            pointwise, mu, var = (np.asarray(a) for a in self._row_function()(flat))
        n = np.asarray(lik.n)
        rng = np.random.default_rng(seed)
        mean_rep = mu + np.sqrt(np.maximum(var, 0) / n) * rng.standard_normal(mu.shape)
        k = np.maximum(n - 1, 1)
        sd_rep = np.sqrt(np.maximum(var, 0) * rng.chisquare(k, size=mu.shape) / k)
        shape = (chains, draws)
        rows = np.arange(lik.n_rows)
        obs = self.data.observations
        extra = {}
        if self._diverging is not None:
            extra["sample_stats"] = {"diverging": np.asarray(self._diverging, dtype=bool)}
        if getattr(self, "_laplace_log_weights", None) is not None:  # saved with the fit, read back by load
            extra["sample_stats"] = {"laplace_log_weight": np.reshape(self._laplace_log_weights, (chains, draws))}
        return az.from_dict(
            **extra,
            posterior={k: np.asarray(v) for k, v in self._draws.items()},
            log_likelihood={"y": np.asarray(pointwise).reshape(*shape, -1)},
            posterior_predictive={"mean": mean_rep.reshape(*shape, -1), "sd": sd_rep.reshape(*shape, -1)},
            observed_data={"mean": obs["mean"].to_numpy(float), "sd": obs["sd"].to_numpy(float)},
            coords={"row": rows},
            dims={"y": ["row"], "mean": ["row"], "sd": ["row"]},
        )

    def _row_function(self):
        """``_row_quantities`` over a batch of draws, compiled once per fit (not pickled)."""
        if getattr(self, "_row_fn", None) is None:
            self._row_fn = jax.jit(jax.vmap(self._row_quantities))
        return self._row_fn

    def map_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row ``(pointwise log-likelihood, predicted mean, total variance)`` at the MAP."""
        if self._rows is not None:
            return self._rows["map"]
        values = {k: jnp.full((1,), v) for k, v in self.map.values.items()}
        return tuple(np.asarray(a)[0] for a in self._row_function()(values))

    def _row_quantities(self, values):
        """Pointwise log-likelihood, predicted mean and total variance of every row (one pass)."""
        lik = self.likelihood
        mu, var = lik.row_moments(values)
        return row_loglik(lik.ybar, lik.s2, lik.n, lik.has_sd, mu, var), mu, var

    # ------------------------------------------------------------------------------------------- results
    def summary(self, level: float = 0.9) -> pd.DataFrame:
        """Posterior summary per parameter: mean, sd, median, equal-tailed interval, R-hat and ESS (NUTS)."""
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        rows = []
        for name, v in self._draws.items():
            x = v.reshape(-1)
            rows.append({"parameter": name, "mean": x.mean(), "sd": x.std(ddof=1) if x.size > 1 else 0.0,
                         "median": np.median(x), f"q{lo:.3g}": np.quantile(x, lo), f"q{hi:.3g}": np.quantile(x, hi),
                         "map": self.map.values.get(name, np.nan)})
        table = pd.DataFrame(rows).set_index("parameter")
        if len(self.diagnostics_table):
            table = table.join(self.diagnostics_table)
        return table

    def draws(self, name: str) -> np.ndarray:
        """All draws of one site, flattened over chains."""
        return self._draws[name].reshape(-1)

    def predict(self, times: Sequence[float] | None = None, cohort: str | None = None, *, level: float = 0.9,
                max_draws: int = 200, seed: int = 0, n: float | None = None) -> pd.DataFrame:
        """Predicted cohort mean and SD at ``times`` with credible bands.

        Returns a tidy DataFrame with columns ``cohort, observable, time``; ``mean`` (posterior median of the cohort
        mean) with ``mean_lower``/``mean_upper`` (its credible band at ``level``); ``sd`` (posterior median of the
        SD of one individual's observation, between-subject plus residual) with ``sd_lower``/``sd_upper``; and
        ``observed_mean_lower``/``observed_mean_upper``, the predictive band at ``level`` of the mean that a cohort
        of ``n`` subjects would report (the uncertainty of the mean plus the sampling noise ``sd / sqrt(n)``): the
        band to hold a newly reported mean against. ``n`` defaults to the median size of the cohort's rows.
        """
        from ..ensemble._mixture import cohort_size, observed_mean_draws

        lik = self.likelihood
        layouts = [lay for lay in lik.layouts if cohort is None or lay.name == cohort]
        if not layouts:
            raise ValueError(f"unknown cohort {cohort!r}; cohorts are {[lay.name for lay in lik.layouts]}")
        flat = {k: jnp.asarray(v) for k, v in self._flat_draws(max_draws, seed).items()}
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        frames = []
        for layout in layouts:
            ts = tuple(float(t) for t in (np.linspace(0, max(layout.times), 50) if times is None else times))
            ts = tuple(sorted(set(ts)))

            def one(values, layout=layout, ts=ts):
                m, total = lik.moments(values, layout, ts)
                return m.mean, jnp.sqrt(jnp.maximum(total, 0.0))
            mean, sd = (np.asarray(a) for a in jax.jit(jax.vmap(one))(flat))
            observed = observed_mean_draws(mean, sd, cohort_size(self.data, layout.name, n), seed)
            for j, obs_name in enumerate(self.model.observable_names):
                frames.append(pd.DataFrame({
                    "cohort": layout.name, "observable": obs_name, "time": ts,
                    "mean": np.nanmedian(mean[:, :, j], axis=0),
                    "mean_lower": np.nanquantile(mean[:, :, j], lo, axis=0),
                    "mean_upper": np.nanquantile(mean[:, :, j], hi, axis=0),
                    "sd": np.nanmedian(sd[:, :, j], axis=0),
                    "sd_lower": np.nanquantile(sd[:, :, j], lo, axis=0),
                    "sd_upper": np.nanquantile(sd[:, :, j], hi, axis=0),
                    "observed_mean_lower": np.nanquantile(observed[:, :, j], lo, axis=0),
                    "observed_mean_upper": np.nanquantile(observed[:, :, j], hi, axis=0),
                }))
        return pd.concat(frames, ignore_index=True)

    def loo(self, *, warn: bool | None = None):
        """PSIS-LOO of the fit (``arviz.loo`` on the pointwise log-likelihood, one point per data row).

        For a Laplace fit the draws come from a Gaussian, not from the posterior: their leave-one-out weights are
        corrected by the ratio of the two densities (:func:`~cohortode.infer._approximate_loo.approximate_posterior_loo`,
        Magnusson et al. 2019), so that a poor Gaussian gives high Pareto k instead of a meaningless elpd.

        Parameters
        ----------
        warn
            Emit a :class:`~cohortode.DiagnosticsWarning` naming the rows whose Pareto k exceeds arviz's threshold
            (their leave-one-out estimate is unreliable). Defaults to the ``warn`` setting of the fit.

        Returns
        -------
        arviz.ELPDData
            With ``elpd_loo``, ``se``, ``p_loo``, ``loo_i`` and ``pareto_k`` (per row, in data order).
        """
        warn = self._warn if warn is None else warn
        log_weights = getattr(self, "_laplace_log_weights", None)
        if log_weights is not None and self.method == "laplace":
            # Laplace draws are an importance sample of the posterior, weighted accordingly
            ll = np.asarray(self.idata.log_likelihood["y"].values).reshape(len(log_weights), -1)
            result = approximate_posterior_loo(ll, log_weights, np.zeros_like(log_weights))
        else:
            with warnings.catch_warnings():
                # arviz warns with a generic message; the rows concerned are reported below in cohortode's terms.
                warnings.filterwarnings("ignore", message=r".*[Pp]areto.*", category=UserWarning)
                result = az.loo(self.idata, pointwise=True)
        if warn and bool(result.warning):
            k = np.asarray(result.pareto_k)
            good_k = float(getattr(result, "good_k", 0.7))
            obs = self.data.observations
            bad = [f"{obs['cohort'].iloc[i]}/{obs['observable'].iloc[i]} t={obs['time'].iloc[i]:g} (k={k[i]:.2f})"
                   for i in np.flatnonzero(k > good_k)]
            warnings.warn(f"PSIS-LOO: Pareto k above {good_k:.2f} for {len(bad)} of {k.size} rows, whose "
                          f"leave-one-out estimate is unreliable: {', '.join(bad)}", DiagnosticsWarning, stacklevel=2)
        return result

    def pointwise_loglik(self, draws: dict[str, np.ndarray]) -> np.ndarray:
        """Log-likelihood of every data row of this fit at given draws (``name -> (S,)``): shape ``(S, rows)``."""
        flat = {k: jnp.asarray(np.reshape(draws[k], -1)) for k in self._draws}
        return np.asarray(self._row_function()(flat)[0])

    def __repr__(self) -> str:
        d = self.diagnostics
        extra = ""
        if self.method == "nuts":
            extra = (f", max R-hat {d['max_r_hat']:.3f}, min ESS {d['min_ess_bulk']:.0f}, "
                     f"divergences {d['divergences']}")
        return f"Fit({self.method}, {self.model!r}, solver={self.solver}{extra}, {self.seconds:.1f} s)"


def _choose_solver(problem: BayesianProblem, values: dict[str, float]) -> BayesianProblem:
    lik = problem.likelihood
    if lik.compiled.solver != "tsit5":
        return problem
    theta = np.array([values[n] for n in lik.model.parameter_names])
    stiff = False
    for layout in lik.layouts:
        steps, ok = lik.compiled.num_steps(theta, np.asarray(layout.covariates), layout.schedule, layout.times)
        if not ok or steps > STIFF_STEP_FRACTION * lik.compiled.options.max_steps:
            stiff = True
    if not stiff:
        return problem
    return BayesianProblem(lik.with_solver("kvaerno5"), problem.priors)


def fit(model: ODEModel, data, method: Method = "nuts", *, engine: str | MomentEngine = "sigma",
        error: ErrorKind = "combined", priors: dict[str, Prior] | None = None, solver: str = "auto",
        solver_options: SolverOptions | None = None, num_warmup: int = 500, num_samples: int = 500,
        num_chains: int = 4, target_accept_prob: float = 0.9, dense_mass: bool = False, laplace_draws_n: int = 1000,
        n_starts: int = 8, seed: int = 0, workers: int | None = None, progress: bool = False,
        warn: bool = True, screening: bool = False, init: Sequence[Mapping[str, float]] = (),
        until_converged: bool = False, target_ess: float = 400.0, max_samples: int = 4000,
        mass_matrix: str = "auto") -> Fit:
    """Fit an ODE structure to aggregate cohort data, or to counts of one population.

    Parameters
    ----------
    model
        The structure (:class:`~cohortode.ODEModel`).
    data
        The cohort table (:class:`~cohortode.CohortData`), or a count table (:class:`~cohortode.CountData`): then
        the model's parameters are population-level, each observable has its observation model (binomial, Poisson,
        negative binomial), ``engine`` and ``error`` are not used, and the result is a
        :class:`~cohortode.infer.CountFit`.
    method
        ``"map"`` (multi-start optimisation), ``"laplace"`` (Gaussian at the MAP, in the unconstrained space) or
        ``"nuts"`` (NumPyro's No-U-Turn sampler, ``num_chains`` chains started at the MAP, run in worker processes
        or one after another, see ``workers``).
    engine
        Moment engine: ``"sigma"`` (default), ``"mc"``/``"mc:N"``, ``"fo"``, or a :class:`MomentEngine`.
    error
        Residual error: ``"additive"``, ``"proportional"`` or ``"combined"`` (default).
    priors
        Overrides of the default priors by site name (parameter names, ``omega_<name>``, ``sigma_add``,
        ``sigma_prop``).
    solver, solver_options
        ODE path (see :func:`cohortode.compile.compile_model`); ``"auto"`` switches to Kvaerno5 when Tsit5 fails or
        needs many steps at the MAP.
    num_warmup, num_samples, num_chains, target_accept_prob
        NUTS settings. Four chains by default, as recommended with the rank-normalised R-hat (Vehtari et al. 2021,
        Bayesian Analysis 16:667): on the synthetic one-compartment cohort, 4 x 500 draws gave max R-hat 1.008
        where 2 x 500 gave 1.012.
    dense_mass
        Adapt a dense mass matrix. Off by default: on the synthetic one-compartment cohort (2 x 500 draws) it gave
        max R-hat 1.029 against 1.012-1.022 for the diagonal one (2 chains).
    laplace_draws_n
        Draws of the Laplace approximation.
    n_starts
        MAP starts (prior medians plus random ones).
    seed
        Seed of every random choice.
    workers
        Processes for NUTS chains: ``None`` uses one per core (``COHORTODE_WORKERS`` overrides), capped at
        ``num_chains``; ``1`` runs the chains one after another in this process. Each worker compiles the model
        itself (JAX's persistent cache on disk is shared), which pays off for fits longer than a few seconds.
    progress
        Print a line as each NUTS chain finishes.
    warn
        Emit :class:`~cohortode.DiagnosticsWarning` when diagnostics fail.
    screening
        The fast screening path (``method`` ``"map"`` or ``"laplace"`` only): nonlinear structures are solved by RK4
        on a fixed grid checked at the optimum against a grid twice as fine, and the Laplace Hessian comes from
        finite differences of the gradient (:mod:`cohortode.infer._screening`). ``solver`` and
        ``solver_options`` do not apply. Use it to rank structures; fit the survivors with NUTS, which is exact.
    init
        Extra MAP starts, always tried first: constrained site values by site name; sites missing from a dict take
        their prior median, names the structure does not have are ignored. For a structure that extends a fitted
        one, pass the parent's optimum with the new terms at neutral values, so the child can end no worse.
    until_converged
        NUTS only: after the first run, extend every chain by another ``num_samples`` draws (warm-started from its
        last draw, with a short re-adaptation) until max R-hat <= 1.01 and bulk and tail ESS >= ``target_ess``, or
        until a chain holds ``max_samples`` draws. ``diagnostics["convergence"]`` then says ``"converged"`` or
        ``"budget exhausted"`` (it is ``"not extended"`` otherwise).
    target_ess, max_samples
        Target and budget of the extension.
    mass_matrix
        NUTS only: ``"laplace"`` starts a dense metric at the inverse Hessian of the negative log posterior at the
        MAP (central differences of the compiled gradient) and adapts it during warm-up; extensions start from the
        covariance of the draws so far. ``"identity"`` is NumPyro's default start (diagonal, or dense with
        ``dense_mass``). ``"auto"`` (default) takes ``"laplace"`` for structures solved by an ODE solver and
        ``"identity"`` for the exact linear path: through Tsit5 on theophylline with Michaelis-Menten elimination
        the Laplace start needed about 4x fewer gradient evaluations per effective draw, while on the linear
        one-compartment cohorts (4 x 500 draws) it gave lower ESS than the identity start (see
        :mod:`cohortode.infer._metric`). The choice made is recorded in ``settings.mass_matrix``.

    Returns
    -------
    Fit

    Raises
    ------
    FitError
        When no start reaches a finite posterior density (``reason`` says what happened to each start).
    """
    if method not in ("map", "laplace", "nuts"):
        raise ValueError(f"unknown method {method!r}; use 'map', 'laplace' or 'nuts'")
    _check_nuts_options(num_chains if method == "nuts" else 1, mass_matrix)
    if screening and method == "nuts":
        raise ValueError("screening=True is for method='map' or 'laplace'; NUTS always uses the exact solver")
    settings = FitSettings(method=method, engine=engine_spec(engine), error=str(error), solver=solver,
                           solver_options=solver_options, num_warmup=num_warmup, num_samples=num_samples,
                           num_chains=num_chains, target_accept_prob=target_accept_prob, dense_mass=dense_mass,
                           laplace_draws_n=laplace_draws_n, n_starts=n_starts, seed=seed,
                           until_converged=until_converged, target_ess=target_ess, max_samples=max_samples,
                           screening=screening, mass_matrix=mass_matrix)
    start = time.perf_counter()
    release_compiled_code_if_needed()  # many fits in one process must not exhaust the memory-mapping limit
    hessian, facts, row_function = None, None, None
    if screening:
        result, hessian, facts, row_function = screen(model, data, engine=engine, error=error, priors=priors,
                                                      n_starts=n_starts, seed=seed, init=init,
                                                      hessian=method == "laplace")
        problem = result.problem
        # the grid the screen ended on is recorded, so that a saved and reloaded fit predicts on it too
        settings = dataclasses.replace(settings, solver_options=problem.likelihood.compiled.options)
    elif method == "nuts":
        begun = _start_nuts(model, data, settings, engine=engine, priors=priors, init=init, warn=warn, clock=start)
        z, diverging, diag, table = sample_nuts(begun.problem, begun.settings, begun.map.unconstrained,
                                                workers=workers, progress=progress, warn=warn,
                                                inverse_mass_matrix=begun.metric)
        return _nuts_fit(begun, z, diverging, diag, table, time.perf_counter() - start)
    else:
        problem, _, result = _optimum(model, data, settings, engine=engine, priors=priors, init=init)
    table = pd.DataFrame()
    diverging = None
    if method == "map":
        draws = {k: np.full((1, 1), v) for k, v in result.values.items()}
        diag = {"log_density": result.log_density, "starts": result.all_log_densities, "ok": True, "problems": []}
    else:  # laplace
        flat, eig, z_laplace, log_g = laplace_sample(result, laplace_draws_n, seed, hessian=hessian)
        draws = {k: v.reshape(1, -1) for k, v in flat.items()}
        problems = [] if eig.min() > 0 else [f"Hessian not positive definite (min eigenvalue {eig.min():.3g})"]
        diag = {"log_density": result.log_density, "hessian_eigenvalues": eig.tolist(), "ok": not problems,
                "problems": problems}
    diag.update(log_likelihood=result.log_likelihood, evaluations=result.evaluations)
    if facts is not None:
        diag["screening"] = facts.as_dict()
        diag["max_log_likelihood"] = facts.max_log_likelihood
        diag["max_likelihood_values"] = facts.max_likelihood_values
        if not facts.grid_ok:
            diag["ok"] = False
            diag["problems"] = [*diag["problems"], f"screening grid not converged at {facts.grid_steps} steps "
                                f"(-2 log L moves by {facts.grid_error_m2ll:.3g} on a grid twice as fine)"]
    rows = None
    log_weights = None
    if row_function is not None:  # the screening objective gives the rows; no program is compiled for them
        if method == "laplace":
            *per_row, log_p = row_function.with_log_density(z_laplace)
            rows = {"draws": tuple(per_row), "map": row_function(result.unconstrained)}
            log_weights = log_p - log_g
        else:
            rows = {"draws": row_function(result.unconstrained[None, :]), "map": row_function(result.unconstrained)}
    elif method == "laplace":
        log_weights = np.asarray(problem.batch_log_density(jnp.asarray(z_laplace))) - log_g
    if isinstance(problem.likelihood, CountLikelihood):
        from ._count_fit import CountFit  # the subclass imports this module
        return CountFit(problem, settings, draws, result, diag, table, time.perf_counter() - start,
                        diverging=diverging, warn=warn, laplace_log_weights=log_weights)
    return Fit(problem, settings, draws, result, diag, table, time.perf_counter() - start, diverging=diverging,
               warn=warn, rows=rows, laplace_log_weights=log_weights)


def _optimum(model: ODEModel, data, settings: FitSettings, *, engine: str | MomentEngine,
             priors: dict[str, Prior] | None, init: Sequence[Mapping[str, float]]):
    """The problem, its compiled objective and its MAP (exact solver; ``solver="auto"`` may switch to Kvaerno5)."""
    if isinstance(data, CountData):
        lik: AggregateLikelihood | CountLikelihood = CountLikelihood(model, data, solver=settings.solver,
                                                                     options=settings.solver_options)
    else:
        lik = AggregateLikelihood(model, data, engine=engine, error=settings.error, solver=settings.solver,
                                  options=settings.solver_options)
    problem = BayesianProblem.build(lik, priors)
    objective, _ = compiled_objective(problem)
    result = find_map(problem, n_starts=settings.n_starts, seed=settings.seed, init=init, objective=objective)
    chosen = _choose_solver(problem, result.values)
    if chosen is not problem:
        problem = chosen
        objective, _ = compiled_objective(problem)
        result = find_map(problem, n_starts=settings.n_starts, seed=settings.seed, init=init, objective=objective)
    return problem, objective, result


def _start_nuts(model: ODEModel, data, settings: FitSettings, *, engine: str | MomentEngine,
                priors: dict[str, Prior] | None, init: Sequence[Mapping[str, float]], warn: bool,
                clock: float) -> NutsStart:
    """The MAP and the starting metric of a NUTS fit (``settings.mass_matrix`` resolved); ``clock``: its start."""
    problem, objective, result = _optimum(model, data, settings, engine=engine, priors=priors, init=init)
    mass_matrix = settings.mass_matrix
    if mass_matrix == "auto":
        mass_matrix = "identity" if problem.likelihood.compiled.solver == "linear" else "laplace"
    settings = dataclasses.replace(settings, mass_matrix=mass_matrix)
    metric = None
    if mass_matrix == "laplace":
        metric = inverse_mass_from_hessian(laplace_hessian(objective, result.unconstrained)[0])
    return NutsStart(problem, settings, result, metric, time.perf_counter() - clock, warn=warn)


def start_nuts(model: ODEModel, data, *, engine: str | MomentEngine = "sigma", error: ErrorKind = "combined",
               priors: dict[str, Prior] | None = None, solver: str = "auto",
               solver_options: SolverOptions | None = None, num_warmup: int = 500, num_samples: int = 500,
               num_chains: int = 4, target_accept_prob: float = 0.9, dense_mass: bool = False, n_starts: int = 8,
               seed: int = 0, warn: bool = True, init: Sequence[Mapping[str, float]] = (),
               mass_matrix: str = "auto") -> NutsStart:
    """The first part of ``fit(..., method="nuts")``: the MAP and the starting metric that every chain shares.

    Run the chains with :meth:`NutsStart.chain` (in any process; the start pickles) and assemble them with
    :func:`fit_from_chains`; the result equals ``fit(model, data, method="nuts", ...)`` with the same arguments, up
    to floating-point differences between processes. The parameters are :func:`fit`'s; NUTS runs are not extended
    (``until_converged`` is :func:`fit`'s alone).

    Returns
    -------
    NutsStart
    """
    _check_nuts_options(num_chains, mass_matrix)
    settings = FitSettings(method="nuts", engine=engine_spec(engine), error=str(error), solver=solver,
                           solver_options=solver_options, num_warmup=num_warmup, num_samples=num_samples,
                           num_chains=num_chains, target_accept_prob=target_accept_prob, dense_mass=dense_mass,
                           n_starts=n_starts, seed=seed, mass_matrix=mass_matrix)
    clock = time.perf_counter()
    release_compiled_code_if_needed()
    return _start_nuts(model, data, settings, engine=engine, priors=priors, init=init, warn=warn, clock=clock)


def fit_from_chains(start: NutsStart, chains: Sequence[ChainResult]) -> Fit:
    """The NUTS fit assembled from every chain of ``start`` (:meth:`NutsStart.chain`), in chain order.

    Its ``seconds`` add the start's and the chains' run times (the work, not the wall time of chains run side by
    side).
    """
    if len(chains) != start.num_chains:
        raise ValueError(f"{len(chains)} chains for a fit of {start.num_chains}")
    z = np.stack([c.z for c in chains])
    diverging = np.stack([c.diverging for c in chains])
    diag, table = _diagnosed(start.problem, z, diverging, warn=start.warn, convergence="not extended")
    return _nuts_fit(start, z, diverging, diag, table, start.seconds + sum(c.seconds for c in chains))


def _nuts_fit(start: NutsStart, z: np.ndarray, diverging: np.ndarray, diag: dict, table: pd.DataFrame,
              seconds: float) -> Fit:
    problem, result = start.problem, start.map
    draws = _constrained(problem, z)
    diag.update(log_likelihood=result.log_likelihood, evaluations=result.evaluations)
    if isinstance(problem.likelihood, CountLikelihood):
        from ._count_fit import CountFit  # the subclass imports this module
        return CountFit(problem, start.settings, draws, result, diag, table, seconds, diverging=diverging,
                        warn=start.warn)
    return Fit(problem, start.settings, draws, result, diag, table, seconds, diverging=diverging, warn=start.warn)


def sample_nuts(problem: BayesianProblem, settings: FitSettings, init: np.ndarray, *, workers: int | None = None,
                progress: bool = False, warn: bool = True, seed: int | None = None,
                inverse_mass_matrix: np.ndarray | None = None):
    """NUTS draws of ``problem`` from ``init`` (one point, or one per chain), extended as ``settings`` ask.

    ``inverse_mass_matrix`` is the starting dense metric (``None``: NumPyro's identity start); with
    ``settings.mass_matrix == "laplace"`` each extension starts from the covariance of the draws so far.

    Returns the unconstrained draws ``(chain, draw, site)``, the divergence flags ``(chain, draw)``, the
    diagnostics summary and the per-parameter table.
    """
    seed = settings.seed if seed is None else seed
    nuts = NutsSettings(num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                        target_accept_prob=settings.target_accept_prob, dense_mass=settings.dense_mass,
                        inverse_mass_matrix=NutsSettings.metric(inverse_mass_matrix))
    chains = run_chains(problem, nuts, init, num_chains=settings.num_chains, seed=seed, workers=workers,
                        progress=progress)
    z = np.stack([c.z for c in chains])  # (chain, draw, site)
    diverging = np.stack([c.diverging for c in chains])
    convergence = "not extended"
    if settings.until_converged:
        # each extension re-adapts briefly from the chain's last draw, already in the typical set
        segment = 0
        while True:
            diag, _ = diagnose(az.from_dict(posterior=_constrained(problem, z)), int(diverging.sum()), warn=False)
            if _converged(diag, settings.target_ess):
                convergence = "converged"
                break
            if z.shape[1] + settings.num_samples > settings.max_samples:
                convergence = "budget exhausted"
                break
            segment += 1
            metric = inverse_mass_from_draws(z) if getattr(settings, "mass_matrix", "identity") == "laplace" else None
            extension = NutsSettings(num_warmup=min(settings.num_warmup, EXTENSION_WARMUP),
                                     num_samples=settings.num_samples, target_accept_prob=settings.target_accept_prob,
                                     dense_mass=settings.dense_mass, inverse_mass_matrix=NutsSettings.metric(metric))
            more = run_chains(problem, extension, z[:, -1, :], num_chains=settings.num_chains,
                              seed=seed + EXTENSION_SEED_STRIDE * segment, workers=workers, progress=progress)
            z = np.concatenate([z, np.stack([c.z for c in more])], axis=1)
            diverging = np.concatenate([diverging, np.stack([c.diverging for c in more])], axis=1)
    diag, table = _diagnosed(problem, z, diverging, warn=warn, convergence=convergence)
    return z, diverging, diag, table


def _diagnosed(problem: BayesianProblem, z: np.ndarray, diverging: np.ndarray, *, warn: bool,
               convergence: str) -> tuple[dict, pd.DataFrame]:
    """Diagnostics summary and per-parameter table of draws ``z`` ``(chain, draw, site)``, with ``convergence``."""
    diag, table = diagnose(az.from_dict(posterior=_constrained(problem, z)), int(diverging.sum()), warn=warn)
    diag["convergence"] = convergence
    return diag, table


def _check_nuts_options(num_chains: int, mass_matrix: str) -> None:
    if num_chains < 1:
        raise ValueError("num_chains must be >= 1 (2 or more give R-hat)")
    if mass_matrix not in ("auto", "laplace", "identity"):
        raise ValueError(f"mass_matrix must be 'auto', 'laplace' or 'identity', got {mass_matrix!r}")


EXTENSION_WARMUP = 200
"""Warm-up draws (step size and mass matrix re-adaptation) of each extension of a NUTS run."""
EXTENSION_SEED_STRIDE = 7919
"""Extension ``k`` of a run with seed ``s`` uses seed ``s + k * EXTENSION_SEED_STRIDE``."""


def _constrained(problem: BayesianProblem, z: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in problem.constrain(z).items()}


def _converged(diag: dict, target_ess: float) -> bool:
    return (diag["max_r_hat"] <= GOOD_RHAT and diag["min_ess_bulk"] >= target_ess
            and diag["min_ess_tail"] >= target_ess)
