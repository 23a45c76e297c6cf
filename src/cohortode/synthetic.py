"""Synthetic cohorts with known truth: simulate individuals from an ODE model with SciPy, aggregate to mean/SD/n.

This is an implementation independent of the JAX solvers used for fitting, so it serves as ground truth for tests and
benchmarks. Each subject ``i`` gets parameters ``theta_i = theta * exp(omega * eta_i)`` with ``eta_i ~ N(0, 1)``
(log-normal inter-individual variability, IIV); the ODEs are integrated with :func:`scipy.integrate.solve_ivp`; each
observation gets residual error ``y = f * (1 + a_prop * eps_1) + a_add * eps_2`` with ``eps ~ N(0, 1)``; the cohort
statistics are the mean, SD (ddof=1) and n over subjects.

Dosing convention: a bolus at time ``t`` is added to its target state *before* an observation at the same time ``t``;
an infusion (``duration > 0``) adds ``amount / duration`` per time unit to the target during ``[t, t + duration)``.

Randomness comes only from the ``seed`` / :class:`numpy.random.Generator` passed in: first the ``eta`` draws (shape
``(n_subjects, len(model.iiv))``, columns in the order of ``model.iiv``), then the proportional and the additive
residual draws (each of shape ``(n_subjects, n_observables, n_times)``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from scipy.integrate import solve_ivp

from .data import CohortData

__all__ = ["Dose", "SyntheticModel", "SyntheticCohort", "simulate_states", "simulate_cohort"]

#: ``rhs(t, states, params) -> {state: derivative}``; states and params map names to arrays of shape ``(batch,)``.
RHS = Callable[[float, Mapping[str, np.ndarray], Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
#: ``observe(states, params) -> array``; states map to ``(batch, n_times)`` arrays, params to ``(batch, 1)`` arrays.
Observe = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Dose:
    """One dose: ``amount`` into state ``target`` at ``time``; ``duration > 0`` makes it a zero-order infusion."""

    time: float
    amount: float
    target: str
    duration: float = 0.0


@dataclass(frozen=True)
class SyntheticModel:
    """An ODE model with known typical parameters, IIV and residual error.

    Parameters
    ----------
    name
        Short identifier.
    states
        State names, in a fixed order.
    rhs
        Vectorised right-hand side, see :data:`RHS`; must return a derivative for every state. Write it with NumPy
        arithmetic so that it works on arrays of subjects.
    observables
        Observable name -> function of the states and parameters, see :data:`Observe`.
    params
        Typical parameter values (all positive when they carry IIV).
    initial
        State -> initial value, either a number or the name of a parameter (so it can vary between subjects).
        States not listed start at 0.
    iiv
        Parameter -> log-scale SD ``omega`` of its inter-individual variability. Parameters not listed are equal in
        all subjects.
    residual_proportional, residual_additive
        Residual error magnitudes (see the module docstring).
    equations
        Human-readable ODEs, state -> right-hand side text (for ``truth.json`` only; never evaluated).
    observation_equations
        Human-readable observation equations, observable -> text.
    units
        Observable -> unit.
    time_unit
        Unit of time.
    amount_unit
        Unit of dose amounts (informational).
    description
        Plain-language description of the study design (becomes ``CohortData.description``).
    """

    name: str
    states: tuple[str, ...]
    rhs: RHS
    observables: Mapping[str, Observe]
    params: Mapping[str, float]
    initial: Mapping[str, float | str] = field(default_factory=dict)
    iiv: Mapping[str, float] = field(default_factory=dict)
    residual_proportional: float = 0.0
    residual_additive: float = 0.0
    equations: Mapping[str, str] = field(default_factory=dict)
    observation_equations: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    time_unit: str = ""
    amount_unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        states = tuple(self.states)
        object.__setattr__(self, "states", states)
        if len(set(states)) != len(states) or not states:
            raise ValueError(f"SyntheticModel {self.name!r}: states must be unique and non-empty, got {states}.")
        for state, value in self.initial.items():
            if state not in states:
                raise ValueError(f"{self._where}initial value for unknown state {state!r}; states: {states}.")
            if isinstance(value, str) and value not in self.params:
                raise ValueError(
                    f"{self._where}initial {state} = {value!r} names no parameter; params: {list(self.params)}."
                )
        for name, omega in self.iiv.items():
            if name not in self.params:
                raise ValueError(f"{self._where}IIV on unknown parameter {name!r}; params: {list(self.params)}.")
            if not (np.isfinite(omega) and omega >= 0):
                raise ValueError(f"SyntheticModel {self.name!r}: IIV SD of {name!r} must be >= 0, got {omega}.")
            if omega > 0 and not self.params[name] > 0:
                raise ValueError(f"{self._where}log-normal IIV needs {name} > 0, got {self.params[name]}.")
        if self.residual_proportional < 0 or self.residual_additive < 0:
            raise ValueError(f"SyntheticModel {self.name!r}: residual error magnitudes must be >= 0.")

    @property
    def _where(self) -> str:
        return f"SyntheticModel {self.name!r}: "

    def sample_parameters(self, n_subjects: int, rng: np.random.Generator) -> pd.DataFrame:
        """Draw individual parameters (one row per subject, 1-based index ``subject``)."""
        if n_subjects < 1:
            raise ValueError(f"n_subjects must be >= 1, got {n_subjects}.")
        eta = rng.standard_normal((n_subjects, len(self.iiv)))
        out = {name: np.full(n_subjects, float(value)) for name, value in self.params.items()}
        for k, (name, omega) in enumerate(self.iiv.items()):
            out[name] = out[name] * np.exp(omega * eta[:, k])
        return pd.DataFrame(out, index=pd.RangeIndex(1, n_subjects + 1, name="subject"))


def simulate_states(
    model: SyntheticModel,
    params: pd.DataFrame,
    times: Sequence[float],
    doses: Sequence[Dose] = (),
    *,
    t0: float = 0.0,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    batch_size: int = 128,
) -> np.ndarray:
    """Integrate the ODEs of every subject; returns states of shape ``(n_subjects, n_states, n_times)``.

    Subjects are integrated together in batches of ``batch_size`` (one stacked system) for speed; keep the batches
    modest because the solver's error norm is shared within a batch.
    """
    t_obs = np.asarray(list(times), dtype=float)
    if t_obs.ndim != 1 or t_obs.size == 0 or np.any(np.diff(t_obs) <= 0) or t_obs[0] < t0:
        raise ValueError(f"times must be strictly increasing and >= t0 = {t0}, got {list(times)}.")
    for dose in doses:
        if dose.target not in model.states:
            raise ValueError(f"dose target {dose.target!r} is not a state of model {model.name!r}: {model.states}.")
        if dose.time < t0 or dose.duration < 0:
            raise ValueError(f"dose {dose} starts before t0 = {t0} or has a negative duration.")
    events = {d.time for d in doses} | {d.time + d.duration for d in doses if d.duration > 0}
    stops = sorted({float(t) for t in t_obs} | {float(t) for t in events if t <= t_obs[-1]})
    columns = {float(t): j for j, t in enumerate(t_obs)}
    n = len(params)
    out = np.empty((n, len(model.states), t_obs.size))
    for start in range(0, n, batch_size):
        batch = params.iloc[start : start + batch_size]
        p = {name: batch[name].to_numpy(dtype=float) for name in batch.columns}
        y = _initial_state(model, p, len(batch))
        t = t0
        for stop in stops:
            if stop > t:
                y = _integrate(model, p, y, t, stop, doses, method=method, rtol=rtol, atol=atol)
                t = stop
            for d in doses:
                if d.duration == 0 and d.time == stop:
                    y[model.states.index(d.target)] += d.amount
            if stop in columns:
                out[start : start + len(batch), :, columns[stop]] = y.T
    return out


def _initial_state(model: SyntheticModel, p: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
    y = np.zeros((len(model.states), batch))
    for state, value in model.initial.items():
        y[model.states.index(state)] = p[value] if isinstance(value, str) else float(value)
    return y


def _integrate(
    model: SyntheticModel,
    p: Mapping[str, np.ndarray],
    y: np.ndarray,
    t_start: float,
    t_stop: float,
    doses: Sequence[Dose],
    *,
    method: str,
    rtol: float,
    atol: float,
) -> np.ndarray:
    n_states, batch = y.shape
    mid = 0.5 * (t_start + t_stop)
    rate = np.zeros(n_states)
    for d in doses:
        if d.duration > 0 and d.time <= mid < d.time + d.duration:
            rate[model.states.index(d.target)] += d.amount / d.duration

    def fun(t: float, flat: np.ndarray) -> np.ndarray:
        u = flat.reshape(n_states, batch)
        deriv = model.rhs(t, {s: u[i] for i, s in enumerate(model.states)}, p)
        missing = [s for s in model.states if s not in deriv]
        if missing:
            raise ValueError(f"rhs of model {model.name!r} returned no derivative for states {missing}.")
        du = np.stack([np.broadcast_to(np.asarray(deriv[s], dtype=float), (batch,)) for s in model.states])
        return (du + rate[:, None]).ravel()

    sol = solve_ivp(fun, (t_start, t_stop), y.ravel(), method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed for model {model.name!r} on [{t_start}, {t_stop}]: {sol.message}")
    return sol.y[:, -1].reshape(n_states, batch).copy()


@dataclass(frozen=True)
class SyntheticCohort:
    """A simulated cohort: individual samples, their parameters, the aggregate :class:`CohortData` and the truth."""

    model: SyntheticModel
    cohort: str
    times: tuple[float, ...]
    doses: tuple[Dose, ...]
    seed: int | None
    parameters: pd.DataFrame
    individuals: pd.DataFrame
    data: CohortData
    solver: Mapping[str, Any]

    def truth(self) -> dict[str, Any]:
        """JSON-serialisable description of how the cohort was generated."""
        m = self.model
        return {
            "cohort": self.cohort,
            "model": m.name,
            "seed": self.seed,
            "n_subjects": int(len(self.parameters)),
            "times": list(self.times),
            "time_unit": m.time_unit,
            "amount_unit": m.amount_unit,
            "description": m.description,
            "states": list(m.states),
            "equations": {s: f"d{s}/dt = {m.equations[s]}" for s in m.states if s in m.equations},
            "observation_equations": {o: f"{o} = {e}" for o, e in m.observation_equations.items()},
            "initial": dict(m.initial),
            "typical_parameters": {k: float(v) for k, v in m.params.items()},
            "iiv_sd": {k: float(v) for k, v in m.iiv.items()},
            "iiv_model": "theta_i = theta * exp(omega * eta_i), eta_i ~ N(0, 1)",
            "residual_error": {
                "proportional": float(m.residual_proportional),
                "additive": float(m.residual_additive),
                "model": "y = f * (1 + proportional * eps_1) + additive * eps_2, eps ~ N(0, 1)",
            },
            "doses": [
                {"time": d.time, "amount": d.amount, "target": d.target, "duration": d.duration} for d in self.doses
            ],
            "units": dict(m.units),
            "solver": dict(self.solver),
            "generator": "cohortode.synthetic.simulate_cohort",
        }

    def write(self, directory: str | os.PathLike, *, individuals: bool = True) -> Path:
        """Write ``observations.csv``, ``dosing.csv``, ``cohort.toml``, ``truth.json`` (and ``individuals.csv``)."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        obs = self.data.observations.drop(columns=["sd_used", "source_row"])
        obs.to_csv(root / "observations.csv", index=False, float_format="%.10g")
        dosing = self.data.dosing[["cohort", "time", "amount", "target", "duration"]]
        dosing.to_csv(root / "dosing.csv", index=False, float_format="%.10g")
        if individuals:
            self.individuals.to_csv(root / "individuals.csv", index=False, float_format="%.10g")
        doc = {
            "name": self.cohort,
            "description": self.data.description,
            "time_unit": self.data.time_unit,
            **({"amount_unit": self.model.amount_unit} if self.model.amount_unit else {}),
            "files": {"observations": "observations.csv", "dosing": "dosing.csv"},
            "units": dict(self.data.units),
        }
        with open(root / "cohort.toml", "wb") as fh:
            tomli_w.dump(doc, fh, multiline_strings=True)
        with open(root / "truth.json", "w", encoding="utf-8") as fh:
            json.dump(self.truth(), fh, indent=2)
            fh.write("\n")
        return root


def simulate_cohort(
    model: SyntheticModel,
    *,
    times: Sequence[float],
    n_subjects: int,
    doses: Sequence[Dose] = (),
    seed: int | np.random.Generator,
    cohort: str | None = None,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> SyntheticCohort:
    """Simulate ``n_subjects`` individuals and aggregate them into a :class:`CohortData`.

    Parameters
    ----------
    model
        The model with its true parameters.
    times
        Observation times (strictly increasing, >= 0); every subject is observed at all of them.
    n_subjects
        Number of subjects (``n`` of every time point).
    doses
        Doses given to every subject.
    seed
        Seed or Generator; the only source of randomness.
    cohort
        Cohort name (default ``model.name``).
    method, rtol, atol
        Passed to :func:`scipy.integrate.solve_ivp`.

    Returns
    -------
    SyntheticCohort
        ``individuals`` has one row per subject, time and observable: ``cohort, subject, time, observable, value``
        (with residual error) and ``prediction`` (without).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cohort = model.name if cohort is None else cohort
    doses = tuple(doses)
    t_obs = tuple(float(t) for t in times)
    params = model.sample_parameters(n_subjects, rng)
    states = simulate_states(model, params, t_obs, doses, method=method, rtol=rtol, atol=atol)
    state_map = {s: states[:, i, :] for i, s in enumerate(model.states)}
    param_map = {k: params[k].to_numpy(dtype=float)[:, None] for k in params.columns}
    names = list(model.observables)
    pred = np.stack(
        [
            np.broadcast_to(np.asarray(model.observables[o](state_map, param_map), dtype=float), states[:, 0, :].shape)
            for o in names
        ],
        axis=1,
    )
    eps_prop = rng.standard_normal(pred.shape)
    eps_add = rng.standard_normal(pred.shape)
    value = pred * (1.0 + model.residual_proportional * eps_prop) + model.residual_additive * eps_add

    n_obs, n_t = len(names), len(t_obs)
    subjects = params.index.to_numpy()
    individuals = pd.DataFrame(
        {
            "cohort": cohort,
            "subject": np.repeat(subjects, n_obs * n_t),
            "time": np.tile(np.asarray(t_obs), n_subjects * n_obs),
            "observable": np.tile(np.repeat(names, n_t), n_subjects),
            "value": value.ravel(),
            "prediction": pred.ravel(),
        }
    )
    dosing = pd.DataFrame(
        {
            "cohort": pd.Series([cohort] * len(doses), dtype=str),
            "time": pd.Series([d.time for d in doses], dtype=float),
            "amount": pd.Series([d.amount for d in doses], dtype=float),
            "target": pd.Series([d.target for d in doses], dtype=str),
            "duration": pd.Series([d.duration for d in doses], dtype=float),
        }
    )
    data = CohortData.from_individuals(
        individuals,
        subject="subject",
        time="time",
        value="value",
        cohort=cohort,
        observable_column="observable",
        nominal_time_column="time",
        dosing=dosing,
        description=model.description,
        time_unit=model.time_unit,
        units=dict(model.units),
    )
    data.observations = data.observations.drop(columns=["time_actual_mean", "time_actual_min", "time_actual_max"])
    return SyntheticCohort(
        model=model,
        cohort=cohort,
        times=t_obs,
        doses=doses,
        seed=int(seed) if isinstance(seed, int | np.integer) else None,
        parameters=params,
        individuals=individuals,
        data=data,
        solver={"library": "scipy.integrate.solve_ivp", "method": method, "rtol": rtol, "atol": atol},
    )
