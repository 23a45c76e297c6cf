"""Pharmacodynamic blocks: a PK model drives a response state through a drug-effect function.

A PD problem has the PK states (``central``, optionally a dosed ``depot``) plus exactly one response state (e.g.
``response``), observed through the problem's expression (e.g. ``effect = response``). The concentration driving the
effect is the problem's concentration observable (e.g. ``central/V``), or the central amount when there is none. The
PK part uses linear elimination. Categories: absorption x distribution (one or two compartments) x drug effect
(linear, Emax, sigmoid Emax) x response (effect compartment, indirect response models I-IV).

Inhibitory responses (I and II) use a fractional inhibition ``C/(IC50 + C)`` (or its sigmoid form) so that the
inhibited rate can never turn negative; they are not combined with the unbounded linear effect.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy

from ...spec import ODEModel, Prior, parse_expression
from .._problem import Problem
from ._block import Block, Draft, Family, states_in
from ._pk import PK_BLOCKS, PKRoles, absorption_blocks, add_pk, distribution_blocks, pk_roles, plausible_pk

__all__ = ["PDFamily", "PD_BLOCKS"]

_F = "pd"
PD_BLOCKS: tuple[Block, ...] = (
    Block("drug_effect", "linear_drug_effect", "linear drug effect: the effect grows in proportion to the "
          "concentration, with no saturation (slope)", _F),
    Block("drug_effect", "emax_drug_effect", "direct Emax effect: the effect rises with concentration and saturates "
          "at a maximum Emax, half-maximal at EC50 (hyperbolic)", _F),
    Block("drug_effect", "partial_inhibition_drug_effect", "partial inhibition: the drug blocks at most a fraction "
          "Imax (between 0 and 1) of the process it inhibits, half-maximal at IC50 (hyperbolic)", _F),
    Block("drug_effect", "sigmoid_emax_drug_effect", "sigmoid Emax (Hill) effect: a steep, switch-like "
          "concentration-effect curve with Hill coefficient hill, saturating at Emax", _F),
    Block("response", "effect_compartment", "effect compartment: the response lags behind plasma concentration and "
          "approaches baseline E0 plus the drug effect at rate ke0 (hysteresis, delayed peak effect)", _F),
    Block("response", "indirect_response_1", "indirect response I: the drug inhibits the production (kin) of a "
          "turnover response, so the response falls slowly below baseline and recovers", _F),
    Block("response", "indirect_response_2", "indirect response II: the drug inhibits the loss (kout) of a "
          "turnover response, so the response builds up slowly above baseline", _F),
    Block("response", "indirect_response_3", "indirect response III: the drug stimulates the production (kin) of a "
          "turnover response, so the response rises slowly above baseline", _F),
    Block("response", "indirect_response_4", "indirect response IV: the drug stimulates the loss (kout) of a "
          "turnover response, so the response falls slowly below baseline", _F),
)
_INHIBITORY = ("indirect_response_1", "indirect_response_2")


def _pd_roles(problem: Problem) -> tuple[PKRoles, str] | None:
    roles = pk_roles(problem)
    if roles is None or len(roles.others) != 1 or not plausible_pk(problem, roles):
        return None
    return roles, roles.others[0]


def _concentration(draft: Draft, roles: PKRoles, problem: Problem) -> sympy.Expr:
    for text in problem.observables.values():
        if states_in(text, problem.state_names) == {roles.central}:
            return parse_expression(text)
    return draft.x(roles.central)


class PDFamily(Family):
    """PK-PD structures (see the module documentation)."""

    name = "pd"
    category_order = ("absorption", "distribution", "drug_effect", "response")

    def blocks(self) -> tuple[Block, ...]:
        return PD_BLOCKS

    def block(self, name: str) -> Block:
        for b in (*PD_BLOCKS, *PK_BLOCKS):
            if b.name == name:
                return b
        raise KeyError(f"family 'pd' has no block {name!r}")

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        if problem.domain not in (None, "pd"):
            return {}
        found = _pd_roles(problem)
        if found is None:
            return {}
        roles, _ = found
        cats = {
            "absorption": absorption_blocks(roles, basic=True),
            "distribution": distribution_blocks(roles, max_peripherals=1),
            "drug_effect": [b for b in PD_BLOCKS if b.category == "drug_effect"],
            "response": [b for b in PD_BLOCKS if b.category == "response"],
        }
        return cats if all(cats.values()) else {}

    def compatible(self, problem: Problem, choice: Mapping[str, str]) -> bool:
        inhibitory = choice["response"] in _INHIBITORY
        if inhibitory and choice["drug_effect"] == "linear_drug_effect":
            return False
        return inhibitory or choice["drug_effect"] != "partial_inhibition_drug_effect"

    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        found = _pd_roles(problem)
        if found is None:
            raise ValueError(f"problem {problem.name!r} does not have PK states plus exactly one response state")
        roles, response = found
        if not self.compatible(problem, choice):
            raise ValueError(f"{choice['response']} and {choice['drug_effect']} do not go together: an inhibited "
                             f"process needs a fractional (Emax-type) inhibition, and partial inhibition applies to "
                             f"an inhibited process only")
        draft = Draft(problem)
        add_pk(draft, roles, choice["absorption"], choice["distribution"], "linear_elimination")
        conc = _concentration(draft, roles, problem)
        r = draft.x(response)
        kind, resp = choice["drug_effect"], choice["response"]
        inhibitory = resp in _INHIBITORY
        half = draft.p("IC50" if inhibitory else "EC50")
        if kind == "linear_drug_effect":
            effect = draft.p("slope") * conc
        elif kind == "emax_drug_effect":
            fraction = conc / (half + conc)
            effect = fraction if inhibitory else draft.p("Emax") * fraction
        elif kind == "partial_inhibition_drug_effect":
            effect = draft.p("Imax") * conc / (half + conc)
        elif kind == "sigmoid_emax_drug_effect":
            hill = draft.p("hill")
            fraction = conc**hill / (half**hill + conc**hill)
            effect = fraction if inhibitory else draft.p("Emax") * fraction
        else:
            raise ValueError(f"unknown drug_effect block {kind!r}")
        if resp == "effect_compartment":
            e0 = draft.p("E0")
            draft.add(response, draft.p("ke0") * (e0 + effect - r))
            draft.set_initial(response, e0)
        else:
            kin, kout = draft.p("kin"), draft.p("kout")
            if resp == "indirect_response_1":
                draft.add(response, kin * (1 - effect) - kout * r)
            elif resp == "indirect_response_2":
                draft.add(response, kin - kout * (1 - effect) * r)
            elif resp == "indirect_response_3":
                draft.add(response, kin * (1 + effect) - kout * r)
            elif resp == "indirect_response_4":
                draft.add(response, kin - kout * (1 + effect) * r)
            else:
                raise ValueError(f"unknown response block {resp!r}")
            draft.set_initial(response, kin / kout)
        names = [choice[c] for c in self.category_order]
        model = draft.model(name="+".join(names), description="; ".join(self.block(n).description for n in names))
        if kind == "partial_inhibition_drug_effect":  # a fraction: uniform on (0, 1), no log-normal spread past 1
            model = model.with_parameters(Imax={"prior": Prior.uniform(0.0, 1.0), "iiv": False})
        return model
