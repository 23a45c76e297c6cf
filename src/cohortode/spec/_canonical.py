"""Canonical form of a model structure, for deduplication.

Two structures that differ only by parameter names, term order or algebraic arrangement (``a*(x+y)`` against
``a*x + a*y``) get the same canonical text: every expression is expanded, sympy orders the terms, and parameters are
renamed ``p0, p1, ...`` by their role (the terms they appear in, with all parameter names blanked), not by their name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from ._parser import symbol

if TYPE_CHECKING:
    from ._model import ODEModel

__all__ = ["canonical_form"]

_MARK = sympy.Symbol("__this__")
_OTHER = sympy.Symbol("__param__")


def _sections(model: ODEModel) -> list[tuple[str, sympy.Expr]]:
    out = [(f"d/dt {s}", sympy.expand(model.rhs[s])) for s in sorted(model.states)]
    out += [(f"obs {o}", sympy.expand(e)) for o, e in sorted(model.observables.items())]
    out += [(f"init {s}", sympy.expand(e)) for s, e in sorted(model.initial.items()) if e != 0]
    return out


def _role(param: sympy.Symbol, params: list[sympy.Symbol], sections: list[tuple[str, sympy.Expr]]) -> str:
    blank = {p: (_MARK if p == param else _OTHER) for p in params}
    parts = []
    for key, expr in sections:
        terms = sympy.Add.make_args(expr)
        found = sorted(sympy.sstr(term.xreplace(blank)) for term in terms if param in term.free_symbols)
        if found:
            parts.append(f"{key}:{'|'.join(found)}")
    return ";".join(parts)


def canonical_form(model: ODEModel) -> str:
    """Canonical text of ``model``'s structure (priors and names of parameters do not enter)."""
    params = [symbol(n) for n in model.parameter_names]
    sections = _sections(model)
    order = sorted(params, key=lambda p: (_role(p, params, sections), p.name))
    rename = {p: sympy.Symbol(f"p{i}") for i, p in enumerate(order)}
    lines = [f"{key} = {sympy.sstr(sympy.expand(expr.xreplace(rename)))}" for key, expr in sections]
    return "\n".join(lines)
