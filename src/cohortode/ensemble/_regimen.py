"""Counterfactual inputs: a dosing :class:`Regimen` and parameter changes (:class:`Absolute` or a multiplier)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..compile import DoseEvent, DoseSchedule

__all__ = ["Regimen", "Absolute", "ParameterChange", "apply_changes"]


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: ``n_doses`` doses of ``amount`` into ``target`` every ``interval``, from ``start``.

    Parameters
    ----------
    amount
        Amount of each dose (the data's amount unit).
    target
        The ODE state dosed (e.g. ``"depot"`` for oral, ``"central"`` for an IV bolus).
    interval
        Time between doses (ignored for one dose).
    n_doses
        Number of doses.
    duration
        Infusion duration of each dose; 0 is a bolus.
    start
        Time of the first dose.
    """

    amount: float
    target: str
    interval: float = 0.0
    n_doses: int = 1
    duration: float = 0.0
    start: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount) or self.amount < 0:
            raise ValueError(f"Regimen amount must be finite and >= 0, got {self.amount}")
        if int(self.n_doses) != self.n_doses or self.n_doses < 1:
            raise ValueError(f"Regimen n_doses must be a positive integer, got {self.n_doses}")
        if self.n_doses > 1 and not self.interval > 0:
            raise ValueError(f"Regimen interval must be > 0 for {self.n_doses} doses, got {self.interval}")
        if self.duration < 0 or (self.n_doses > 1 and self.duration > self.interval):
            raise ValueError(f"Regimen duration must be in [0, interval], got {self.duration}")

    def schedule(self, states: tuple[str, ...] | list[str]) -> DoseSchedule:
        """The dose events of the regimen for a model with these states."""
        states = list(states)
        if self.target not in states:
            raise ValueError(f"Regimen target {self.target!r} is not a state of the model; states are {states}")
        index = states.index(self.target)
        return DoseSchedule(tuple(DoseEvent(float(self.start + k * self.interval), index, float(self.amount),
                                            float(self.duration)) for k in range(int(self.n_doses))))


@dataclass(frozen=True)
class Absolute:
    """A parameter change to an absolute value (a plain number in ``changes`` is a multiplier)."""

    value: float


ParameterChange = float | Absolute


def apply_changes(values: dict, changes: Mapping[str, ParameterChange] | None, known: tuple[str, ...]) -> dict:
    """``values`` (site -> draws) with the typical values in ``changes`` multiplied or set."""
    if not changes:
        return values
    unknown = [k for k in changes if k not in known]
    if unknown:
        raise ValueError(f"changes name unknown parameter(s) {unknown}; parameters are {list(known)}")
    out = dict(values)
    for name, change in changes.items():
        if isinstance(change, Absolute):
            out[name] = out[name] * 0 + float(change.value)
        else:
            out[name] = out[name] * float(change)
    return out
