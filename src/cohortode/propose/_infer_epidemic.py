"""An epidemic :class:`Problem` inferred from counts of some compartments of one population (e.g. only ``I``).

The motif library's epidemic blocks (:mod:`cohortode.propose.motifs._epidemic`) need the states ``S`` and ``I``
(``R`` for SIR-type structures) and non-zero initial values: they estimate no initial value themselves, and a model
whose states all start at 0 stays at 0. With the population given in the data, the states are fractions of it, so
``S(0) = 1 - I0`` and ``I(0) = I0`` (``I0``, the infectious fraction at time 0, estimated) fix the population at 1
and frequency-dependent transmission ``beta*S*I/N`` divides by the sum of the states.
"""

from __future__ import annotations

from typing import Any

from .._errors import ModelSpecError
from ._problem import Problem, StateInfo
from .motifs._epidemic import epidemic_role

__all__ = ["epidemic_problem", "observed_roles"]

_MEANINGS = {"S": "susceptible fraction of the population", "E": "exposed (infected, not yet infectious) fraction",
             "I": "infectious fraction of the population", "R": "recovered (immune or removed) fraction"}


def observed_roles(observed: list[str]) -> dict[str, str] | None:
    """Role (``S``, ``E``, ``I``, ``R``) -> observed name when every observed quantity names a distinct compartment
    (``S``, ``I``, ``infected``, ``cases``, ...), else ``None``."""
    roles: dict[str, str] = {}
    for name in observed:
        role = epidemic_role(name)
        if role is None or role in roles or not name.isidentifier():
            return None
        roles[role] = name
    return roles


def _population_given(data: Any) -> bool:
    observations = data.observations
    return "population" in observations.columns and bool(observations["population"].notna().all())


def epidemic_problem(data: Any, roles: dict[str, str], *, name: str, label: str, context: str) -> Problem:
    """An S(E)IR problem over fractions of the population that observes the compartments in ``roles``.

    States: ``S``, ``E`` (only when observed), ``I`` and ``R``, named as observed; each observed quantity is its
    state. Initial values ``S(0) = 1 - I0`` and ``I(0) = I0``, others 0.

    Raises
    ------
    ModelSpecError
        When the data do not give the population size (counts without a ``population`` column, or a
        :class:`~cohortode.CohortData` of means): the message lists what to add.
    """
    names = {r: roles.get(r, r) for r in ("S", "E", "I", "R") if r != "E" or r in roles}
    if not _population_given(data):
        example = ", ".join(f"{n!r}" for n in names.values())
        raise ModelSpecError(
            f"cannot infer the epidemic problem of {label!r}: the data observe {list(roles.values())} but do not give "
            "the population size, and the epidemic motifs need it to start the outbreak (they estimate no initial "
            "value, and states that all start at 0 stay at 0). Add either (1) a 'population' column to the count "
            "table (CountData): the model then explains fractions, with S(0) = 1 - I0 and I(0) = I0 estimated; or "
            f"(2) the problem yourself, with the population in its initial values: Problem(name={label!r}, "
            f"states=({example}), observables={{{', '.join(f'{o!r}: {o!r}' for o in roles.values())}}}, "
            f"initial={{{names['S']!r}: '9999', {names['I']!r}: '1'}}, domain='epidemic') for a population of "
            "10000 with one infectious person at time 0, passed as problem=...")
    infectious = names["I"]
    states = [StateInfo(n, _MEANINGS[r]) for r, n in names.items()]
    initial = {names["S"]: f"1 - {infectious}0", infectious: f"{infectious}0"}
    return Problem.from_cohort(data, states=states, observables={o: o for o in roles.values()}, name=name,
                               context=context, domain="epidemic", initial=initial)
