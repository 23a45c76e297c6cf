"""A NUTS fit in parts that may run in different processes: its start, each of its chains, and the fit.

``fit(..., method="nuts")`` does all three in one call. A discovery runs them as separate tasks
(:func:`cohortode.infer.start_nuts`, :meth:`NutsStart.chain`, :func:`cohortode.infer.fit_from_chains`), so that the
chains of one slow structure spread over every worker of the pool instead of running one after another in one
worker while the others wait. Chain ``i`` uses the same key as in ``fit``, so the draws are the same either way (up
to floating-point differences between processes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._chains import ChainResult, NutsSettings, cached_sampler, chain_key
from ._optimize import MapResult
from ._problem import PROBLEM_PIECES, BayesianProblem, problem_pieces, rebuild_problem
from ._settings import FitSettings

__all__ = ["NutsStart"]


@dataclass
class NutsStart:
    """What every chain of one NUTS fit starts from; it pickles (the compiled code is rebuilt where it is used).

    Attributes
    ----------
    problem
        What is sampled (after ``solver="auto"`` made its choice at the MAP).
    settings
        The fit's settings; ``mass_matrix`` says which starting metric was chosen.
    map
        The MAP, where every chain starts.
    metric
        The starting dense inverse mass matrix (``None``: NumPyro's identity start).
    seconds
        Wall time of the MAP search and the metric.
    warn
        Whether the assembled fit warns about failed diagnostics.
    token
        Names this start in a worker's cache of compiled chain programs
        (:func:`~cohortode.infer._chains.cached_sampler`).
    """

    problem: BayesianProblem
    settings: FitSettings
    map: MapResult
    metric: np.ndarray | None
    seconds: float
    warn: bool = True
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def num_chains(self) -> int:
        """The number of chains of the fit."""
        return self.settings.num_chains

    def nuts_settings(self) -> NutsSettings:
        """The settings every chain runs with."""
        s = self.settings
        return NutsSettings(num_warmup=s.num_warmup, num_samples=s.num_samples,
                            target_accept_prob=s.target_accept_prob, dense_mass=s.dense_mass,
                            inverse_mass_matrix=NutsSettings.metric(self.metric))

    def chain(self, index: int) -> ChainResult:
        """Warm up and sample chain ``index`` (0-based) in this process, from the MAP.

        The compiled chain program is kept for the next chain of the same start in this process.
        """
        if not 0 <= int(index) < self.num_chains:
            raise ValueError(f"chain index {index} outside 0..{self.num_chains - 1}")
        sampler = cached_sampler(self.token, self.problem, self.nuts_settings())
        return sampler.chain(chain_key(self.settings.seed, self.num_chains, int(index)), self.map.unconstrained)

    # ------------------------------------------------------------------------------------- process boundary
    def __getstate__(self) -> dict[str, Any]:
        m = self.map
        return {**problem_pieces(self.problem), "settings": self.settings,
                "map": {"values": m.values, "unconstrained": m.unconstrained, "log_density": m.log_density,
                        "all_log_densities": m.all_log_densities, "log_likelihood": m.log_likelihood,
                        "evaluations": m.evaluations},
                "metric": self.metric, "seconds": self.seconds, "warn": self.warn, "token": self.token}

    def __setstate__(self, state: dict[str, Any]) -> None:
        problem = rebuild_problem(**{k: state[k] for k in PROBLEM_PIECES})
        self.problem = problem
        self.settings = state["settings"]
        self.map = MapResult(problem=problem, **state["map"])
        self.metric = state["metric"]
        self.seconds = state["seconds"]
        self.warn = state["warn"]
        self.token = state["token"]
