"""Epidemic blocks: compartment structure x transmission x contact pattern.

The problem's states are matched to roles by name (or the first word of their meaning): susceptible (``S``),
exposed (``E``), infectious (``I``), recovered (``R``). ``S`` and ``I`` are required. A structure is offered only if it
keeps every problem state: SI and SIS only when the problem has no recovered or exposed state; SIR, SIRS and SIR with
vital dynamics when it has no exposed state (``R`` is added when missing); SEIR and SEIRS add ``E`` when missing.

Frequency-dependent transmission divides by the population ``N``: the covariate ``N`` when the problem has it, the
parameter ``N`` when the problem's initial values use it, otherwise the sum of the states.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy

from ...spec import TIME, ODEModel, parse_expression, symbol
from .._problem import Problem
from ._block import Block, Draft, Family

__all__ = ["EpidemicFamily", "EPIDEMIC_BLOCKS", "epidemic_role", "epidemic_roles"]

_F = "epidemic"
EPIDEMIC_BLOCKS: tuple[Block, ...] = (
    Block("compartments", "si", "SI: susceptibles become infected and stay infectious for good; infections only "
          "accumulate", _F),
    Block("compartments", "sis", "SIS: infected people recover without immunity and become susceptible again, "
          "so infection settles at an endemic level", _F),
    Block("compartments", "sir", "SIR: susceptible, infectious, recovered with lasting immunity; a single epidemic "
          "wave that rises, peaks and burns out", _F),
    Block("compartments", "sirs", "SIRS: like SIR but immunity wanes (rate omega) so recovered people become "
          "susceptible again; waves can recur", _F),
    Block("compartments", "seir", "SEIR: infected people pass a latent exposed stage (rate sigma) before becoming "
          "infectious; a delayed, broader epidemic wave", _F),
    Block("compartments", "seirs", "SEIRS: SEIR with waning immunity; latent stage plus loss of immunity allows "
          "recurring waves", _F),
    Block("compartments", "sir_vital_dynamics", "SIR with vital dynamics: births into the susceptibles and deaths "
          "from every compartment at rate mu renew the susceptible pool", _F),
    Block("transmission", "frequency_dependent", "frequency-dependent transmission beta*S*I/N: the infection rate "
          "depends on the fraction of the population infectious (typical for human contacts)", _F),
    Block("transmission", "density_dependent", "density-dependent transmission beta*S*I: the infection rate grows "
          "with the number of infectious individuals (mass action)", _F),
    Block("contact", "constant_contact", "constant contact rate: transmission does not change over the outbreak", _F),
    Block("contact", "declining_contact", "declining contact rate: transmission decays exponentially over time "
          "(behaviour change, isolation, school closure)", _F),
)

_ROLE_WORDS = {
    "S": ("s", "susceptible", "susceptibles"),
    "E": ("e", "exposed", "latent"),
    "I": ("i", "infected", "infectious", "infective", "ill", "cases"),
    "R": ("r", "recovered", "removed", "immune", "resistant"),
}
_NEEDS = {"si": (), "sis": (), "sir": ("R",), "sirs": ("R",), "seir": ("E", "R"), "seirs": ("E", "R"),
          "sir_vital_dynamics": ("R",)}
_FORBIDS = {"si": ("E", "R"), "sis": ("E", "R"), "sir": ("E",), "sirs": ("E",), "seir": (), "seirs": (),
            "sir_vital_dynamics": ("E",)}
_DEFAULT_NAME = {"S": "S", "E": "E", "I": "I", "R": "R"}


def epidemic_role(name: str, meaning: str = "") -> str | None:
    """The role (``S``, ``E``, ``I`` or ``R``) of a state named ``name`` (or whose meaning starts with a role word:
    ``"infected people"``), or ``None``."""
    words = [name.lower()]
    if meaning:
        words.append(re.split(r"\W+", meaning.strip().lower())[0])
    return next((r for r, names in _ROLE_WORDS.items() if any(w in names for w in words)), None)


def epidemic_roles(problem: Problem) -> dict[str, str] | None:
    """Role (``S``, ``E``, ``I``, ``R``) -> state name, or ``None`` when a state has no role or S or I is missing."""
    roles: dict[str, str] = {}
    for info in problem.states:
        role = epidemic_role(info.name, info.meaning)
        if role is None or role in roles:
            return None
        roles[role] = info.name
    if "S" not in roles or "I" not in roles:
        return None
    return roles


class EpidemicFamily(Family):
    """Compartmental epidemic structures (see the module documentation)."""

    name = "epidemic"
    category_order = ("compartments", "transmission", "contact")

    def blocks(self) -> tuple[Block, ...]:
        return EPIDEMIC_BLOCKS

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        if problem.domain not in (None, "epidemic"):
            return {}
        roles = epidemic_roles(problem)
        if roles is None or problem.dose_targets:
            return {}
        structures = [b for b in EPIDEMIC_BLOCKS if b.category == "compartments"
                      and not any(r in roles for r in _FORBIDS[b.name])]
        if not structures:
            return {}
        return {
            "compartments": structures,
            "transmission": [b for b in EPIDEMIC_BLOCKS if b.category == "transmission"],
            "contact": [b for b in EPIDEMIC_BLOCKS if b.category == "contact"],
        }

    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        roles = epidemic_roles(problem)
        if roles is None:
            raise ValueError(f"problem {problem.name!r}: could not match its states to S, E, I, R")
        structure = choice["compartments"]
        bad = [r for r in _FORBIDS[structure] if r in roles]
        if bad:
            raise ValueError(f"{structure} has no {bad} compartment, but the problem has state(s) "
                             f"{[roles[r] for r in bad]}")
        draft = Draft(problem)
        names = dict(roles)
        for role in _NEEDS[structure]:
            if role not in names:
                names[role] = draft.add_state(_DEFAULT_NAME[role])
        x = {role: draft.x(name) for role, name in names.items()}
        population = self._population(problem, draft, x)
        beta = draft.p("beta")
        if choice["contact"] == "declining_contact":
            beta = beta * sympy.exp(-draft.p("q") * symbol(TIME))
        infection = beta * x["S"] * x["I"]
        if choice["transmission"] == "frequency_dependent":
            infection = infection / population
        if structure in ("seir", "seirs"):
            draft.flow(names["S"], names["E"], infection)
            draft.flow(names["E"], names["I"], draft.p("sigma") * x["E"])
        else:
            draft.flow(names["S"], names["I"], infection)
        if structure == "sis":
            draft.flow(names["I"], names["S"], draft.p("gamma") * x["I"])
        elif structure != "si":  # SI has no recovery
            draft.flow(names["I"], names["R"], draft.p("gamma") * x["I"])
        if structure in ("sirs", "seirs"):
            draft.flow(names["R"], names["S"], draft.p("omega") * x["R"])
        if structure == "sir_vital_dynamics":
            mu = draft.p("mu")
            draft.flow(None, names["S"], mu * population)
            for role in ("S", "I", "R"):
                draft.flow(names[role], None, mu * x[role])
        chosen = [choice[c] for c in self.category_order]
        return draft.model(name="+".join(chosen), description="; ".join(self.block(n).description for n in chosen))

    @staticmethod
    def _population(problem: Problem, draft: Draft, x: Mapping[str, sympy.Symbol]) -> sympy.Expr:
        if "N" in problem.covariates:
            return symbol("N")
        for text in problem.initial.values():
            if "N" in {s.name for s in parse_expression(text).free_symbols}:
                return symbol("N")
        return sympy.Add(*x.values())
