"""Synthetic counts of one population with known truth: an ODE solved with SciPy, then binomial, Poisson or
negative-binomial observation noise.

Independent of the JAX solvers used for fitting (the ODEs go through :func:`cohortode.synthetic.simulate_states`), so
it serves as ground truth for tests. The model's observables are fractions of the population; the expected observed
count is ``reporting * population * fraction``. Randomness comes only from ``seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from .synthetic import SyntheticModel, simulate_states

__all__ = ["simulate_counts", "epidemic_model", "EpidemicKind"]

EpidemicKind = Literal["sir", "seir", "sirs"]
CountNoise = Literal["binomial", "poisson", "negative_binomial"]


def epidemic_model(kind: EpidemicKind, *, beta: float, gamma: float, sigma: float | None = None,
                   omega: float | None = None, initial_infectious: float = 0.01) -> SyntheticModel:
    """A closed-population epidemic on the fraction scale (``S + [E] + I + R = 1``), observed through ``I``.

    Parameters
    ----------
    kind
        ``"sir"``, ``"seir"`` (latent stage left at rate ``sigma``) or ``"sirs"`` (immunity waning at rate
        ``omega``).
    beta, gamma
        Transmission and recovery rates (frequency-dependent transmission ``beta * S * I``, fractions).
    sigma, omega
        Rates of the latent stage (SEIR) and of waning immunity (SIRS).
    initial_infectious
        Fraction infectious at time 0 (the rest susceptible).
    """
    if kind not in ("sir", "seir", "sirs"):
        raise ValueError(f"unknown epidemic kind {kind!r}; use 'sir', 'seir' or 'sirs'")
    if kind == "seir" and sigma is None:
        raise ValueError("an SEIR model needs sigma (the rate of leaving the latent stage)")
    if kind == "sirs" and omega is None:
        raise ValueError("an SIRS model needs omega (the rate of waning immunity)")
    params = {"beta": beta, "gamma": gamma}
    states: tuple[str, ...] = ("S", "I", "R")
    if kind == "seir":
        params["sigma"] = float(sigma)  # type: ignore[arg-type]
        states = ("S", "E", "I", "R")
    if kind == "sirs":
        params["omega"] = float(omega)  # type: ignore[arg-type]

    def rhs(t, x, p):
        infection = p["beta"] * x["S"] * x["I"]
        waning = p["omega"] * x["R"] if kind == "sirs" else 0.0
        out = {"S": -infection + waning, "R": p["gamma"] * x["I"] - waning}
        if kind == "seir":
            out["E"] = infection - p["sigma"] * x["E"]
            out["I"] = p["sigma"] * x["E"] - p["gamma"] * x["I"]
        else:
            out["I"] = infection - p["gamma"] * x["I"]
        return out

    return SyntheticModel(name=kind, states=states, rhs=rhs, observables={"I": lambda x, p: x["I"]}, params=params,
                          initial={"S": 1.0 - initial_infectious, "I": initial_infectious},
                          description=f"{kind.upper()} outbreak in a closed population")


def simulate_counts(model: SyntheticModel, times: Sequence[float], *, population: int,
                    observation: CountNoise = "negative_binomial", overdispersion: float = 0.1,
                    reporting: float = 1.0, as_fraction: bool = False, seed: int = 0) -> pd.DataFrame:
    """Observed counts of each of the model's observables at ``times``, in one population.

    Parameters
    ----------
    model
        Observables are fractions of the population (its IIV and residual-error settings are not used).
    times
        Observation times (strictly increasing, >= 0).
    population
        Size ``N`` of the population.
    observation
        Noise: ``"binomial"`` (``k ~ Binomial(N, reporting * f)``), ``"poisson"`` or ``"negative_binomial"``
        (mean ``reporting * N * f``, variance ``mean + overdispersion * mean**2``).
    overdispersion
        The negative binomial's ``alpha`` (> 0).
    reporting
        Fraction of the population in the state that is observed.
    as_fraction
        Give ``fraction = count / N`` instead of ``count``.
    seed
        Seed of the noise.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, observable, count`` (or ``fraction``), ``population`` and ``expected`` (the noise-free
        expected count), one row per time and observable: ready for :class:`~cohortode.CountData`.
    """
    if observation not in ("binomial", "poisson", "negative_binomial"):
        raise ValueError(f"unknown observation {observation!r}; use 'binomial', 'poisson' or 'negative_binomial'")
    if not overdispersion > 0:
        raise ValueError(f"overdispersion must be > 0, got {overdispersion}")
    if not 0 < reporting <= 1:
        raise ValueError(f"reporting must be in (0, 1], got {reporting}")
    rng = np.random.default_rng(seed)
    times = [float(t) for t in times]
    params = pd.DataFrame({k: [float(v)] for k, v in model.params.items()})
    states = simulate_states(model, params, times)[0]  # (states, times)
    x = {s: states[i][None, :] for i, s in enumerate(model.states)}
    p = {k: np.array([[float(v)]]) for k, v in model.params.items()}
    frames = []
    for name, observe in model.observables.items():
        f = np.clip(np.asarray(observe(x, p), dtype=float).reshape(-1), 0.0, 1.0)
        mu = reporting * population * f
        if observation == "binomial":
            count = rng.binomial(population, reporting * f)
        elif observation == "poisson":
            count = rng.poisson(mu)
        else:
            r = 1.0 / overdispersion
            count = rng.poisson(rng.gamma(r, mu / r))
        count = np.minimum(count, population).astype(np.int64)
        frame = pd.DataFrame({"time": times, "observable": name})
        if as_fraction:
            frame["fraction"] = count / population
        else:
            frame["count"] = count
        frame["population"] = population
        frame["expected"] = mu
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
