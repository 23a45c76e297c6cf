"""The discovery problem a proposer works on: named states, observables, data, context and domain."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .._errors import ExpressionError, ModelSpecError
from ..spec import TIME, parse_expression

if TYPE_CHECKING:
    from ..data import CohortData
    from ._summary import DataSummary

__all__ = ["StateInfo", "Problem", "DOMAINS"]

DOMAINS = ("pk", "pd", "epidemic", "growth", "progression")
"""Domains a problem may name; ``None`` means any."""


@dataclass(frozen=True)
class StateInfo:
    """A named state of the problem.

    Parameters
    ----------
    name
        Identifier used in expressions (e.g. ``"central"``).
    meaning
        Plain-English meaning (e.g. ``"drug amount in plasma"``), shown to language models.
    unit
        Unit of the state (e.g. ``"mg"``); may be ``""``.
    """

    name: str
    meaning: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name == TIME:
            raise ModelSpecError(f"state name {self.name!r} is not a valid identifier (and may not be {TIME!r}); "
                                 "use letters, digits and underscores, starting with a letter")


def _state_info(item: Any) -> StateInfo:
    if isinstance(item, StateInfo):
        return item
    if isinstance(item, str):
        return StateInfo(item)
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3 and all(isinstance(x, str) for x in item):
        return StateInfo(*item)
    raise ModelSpecError(f"a problem state must be a name, a (name, meaning[, unit]) pair or a StateInfo; got {item!r}")


@dataclass(frozen=True)
class Problem:
    """What a proposer is asked to explain.

    Parameters
    ----------
    name
        Short name of the problem (e.g. the cohort name).
    states
        The problem's named states (:class:`StateInfo`; plain names and ``(name, meaning)`` pairs are converted).
        Candidate structures must contain these and may add states (peripheral, transit, exposed...).
    observables
        Observable name -> expression text over states, parameters and covariates, e.g. ``{"conc": "central/V"}``.
    data
        The cohort data (:class:`cohortode.data.CohortData` or an object with the same ``observations`` and
        ``dosing`` tables), or ``None``.
    context
        The analyst's description of the study, in plain words.
    domain
        One of ``"pk"``, ``"pd"``, ``"epidemic"``, ``"growth"``, ``"progression"``, or ``None`` for any.
    covariates
        Per-cohort covariate names the expressions may use (e.g. ``("N",)``).
    initial
        Fixed initial values, state -> expression text (e.g. ``{"S": "N - 1", "I": "1"}``); states not listed start
        at 0 unless a candidate structure estimates their initial value.
    time_unit
        Unit of time (e.g. ``"h"``).
    signed
        States that may go negative (a displacement, a velocity, a deviation from baseline); every other state must
        stay non-negative in a candidate structure.

    Raises
    ------
    ModelSpecError
        When a state name is invalid or repeated, there is no observable, an expression does not parse, an initial
        value names an unknown state, or the domain is unknown.
    """

    name: str
    states: tuple[StateInfo, ...]
    observables: dict[str, str]
    data: CohortData | None = field(default=None, compare=False, repr=False)
    context: str = ""
    domain: str | None = None
    covariates: tuple[str, ...] = ()
    initial: dict[str, str] = field(default_factory=dict)
    time_unit: str = ""
    signed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.states, (str, StateInfo)):
            raise ModelSpecError("Problem states must be a sequence of names or StateInfo records, not a single one")
        states = tuple(_state_info(s) for s in self.states)
        names = [s.name for s in states]
        if not names:
            raise ModelSpecError(f"problem {self.name!r} has no states; give at least one state name")
        if len(set(names)) != len(names):
            raise ModelSpecError(f"problem {self.name!r}: duplicate state names in {names}")
        object.__setattr__(self, "states", states)
        covariates = tuple(str(c) for c in self.covariates)
        bad = [c for c in covariates if not c.isidentifier() or c in names or c == TIME]
        if bad:
            raise ModelSpecError(f"problem {self.name!r}: covariate name(s) {bad} are not identifiers or clash with "
                                 "a state name or 't'")
        object.__setattr__(self, "covariates", covariates)
        if not isinstance(self.observables, Mapping) or not self.observables:
            raise ModelSpecError(f"problem {self.name!r} needs at least one observable, e.g. {{'conc': 'central/V'}}")
        observables = {str(k): str(v) for k, v in self.observables.items()}
        for key, text in observables.items():
            if not key.isidentifier():
                raise ModelSpecError(f"problem {self.name!r}: observable name {key!r} is not a valid identifier")
            try:
                expr = parse_expression(text)
            except ExpressionError as exc:
                raise ModelSpecError(f"problem {self.name!r}, observable {key!r}: {exc}") from None
            if not {s.name for s in expr.free_symbols} & set(names):
                raise ModelSpecError(f"problem {self.name!r}: observable {key!r} = {text!r} uses none of the states "
                                     f"{names}; write it over a state, e.g. '{names[0]}'")
        object.__setattr__(self, "observables", observables)
        initial = {str(k): str(v) for k, v in dict(self.initial or {}).items()}
        for key, text in initial.items():
            if key not in names:
                raise ModelSpecError(f"problem {self.name!r}: initial value given for unknown state {key!r}; "
                                     f"states are {names}")
            try:
                expr = parse_expression(text)
            except ExpressionError as exc:
                raise ModelSpecError(f"problem {self.name!r}, initial value of {key!r}: {exc}") from None
            if {s.name for s in expr.free_symbols} & (set(names) | {TIME}):
                raise ModelSpecError(f"problem {self.name!r}: initial value of {key!r} ({text!r}) may not depend on "
                                     "states or t")
        object.__setattr__(self, "initial", initial)
        signed = (self.signed,) if isinstance(self.signed, str) else tuple(str(x) for x in self.signed)
        unknown = [x for x in signed if x not in names]
        if unknown:
            raise ModelSpecError(f"problem {self.name!r}: signed state(s) {unknown} are not states {names}")
        object.__setattr__(self, "signed", signed)
        if self.domain is not None and self.domain not in DOMAINS:
            raise ModelSpecError(f"problem {self.name!r}: unknown domain {self.domain!r}; use one of {DOMAINS} "
                                 "or None for any")

    def __hash__(self) -> int:
        return hash((self.name, self.states, tuple(sorted(self.observables.items())), self.context, self.domain,
                     self.covariates, tuple(sorted(self.initial.items())), self.time_unit, self.signed))

    # ------------------------------------------------------------------------------------------------ views
    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the problem's states, in order."""
        return tuple(s.name for s in self.states)

    @cached_property
    def dose_targets(self) -> tuple[str, ...]:
        """States that receive doses (from ``data.dosing["target"]``), in order of first appearance."""
        dosing = _dosing(self.data)
        if dosing is None or len(dosing) == 0:
            return ()
        return tuple(dict.fromkeys(str(x) for x in dosing["target"]))

    @cached_property
    def infused_targets(self) -> tuple[str, ...]:
        """Dose targets that receive at least one zero-order infusion (``duration > 0``)."""
        dosing = _dosing(self.data)
        if dosing is None or len(dosing) == 0 or "duration" not in dosing:
            return ()
        rows = dosing[dosing["duration"].fillna(0.0) > 0]
        return tuple(dict.fromkeys(str(x) for x in rows["target"]))

    @cached_property
    def bolus_targets(self) -> tuple[str, ...]:
        """Dose targets that receive at least one bolus (``duration == 0`` or no duration column)."""
        dosing = _dosing(self.data)
        if dosing is None or len(dosing) == 0:
            return ()
        if "duration" not in dosing:
            return self.dose_targets
        rows = dosing[~(dosing["duration"].fillna(0.0) > 0)]
        return tuple(dict.fromkeys(str(x) for x in rows["target"]))

    def state(self, name: str) -> StateInfo:
        """The :class:`StateInfo` called ``name``."""
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(f"problem {self.name!r} has no state {name!r}; states are {list(self.state_names)}")

    def summary(self) -> DataSummary:
        """A shape summary of the data (see :func:`cohortode.propose.summarise`).

        Raises
        ------
        ValueError
            When the problem has no data.
        """
        if self.data is None:
            raise ValueError(f"problem {self.name!r} has no data to summarise; build it with Problem.from_cohort")
        from ._summary import summarise

        return summarise(self.data)

    def describe(self) -> str:
        """A compact plain-text description of states, observables, covariates and doses (for prompts)."""
        parts = []
        states = ", ".join(s.name + (f" ({s.meaning})" if s.meaning else "") for s in self.states)
        parts.append(f"States: {states}.")
        parts.append("Observables: " + "; ".join(f"{k} = {v}" for k, v in self.observables.items()) + ".")
        if self.signed:
            parts.append(f"Signed states (may go negative): {', '.join(self.signed)}.")
        if self.covariates:
            parts.append(f"Covariates: {', '.join(self.covariates)}.")
        if self.initial:
            parts.append("Initial values: " + "; ".join(f"{k}(0) = {v}" for k, v in self.initial.items()) + ".")
        if self.dose_targets:
            kinds = []
            for target in self.dose_targets:
                kind = "infusion" if target in self.infused_targets else "bolus"
                kinds.append(f"{target} ({kind})")
            parts.append(f"Doses go into: {', '.join(kinds)}.")
        return " ".join(parts)

    # ------------------------------------------------------------------------------------------ constructors
    @classmethod
    def from_cohort(
        cls,
        data: CohortData,
        *,
        states: Sequence[str | tuple[str, str] | StateInfo],
        observables: Mapping[str, str],
        name: str = "",
        context: str = "",
        domain: str | None = None,
        initial: Mapping[str, str] | None = None,
        covariates: Iterable[str] = (),
        signed: Iterable[str] = (),
    ) -> Problem:
        """A problem over a cohort's data.

        Parameters
        ----------
        data
            The cohort data; its ``description`` is the default ``context``, its ``time_unit`` the time unit and
            its metadata ``name`` (else its only cohort name) the default ``name``.
        states, observables, domain, initial, covariates, signed
            See :class:`Problem`.
        name, context
            Override the defaults taken from ``data``.

        Raises
        ------
        ModelSpecError
            When a data observable is not among ``observables`` or a dose target is not among ``states``.
        """
        problem = cls(
            name=name or _data_name(data),
            states=tuple(_state_info(s) for s in states),
            observables=dict(observables),
            data=data,
            context=context or str(getattr(data, "description", "") or ""),
            domain=domain,
            covariates=tuple(covariates),
            initial=dict(initial or {}),
            time_unit=str(getattr(data, "time_unit", "") or ""),
            signed=tuple(signed),
        )
        obs = getattr(data, "observations", None)
        if obs is not None and len(obs):
            unknown = sorted(set(map(str, obs["observable"])) - set(problem.observables))
            if unknown:
                raise ModelSpecError(f"problem {problem.name!r}: the data observe {unknown} but the problem defines "
                                     f"only {sorted(problem.observables)}; add an expression for each")
        missing = [t for t in problem.dose_targets if t not in problem.state_names]
        if missing:
            raise ModelSpecError(f"problem {problem.name!r}: doses go into {missing}, which are not problem states "
                                 f"{list(problem.state_names)}; add them to 'states'")
        return problem


def _dosing(data: Any):
    return None if data is None else getattr(data, "dosing", None)


def _data_name(data: Any) -> str:
    meta = getattr(data, "metadata", None) or {}
    if isinstance(meta, Mapping) and meta.get("name"):
        return str(meta["name"])
    cohorts = list(getattr(data, "cohorts", []) or [])
    return str(cohorts[0]) if len(cohorts) == 1 else "problem"
