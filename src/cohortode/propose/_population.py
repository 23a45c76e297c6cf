"""A population size used in a candidate's equations but declared nowhere in the problem.

An expression such as ``beta*S*I/N`` names the population ``N``. When the problem declares ``N`` (a covariate, or a
name its fixed initial values use) it is that; otherwise the parser would make it a free parameter with its own
between-subject variability, which no analyst means. :func:`resolve_population_size` gives it a clear outcome:

- in an epidemic problem the states are the compartments of one population, so ``N`` is their sum (as the motif
  library writes frequency-dependent transmission), and the candidate says so in its description;
- elsewhere the candidate is rejected, with a reason that says how to declare the population size.
"""

from __future__ import annotations

import re

import sympy

from .._errors import CandidateRejected
from ..spec import ODEModel, parse_expression, symbol
from ._problem import Problem

__all__ = ["POPULATION_NAMES", "population_size_names", "resolve_population_size"]

POPULATION_NAMES = re.compile(r"^(N|N_?(pop|tot|total|population)|pop(ulation)?(_?size)?|Pop(ulation)?)$")
"""Names read as a population size (``N``, ``Npop``, ``N_total``, ``population``, ``pop_size``...)."""


def _declared(problem: Problem) -> set[str]:
    names = set(problem.covariates) | set(problem.state_names)
    for text in problem.initial.values():
        names |= {s.name for s in parse_expression(text).free_symbols}
    return names


def population_size_names(model: ODEModel, problem: Problem) -> list[str]:
    """Parameters of ``model`` named like a population size (:data:`POPULATION_NAMES`) that ``problem`` does not
    declare (as a covariate, a state, or a name in its fixed initial values)."""
    declared = _declared(problem)
    return [p for p in model.parameter_names if POPULATION_NAMES.match(p) and p not in declared]


def resolve_population_size(model: ODEModel, problem: Problem) -> tuple[ODEModel, str]:
    """``model`` with an undeclared population size replaced by what it means, or a rejection.

    Parameters
    ----------
    model
        A candidate structure.
    problem
        The problem it explains.

    Returns
    -------
    tuple[ODEModel, str]
        The model (unchanged when it names no undeclared population size) and a note for the candidate's
        description (``""`` when unchanged).

    Raises
    ------
    CandidateRejected
        When the problem is not an epidemic one: the reason names the symbol and how to declare it.
    """
    names = population_size_names(model, problem)
    if not names:
        return model, ""
    if problem.domain != "epidemic":
        listed = ", ".join(repr(n) for n in names)
        raise CandidateRejected(
            f"{listed} reads as a population size, but the problem does not declare it: estimating it would make it "
            f"a free parameter with its own between-subject variability. Declare it as a covariate of the problem "
            f"(covariates=({names[0]!r},) with its value in the data) or use it in the problem's fixed initial "
            f"values, or write the equations without it")
    total = sympy.Add(*(symbol(s) for s in model.states))
    subs = {symbol(n): total for n in names}
    rhs = {s: e.subs(subs) for s, e in model.rhs.items()}
    observables = {o: e.subs(subs) for o, e in model.observables.items()}
    initial = {s: e.subs(subs) for s, e in model.initial.items()}
    params = [p for p in model.parameters if p.name not in names]
    note = (f"{', '.join(names)} (a population size the problem does not declare) replaced by the sum of the states "
            f"{sympy.sstr(total)}")
    description = f"{model.description}; {note}" if model.description else note
    out = ODEModel(model.states, rhs, observables, params, initial, model.covariates, model.name, description)
    return out, note
