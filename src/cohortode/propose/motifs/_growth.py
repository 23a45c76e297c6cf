"""Growth blocks: growth law x loss, for a problem with a single size state (tumour volume, population...).

The size starts at an estimated initial value ``<state>0`` unless the problem fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy

from ...spec import ODEModel
from .._problem import Problem
from ._block import Block, Draft, Family

__all__ = ["GrowthFamily", "GROWTH_BLOCKS"]

_F = "growth"
GROWTH_BLOCKS: tuple[Block, ...] = (
    Block("growth_law", "exponential_growth", "exponential growth at constant rate r: unlimited, the size doubles "
          "at fixed intervals (straight line on a log scale)", _F),
    Block("growth_law", "logistic_growth", "logistic growth: exponential at first, then slowing symmetrically to a "
          "plateau at carrying capacity K (S-shaped curve)", _F),
    Block("growth_law", "gompertz_growth", "Gompertz growth: the relative growth rate decays as size approaches "
          "capacity K; an asymmetric S-curve that slows early (typical of tumours)", _F),
    Block("growth_law", "richards_growth", "Richards (generalised logistic) growth: an S-curve to capacity K whose "
          "asymmetry is set by a shape exponent nu", _F),
    Block("growth_law", "von_bertalanffy_growth", "von Bertalanffy growth: gain proportional to size^(2/3) (surface) "
          "minus loss proportional to size; growth decelerates to a limiting size", _F),
    Block("growth_law", "monomolecular_growth", "monomolecular (bounded exponential) growth: fastest at the start, "
          "then approaches the limit K with no S-shape", _F),
    Block("growth_law", "power_law_growth", "power-law growth r*size^alpha: sub-exponential growth that keeps "
          "going without a plateau", _F),
    Block("growth_law", "exponential_linear_growth", "exponential-then-linear growth: exponential while small, then "
          "a constant (linear) growth rate g when large, no plateau", _F),
    Block("loss", "no_loss", "no separate loss: the size changes only through the growth law", _F),
    Block("loss", "first_order_loss", "additional first-order loss (death or shrinkage) of the size at rate d", _F),
)
# laws where an extra first-order loss is already part of the law or merges with its rate
_NO_EXTRA_LOSS = ("exponential_growth", "monomolecular_growth", "von_bertalanffy_growth")


def growth_term(draft: Draft, law: str, x: sympy.Symbol) -> sympy.Expr:
    """The right-hand side of a growth law in the size ``x``."""
    if law == "exponential_growth":
        return draft.p("r") * x
    if law == "logistic_growth":
        return draft.p("r") * x * (1 - x / draft.p("K"))
    if law == "gompertz_growth":
        return draft.p("r") * x * sympy.log(draft.p("K") / x)
    if law == "richards_growth":
        return draft.p("r") * x * (1 - (x / draft.p("K")) ** draft.p("nu"))
    if law == "von_bertalanffy_growth":
        return draft.p("a") * x ** sympy.Rational(2, 3) - draft.p("b") * x
    if law == "monomolecular_growth":
        return draft.p("r") * (draft.p("K") - x)
    if law == "power_law_growth":
        return draft.p("r") * x ** draft.p("alpha")
    if law == "exponential_linear_growth":
        r, g = draft.p("r"), draft.p("g")
        return r * g * x / (g + r * x)
    raise ValueError(f"unknown growth law {law!r}")


class GrowthFamily(Family):
    """Single-state growth structures (see the module documentation)."""

    name = "growth"
    category_order = ("growth_law", "loss")

    def blocks(self) -> tuple[Block, ...]:
        return GROWTH_BLOCKS

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        if problem.domain not in (None, "growth") or len(problem.states) != 1:
            return {}
        if problem.domain is None and problem.dose_targets:
            return {}
        return {cat: [b for b in GROWTH_BLOCKS if b.category == cat] for cat in self.category_order}

    def compatible(self, problem: Problem, choice: Mapping[str, str]) -> bool:
        return not (choice["loss"] == "first_order_loss" and choice["growth_law"] in _NO_EXTRA_LOSS)

    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        if len(problem.states) != 1:
            raise ValueError(f"growth structures need a problem with one state, got {list(problem.state_names)}")
        draft = Draft(problem)
        state = problem.state_names[0]
        x = draft.x(state)
        draft.add(state, growth_term(draft, choice["growth_law"], x))
        if choice["loss"] == "first_order_loss":
            draft.flow(state, None, draft.p("d") * x)
        elif choice["loss"] != "no_loss":
            raise ValueError(f"unknown loss block {choice['loss']!r}")
        draft.set_initial(state, draft.p(f"{state}0"))
        chosen = [choice[c] for c in self.category_order]
        return draft.model(name="+".join(chosen), description="; ".join(self.block(n).description for n in chosen))
