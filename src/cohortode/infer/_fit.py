"""``fit``: MAP, Laplace or NUTS fit of one structure to aggregate cohort data, and the :class:`Fit` result."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Literal

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
from ._chains import NutsSettings, run_chains
from ._diagnostics import diagnose
from ._optimize import MapResult, find_map, laplace_draws
from ._problem import BayesianProblem

__all__ = ["fit", "Fit"]

Method = Literal["map", "laplace", "nuts"]
STIFF_STEP_FRACTION = 0.25
"""Tsit5 needing more than this fraction of ``max_steps`` at the MAP marks a structure as stiff (Kvaerno5 then)."""


class Fit:
    """The result of :func:`fit`.

    Attributes
    ----------
    model, data, method
        What was fitted, and how.
    idata
        ``arviz.InferenceData`` with groups ``posterior``, ``log_likelihood`` (variable ``y``, one entry per data
        row), ``posterior_predictive`` (``mean`` and ``sd`` per row) and ``observed_data``.
    map
        The MAP result (every method starts there).
    diagnostics
        Summary dict (``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``ok``, ``problems``);
        for MAP/Laplace, optimisation facts instead.
    diagnostics_table
        Per-parameter R-hat and ESS (NUTS only; empty otherwise).
    solver
        The ODE path used (``"tsit5"``, ``"kvaerno5"`` or ``"linear"``).
    seconds
        Wall time.
    """

    def __init__(self, problem: BayesianProblem, method: str, draws: dict[str, np.ndarray], map_result: MapResult,
                 diagnostics: dict, diagnostics_table: pd.DataFrame, seconds: float, seed: int,
                 warn: bool = True):
        self.problem = problem
        self.likelihood = problem.likelihood
        self.model: ODEModel = problem.likelihood.model
        self.data = problem.likelihood.data
        self.method = method
        self.map = map_result
        self.diagnostics = diagnostics
        self.diagnostics_table = diagnostics_table
        self.solver = problem.likelihood.compiled.solver
        self.seconds = seconds
        self._draws = draws  # name -> (chain, draw)
        self._warn = warn
        self.idata = self._inference_data(seed)

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
        flat = {k: jnp.asarray(v.reshape(-1)) for k, v in self._draws.items()}
        pointwise, mu, var = (np.asarray(a) for a in jax.jit(jax.vmap(self._row_quantities))(flat))
        n = np.asarray(lik.n)
        rng = np.random.default_rng(seed)
        mean_rep = mu + np.sqrt(np.maximum(var, 0) / n) * rng.standard_normal(mu.shape)
        k = np.maximum(n - 1, 1)
        sd_rep = np.sqrt(np.maximum(var, 0) * rng.chisquare(k, size=mu.shape) / k)
        shape = (chains, draws)
        rows = np.arange(lik.n_rows)
        obs = self.data.observations
        return az.from_dict(
            posterior={k: v for k, v in self._draws.items()},
            log_likelihood={"y": np.asarray(pointwise).reshape(*shape, -1)},
            posterior_predictive={"mean": mean_rep.reshape(*shape, -1), "sd": sd_rep.reshape(*shape, -1)},
            observed_data={"mean": obs["mean"].to_numpy(float), "sd": obs["sd"].to_numpy(float)},
            coords={"row": rows},
            dims={"y": ["row"], "mean": ["row"], "sd": ["row"]},
        )

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
                max_draws: int = 200, seed: int = 0) -> pd.DataFrame:
        """Predicted cohort mean and SD at ``times`` with credible bands.

        Returns a tidy DataFrame with columns ``cohort, observable, time``; ``mean`` (posterior median of the cohort
        mean) with ``mean_lower``/``mean_upper`` (its credible band at ``level``); ``sd`` (posterior median of the
        SD of one individual's observation, between-subject plus residual) with ``sd_lower``/``sd_upper``.
        """
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
            for j, obs_name in enumerate(self.model.observable_names):
                frames.append(pd.DataFrame({
                    "cohort": layout.name, "observable": obs_name, "time": ts,
                    "mean": np.nanmedian(mean[:, :, j], axis=0),
                    "mean_lower": np.nanquantile(mean[:, :, j], lo, axis=0),
                    "mean_upper": np.nanquantile(mean[:, :, j], hi, axis=0),
                    "sd": np.nanmedian(sd[:, :, j], axis=0),
                    "sd_lower": np.nanquantile(sd[:, :, j], lo, axis=0),
                    "sd_upper": np.nanquantile(sd[:, :, j], hi, axis=0),
                }))
        return pd.concat(frames, ignore_index=True)

    def loo(self, *, warn: bool | None = None):
        """PSIS-LOO of the fit (``arviz.loo`` on the pointwise log-likelihood, one point per data row).

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
        warn: bool = True) -> Fit:
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

    Returns
    -------
    Fit
    """
    if method not in ("map", "laplace", "nuts"):
        raise ValueError(f"unknown method {method!r}; use 'map', 'laplace' or 'nuts'")
    if method == "nuts" and num_chains < 1:
        raise ValueError("num_chains must be >= 1 (2 or more give R-hat)")
    start = time.perf_counter()
    release_compiled_code_if_needed()  # many fits in one process must not exhaust the memory-mapping limit
    if isinstance(data, CountData):
        lik: AggregateLikelihood | CountLikelihood = CountLikelihood(model, data, solver=solver,
                                                                     options=solver_options)
    else:
        lik = AggregateLikelihood(model, data, engine=engine, error=error, solver=solver, options=solver_options)
    problem = BayesianProblem.build(lik, priors)
    result = find_map(problem, n_starts=n_starts, seed=seed)
    chosen = _choose_solver(problem, result.values)
    if chosen is not problem:
        problem = chosen
        result = find_map(problem, n_starts=n_starts, seed=seed)
    table = pd.DataFrame()
    if method == "map":
        draws = {k: np.full((1, 1), v) for k, v in result.values.items()}
        diag = {"log_density": result.log_density, "starts": result.all_log_densities, "ok": True, "problems": []}
    elif method == "laplace":
        flat, eig = laplace_draws(result, laplace_draws_n, seed)
        draws = {k: v.reshape(1, -1) for k, v in flat.items()}
        problems = [] if eig.min() > 0 else [f"Hessian not positive definite (min eigenvalue {eig.min():.3g})"]
        diag = {"log_density": result.log_density, "hessian_eigenvalues": eig.tolist(), "ok": not problems,
                "problems": problems}
    else:
        settings = NutsSettings(num_warmup=num_warmup, num_samples=num_samples,
                                target_accept_prob=target_accept_prob, dense_mass=dense_mass)
        chains = run_chains(problem, settings, result.unconstrained, num_chains=num_chains, seed=seed,
                            workers=workers, progress=progress)
        z = np.stack([c.z for c in chains])  # (chain, draw, site)
        draws = {k: np.asarray(v) for k, v in problem.constrain(z).items()}
        divergences = int(sum(c.diverging.sum() for c in chains))
        idata = az.from_dict(posterior=draws)
        diag, table = diagnose(idata, divergences, warn=warn)
    if isinstance(lik, CountLikelihood):
        from ._count_fit import CountFit  # the subclass imports this module
        return CountFit(problem, method, draws, result, diag, table, time.perf_counter() - start, seed, warn)
    return Fit(problem, method, draws, result, diag, table, time.perf_counter() - start, seed, warn)
