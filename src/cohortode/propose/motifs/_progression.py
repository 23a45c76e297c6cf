"""Disease-progression blocks: progression law x treatment effect, for a problem with a single disease-score state.

A treatment effect needs a treatment covariate (a problem covariate named like ``treatment``, ``trt``, ``arm``,
``active``, ``drug`` or ``dose``, e.g. 0 for placebo and 1 for the active arm). The offset (symptomatic) effect shifts
the observed score; the slope (disease-modifying) effect scales the progression rate by ``exp(-beta_trt*trt)``, which
keeps the rate positive. The score starts at an estimated baseline ``<state>0`` unless the problem fixes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy

from ...spec import ODEModel, symbol
from .._problem import Problem
from ._block import Block, Draft, Family

__all__ = ["ProgressionFamily", "PROGRESSION_BLOCKS", "treatment_covariate"]

_F = "progression"
PROGRESSION_BLOCKS: tuple[Block, ...] = (
    Block("progression_law", "linear_progression", "linear progression: the disease score worsens at a constant "
          "rate alpha (straight line over time)", _F),
    Block("progression_law", "exponential_progression", "exponential progression: the score worsens at a rate "
          "proportional to its current value (accelerating decline)", _F),
    Block("progression_law", "asymptotic_progression", "asymptotic progression: the score approaches a maximum "
          "Smax at rate k, worsening fast at first and then levelling off", _F),
    Block("treatment_effect", "no_treatment_effect", "no treatment effect: all arms follow the same natural disease "
          "course", _F),
    Block("treatment_effect", "offset_treatment_effect", "symptomatic (offset) treatment effect: treatment shifts the "
          "observed score by a constant amount without changing the course", _F),
    Block("treatment_effect", "slope_treatment_effect", "disease-modifying (slope) treatment effect: treatment slows "
          "the progression rate, so arms diverge over time", _F),
)
_TREATMENT = re.compile(r"(treat|trt|arm|active|drug|dose|therapy)", re.IGNORECASE)


def treatment_covariate(problem: Problem) -> str | None:
    """The problem's treatment covariate, or ``None``."""
    return next((c for c in problem.covariates if _TREATMENT.search(c)), None)


class ProgressionFamily(Family):
    """Single-state disease-progression structures (see the module documentation)."""

    name = "progression"
    category_order = ("progression_law", "treatment_effect")

    def blocks(self) -> tuple[Block, ...]:
        return PROGRESSION_BLOCKS

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        if problem.domain not in (None, "progression") or len(problem.states) != 1:
            return {}
        if problem.domain is None and problem.dose_targets:
            return {}
        effects = [b for b in PROGRESSION_BLOCKS if b.category == "treatment_effect"]
        if treatment_covariate(problem) is None:
            effects = [b for b in effects if b.name == "no_treatment_effect"]
        return {"progression_law": [b for b in PROGRESSION_BLOCKS if b.category == "progression_law"],
                "treatment_effect": effects}

    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        if len(problem.states) != 1:
            raise ValueError(f"progression structures need a problem with one state, got {list(problem.state_names)}")
        draft = Draft(problem)
        state = problem.state_names[0]
        x = draft.x(state)
        effect = choice["treatment_effect"]
        trt_name = treatment_covariate(problem)
        if effect != "no_treatment_effect" and trt_name is None:
            raise ValueError(f"{effect} needs a treatment covariate (e.g. 'treatment', 0/1 per cohort); the problem "
                             f"has {list(problem.covariates) or 'none'}")
        scale: sympy.Expr = sympy.Integer(1)
        if effect == "slope_treatment_effect":
            scale = sympy.exp(-draft.p("beta_trt") * symbol(trt_name))
        elif effect == "offset_treatment_effect":
            draft.substitute_in_observables({x: x - draft.p("offset") * symbol(trt_name)})
        elif effect != "no_treatment_effect":
            raise ValueError(f"unknown treatment_effect block {effect!r}")
        law = choice["progression_law"]
        if law == "linear_progression":
            draft.add(state, scale * draft.p("alpha"))
        elif law == "exponential_progression":
            draft.add(state, scale * draft.p("k") * x)
        elif law == "asymptotic_progression":
            draft.add(state, scale * draft.p("k") * (draft.p("Smax") - x))
        else:
            raise ValueError(f"unknown progression law {law!r}")
        draft.set_initial(state, draft.p(f"{state}0"))
        chosen = [choice[c] for c in self.category_order]
        return draft.model(name="+".join(chosen), description="; ".join(self.block(n).description for n in chosen))
