"""Pharmacokinetic blocks: absorption (input) x distribution x elimination.

The dosing table decides the input: a dose into a depot (gut) state that is not observed gives the oral variants
(first-order absorption, absorption through transit compartments); a dose into the observed central state gives an
IV bolus, or a zero-order infusion when the doses have a duration (the ODE is the same: the dosing table supplies the
input). Distribution variants add peripheral states (``peripheral``, ``peripheral2``), transit variants add
``transit1..n``. Rates are first-order rate constants (``ka``, ``ktr``, ``ke``, ``k12``, ``k21``...), amounts live in
the states, and the problem's observable (e.g. ``conc = central/V``) turns amounts into concentrations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...spec import ODEModel
from .._problem import Problem
from ._block import Block, Draft, Family, states_in

__all__ = ["PKFamily", "PKRoles", "pk_roles", "plausible_pk", "PK_BLOCKS", "add_pk", "absorption_blocks",
           "distribution_blocks"]

_F = "pk"
PK_BLOCKS: tuple[Block, ...] = (
    Block("absorption", "iv_bolus", "intravenous bolus: the whole dose enters the central (blood) compartment at once, "
          "so levels are highest right after the dose", _F),
    Block("absorption", "zero_order_infusion", "zero-order intravenous infusion: the dose enters the central "
          "compartment at a constant rate over the infusion duration, so levels rise during the infusion", _F),
    Block("absorption", "first_order_absorption", "first-order absorption from a gut depot into the central "
          "compartment at rate ka: levels rise to a peak, then fall", _F),
    Block("absorption", "transit_absorption_1", "delayed absorption: the dose passes one transit compartment before "
          "first-order absorption, giving a short lag and a smoother rise", _F),
    Block("absorption", "transit_absorption_3", "strongly delayed absorption: the dose passes a chain of three "
          "transit compartments before absorption, giving a clear lag time and an S-shaped rise", _F),
    Block("distribution", "one_compartment", "one compartment: the drug distributes instantly in a single volume, "
          "giving a mono-exponential decline on a log scale", _F),
    Block("distribution", "two_compartment", "two compartments: drug distributes into a peripheral tissue "
          "compartment, giving a bi-exponential decline (fast distribution phase, then slower terminal phase)", _F),
    Block("distribution", "three_compartment", "three compartments (mammillary): drug exchanges with a shallow and "
          "a deep peripheral compartment, giving a tri-exponential decline with a long terminal tail", _F),
    Block("distribution", "three_compartment_catenary", "three compartments in a chain (catenary): central exchanges "
          "with a peripheral compartment that exchanges with a deeper one, giving a slow, long terminal tail", _F),
    Block("elimination", "linear_elimination", "linear (first-order) elimination from the central compartment: "
          "a constant fraction is cleared per unit time, half-life independent of dose", _F),
    Block("elimination", "michaelis_menten_elimination", "saturable Michaelis-Menten elimination (Vmax, Km): "
          "clearance falls at high levels, so the decline is slower at high doses and faster at low levels", _F),
    Block("elimination", "linear_plus_michaelis_menten_elimination", "parallel linear and saturable "
          "Michaelis-Menten elimination: a first-order pathway plus a pathway that saturates at high levels", _F),
)

_N_TRANSIT = {"transit_absorption_1": 1, "transit_absorption_3": 3}
_N_PERIPHERAL = {"one_compartment": 0, "two_compartment": 1, "three_compartment": 2, "three_compartment_catenary": 2}
_PERIPHERAL = re.compile(r"^(peripheral|periph|tissue|deep)\d*$", re.IGNORECASE)
_DEPOT = re.compile(r"^(depot|gut|gi|absorption|abs|dose)\d*$", re.IGNORECASE)
_CENTRAL = re.compile(r"^(central|centre|center|plasma|blood|a1|c1)$", re.IGNORECASE)


@dataclass(frozen=True)
class PKRoles:
    """Which problem state plays which pharmacokinetic role."""

    central: str
    depot: str | None
    peripherals: tuple[str, ...]
    others: tuple[str, ...]
    oral: bool
    bolus: bool
    infusion: bool


def pk_roles(problem: Problem) -> PKRoles | None:
    """The PK roles of the problem's states, or ``None`` when no central state can be identified.

    The central state is the state named like ``central`` (else the only observed state, else the only observed dose
    target); the depot is a dose target other than the central state (else a state named like ``depot``/``gut``);
    states named like ``peripheral`` are peripheral compartments; every other state is listed in ``others``.
    """
    states = problem.state_names
    observed: list[str] = []
    for text in problem.observables.values():
        observed += [s for s in states if s in states_in(text, states) and s not in observed]
    targets = problem.dose_targets
    central = next((s for s in states if _CENTRAL.match(s)), None)
    if central is None:
        plain = [s for s in observed if not _PERIPHERAL.match(s) and not _DEPOT.match(s)]
        if len(plain) == 1:
            central = plain[0]
        else:
            dosed = [s for s in plain if s in targets]
            if len(dosed) == 1:
                central = dosed[0]
    if central is None:
        return None
    depots = [s for s in targets if s != central]
    if not depots:
        depots = [s for s in states if s != central and _DEPOT.match(s)]
    if len(depots) > 1 or any(_PERIPHERAL.match(d) for d in depots):
        return None
    depot = depots[0] if depots else None
    peripherals = tuple(s for s in states if s not in (central, depot) and _PERIPHERAL.match(s))
    others = tuple(s for s in states if s not in (central, depot) and s not in peripherals)
    if not targets:  # no dosing information: infer from the names
        bolus, infusion = depot is None, False
    else:
        bolus = central in problem.bolus_targets
        infusion = central in problem.infused_targets
        if depot is None and not (bolus or infusion):
            return None
    return PKRoles(central, depot, peripherals, others, depot is not None, bolus, infusion)


def plausible_pk(problem: Problem, roles: PKRoles) -> bool:
    """Whether a problem looks pharmacokinetic: it names the domain, has doses, or names a central compartment."""
    return problem.domain in ("pk", "pd") or bool(problem.dose_targets) or bool(_CENTRAL.match(roles.central))


def absorption_blocks(roles: PKRoles, *, basic: bool = False) -> list[Block]:
    """Input blocks that fit the dosing: oral variants for a depot, bolus / infusion for central doses."""
    by_name = {b.name: b for b in PK_BLOCKS}
    if roles.oral:
        names = ["first_order_absorption"] if basic else ["first_order_absorption", *_N_TRANSIT]
    else:
        names = (["iv_bolus"] if roles.bolus else []) + (["zero_order_infusion"] if roles.infusion else [])
    return [by_name[n] for n in names]


def distribution_blocks(roles: PKRoles, *, max_peripherals: int = 2) -> list[Block]:
    """Distribution blocks with at least as many peripheral compartments as the problem names."""
    return [b for b in PK_BLOCKS if b.category == "distribution"
            and len(roles.peripherals) <= _N_PERIPHERAL[b.name] <= max_peripherals]


def add_pk(draft: Draft, roles: PKRoles, absorption: str, distribution: str, elimination: str) -> None:
    """Add the terms of a PK combination to ``draft``."""
    central = roles.central
    c = draft.x(central)
    # input
    if absorption in _N_TRANSIT:
        if roles.depot is None:
            raise ValueError(f"{absorption} needs a depot (gut) state that receives the doses")
        ktr = draft.p("ktr")
        previous = roles.depot
        for i in range(1, _N_TRANSIT[absorption] + 1):
            transit = draft.add_state(f"transit{i}")
            draft.flow(previous, transit, ktr * draft.x(previous))
            previous = transit
        draft.flow(previous, central, draft.p("ka") * draft.x(previous))
    elif absorption == "first_order_absorption":
        if roles.depot is None:
            raise ValueError("first_order_absorption needs a depot (gut) state that receives the doses")
        draft.flow(roles.depot, central, draft.p("ka") * draft.x(roles.depot))
    elif absorption not in ("iv_bolus", "zero_order_infusion"):
        raise ValueError(f"unknown absorption block {absorption!r}")
    # distribution
    n = _N_PERIPHERAL[distribution]
    peripherals = list(roles.peripherals[:n])
    while len(peripherals) < n:
        peripherals.append(draft.add_state("peripheral"))
    if n >= 1:
        p1 = peripherals[0]
        draft.flow(central, p1, draft.p("k12") * c)
        draft.flow(p1, central, draft.p("k21") * draft.x(p1))
    if distribution == "three_compartment":
        p2 = peripherals[1]
        draft.flow(central, p2, draft.p("k13") * c)
        draft.flow(p2, central, draft.p("k31") * draft.x(p2))
    elif distribution == "three_compartment_catenary":
        p1, p2 = peripherals
        draft.flow(p1, p2, draft.p("k23") * draft.x(p1))
        draft.flow(p2, p1, draft.p("k32") * draft.x(p2))
    # elimination
    if elimination in ("linear_elimination", "linear_plus_michaelis_menten_elimination"):
        draft.flow(central, None, draft.p("ke") * c)
    if elimination in ("michaelis_menten_elimination", "linear_plus_michaelis_menten_elimination"):
        draft.flow(central, None, draft.p("Vmax") * c / (draft.p("Km") + c))
    if elimination not in ("linear_elimination", "michaelis_menten_elimination",
                           "linear_plus_michaelis_menten_elimination"):
        raise ValueError(f"unknown elimination block {elimination!r}")


class PKFamily(Family):
    """Pharmacokinetic structures: absorption x distribution x elimination (see the module documentation)."""

    name = "pk"
    category_order = ("absorption", "distribution", "elimination")

    def blocks(self) -> tuple[Block, ...]:
        return PK_BLOCKS

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        if problem.domain not in (None, "pk"):
            return {}
        roles = pk_roles(problem)
        if roles is None or roles.others or not plausible_pk(problem, roles):
            return {}
        cats = {
            "absorption": absorption_blocks(roles),
            "distribution": distribution_blocks(roles),
            "elimination": [b for b in PK_BLOCKS if b.category == "elimination"],
        }
        return cats if all(cats.values()) else {}

    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        roles = pk_roles(problem)
        if roles is None:
            raise ValueError(f"problem {problem.name!r} has no identifiable central compartment")
        draft = Draft(problem)
        add_pk(draft, roles, choice["absorption"], choice["distribution"], choice["elimination"])
        names = [choice[c] for c in self.category_order]
        return draft.model(name="+".join(names), description="; ".join(self.block(n).description for n in names))
