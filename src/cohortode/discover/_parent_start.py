"""MAP starts of a mutated structure from its parent's optimum.

A mutation extends (or trims) a scored structure. Started from the parent's optimum, with the rates that the
extension adds set near zero, the child's fit begins where the parent ended, so on a nested pair its maximised
likelihood can end no worse than the parent's. Sites of the child the parent lacks take their prior median (the
rule of ``fit(..., init=...)``); a new rate that switches the extension off starts at :data:`SWITCHED_OFF` times
its prior median, and a new capacity that switches it off by growing without bound (``r*x*(1 - x/K)`` as ``K`` goes
to infinity) at its prior median divided by :data:`SWITCHED_OFF`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import sympy

from ..spec import ODEModel, symbol

__all__ = ["SWITCHED_OFF", "MAX_NEW_PARAMETERS", "switch_off_parameters", "parent_starts"]

_U = sympy.Dummy("u", positive=True)

SWITCHED_OFF = 1e-4
"""A new rate that switches an extension off starts at this fraction of its prior median."""
MAX_NEW_PARAMETERS = 6
"""Above this many new parameters, no subset of them is searched for a switch-off (all take prior medians)."""


def _same(a: sympy.Expr, b: sympy.Expr) -> bool:
    return sympy.simplify(sympy.expand(a - b)) == 0


def _switched(expr: sympy.Expr, empty: dict, off: tuple[str, ...], at: str) -> sympy.Expr:
    """``expr`` with the new states empty and the parameters ``off`` at zero (``at="zero"``) or, as ``1/u`` with
    ``u -> 0``, at infinity."""
    if at == "zero":
        return expr.subs({**empty, **{symbol(p): 0 for p in off}})
    inverted = sympy.cancel(sympy.together(expr.subs({**empty, **{symbol(p): 1 / _U for p in off}})))
    return inverted.subs(_U, 0)


def switch_off_parameters(child: ODEModel, parent: ODEModel, at: str = "zero") -> tuple[str, ...] | None:
    """The smallest set of the child's new parameters whose zero (or, with ``at="infinity"``, whose growth without
    bound, as a capacity's) turns the child back into the parent.

    New states (those the parent lacks) are set to zero too: they start empty, and a flow into them that is switched
    off keeps them so.

    Parameters
    ----------
    child, parent
        The mutated structure and the structure it was derived from.
    at
        ``"zero"`` or ``"infinity"``.

    Returns
    -------
    tuple[str, ...] or None
        Names of the parameters (``()`` when the child is the parent as it stands), or ``None`` when no set of new
        parameters at zero gives the parent: the child is not nested in the parent this way (a removed term, where
        the parent nests the child; linear -> saturable kinetics, nested only in a limit).
    """
    if at not in ("zero", "infinity"):
        raise ValueError(f"at must be 'zero' or 'infinity', got {at!r}")
    if not set(parent.states) <= set(child.states) or set(parent.observables) != set(child.observables):
        return None
    new_states = [s for s in child.states if s not in parent.states]
    new_params = [p for p in child.parameter_names if p not in parent.parameter_names]
    if len(new_params) > MAX_NEW_PARAMETERS:
        return None
    empty = {symbol(s): 0 for s in new_states}
    for size in range(len(new_params) + 1):
        for off in itertools.combinations(new_params, size):
            try:
                if all(_same(_switched(child.rhs[s], empty, off, at), parent.rhs[s]) for s in parent.states) and \
                        all(_same(_switched(child.observables[o], empty, off, at), parent.observables[o])
                            for o in parent.observables):
                    return off
            except (TypeError, ValueError, ZeroDivisionError):  # e.g. 0/0 after the substitution
                continue
    return None


def parent_starts(child: ODEModel, parent: ODEModel, points: list[Mapping[str, float]], data: Any) -> list[dict]:
    """MAP starts of ``child`` from fitted points of ``parent`` (its MAP, its maximum-likelihood point).

    Parameters
    ----------
    child, parent
        The mutated structure and its parent.
    points
        Constrained site values of the parent (parameters, ``omega_*``, residual SDs), e.g. its MAP.
    data
        The cohort data (the child's default priors are scaled to it).

    Returns
    -------
    list[dict]
        One start per point: the point's values of the sites the child shares, and :data:`SWITCHED_OFF` times the
        prior median for each parameter of :func:`switch_off_parameters` (other missing sites take their prior
        median inside ``fit``).
    """
    from ..spec import DataScales, resolve_priors

    off = switch_off_parameters(child, parent) or ()
    unbounded = () if off else (switch_off_parameters(child, parent, at="infinity") or ())
    extra: dict[str, float] = {}
    if off or unbounded:
        priors = resolve_priors(child, DataScales.from_data(data, child))
        extra = {p: SWITCHED_OFF * float(priors[p].typical()) for p in off}
        extra.update({p: float(priors[p].typical()) / SWITCHED_OFF for p in unbounded})
    return [{**{k: float(v) for k, v in point.items()}, **extra} for point in points if point]
