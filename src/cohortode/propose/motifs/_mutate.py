"""Local mutations of a structure: add or remove a term, linear -> saturable kinetics, a capacity on self-growth,
saturating mass action (incidence), add a compartment.

Each mutation returns a new :class:`~cohortode.spec.ODEModel` whose ``description`` says what changed. :func:`mutate`
keeps only results that pass :func:`~cohortode.propose.validate_model` and whose structure is new.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np
import sympy

from ..._errors import CandidateRejected, ModelSpecError
from ...spec import TIME, ODEModel, Parameter, symbol
from .._problem import Problem
from .._validate import validate_model
from ._block import fresh_name

__all__ = ["mutate", "MUTATIONS"]


class _Skip(Exception):
    """This mutation does not apply to this model."""


def _pick(options: list, rng: np.random.Generator):
    """One of ``options``, drawn with ``rng``; the mutation does not apply when there are none."""
    if not options:
        raise _Skip
    return options[int(rng.integers(len(options)))]


def _taken(model: ODEModel) -> set[str]:
    return {*model.states, *model.parameter_names, *model.covariates, TIME}


def _terms(expr: sympy.Expr) -> tuple[sympy.Expr, ...]:
    return () if expr == 0 else sympy.Add.make_args(expr)


def _rebuild(model: ODEModel, rhs: Mapping[str, sympy.Expr], description: str, *,
             states: tuple[str, ...] | None = None) -> ODEModel:
    """A model with new right-hand sides; parameters keep their priors where they survive."""
    states = model.states if states is None else states
    used: set[str] = set()
    for e in (*rhs.values(), *model.observables.values(), *model.initial.values()):
        used |= {s.name for s in e.free_symbols}
    non_params = {*states, *model.covariates, TIME}
    kept = [p for p in model.parameters if p.name in used]
    new = sorted(used - non_params - {p.name for p in kept})
    params = [*kept, *(Parameter(n) for n in new)]
    initial = {s: e for s, e in model.initial.items() if s in states}
    return ODEModel(states, dict(rhs), model.observables, params, initial, model.covariates, model.name,
                    description)


def _linear_loss_of(model: ODEModel, state: str) -> bool:
    x = symbol(state)
    for term in _terms(model.rhs[state]):
        coef, rest = term.as_independent(x, as_Add=False)
        if rest == x and coef.could_extract_minus_sign():
            return True
    return False


def _add_loss(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    options = [s for s in model.states if not _linear_loss_of(model, s)]
    state = _pick(options, rng)
    k = symbol(fresh_name("kel" if state != "central" else "ke", _taken(model)))
    rhs = dict(model.rhs)
    rhs[state] = rhs[state] - k * symbol(state)
    return _rebuild(model, rhs, f"added a first-order loss of {state}: -{k}*{state}")


def _flows(model: ODEModel) -> set[tuple[str, str]]:
    """Pairs (a, b) with a term ``k*a`` leaving ``a`` and entering ``b``."""
    out = set()
    for a in model.states:
        xa = symbol(a)
        for term in _terms(model.rhs[a]):
            if term.could_extract_minus_sign() and xa in term.free_symbols:
                for b in model.states:
                    if b != a and any(sympy.expand(t + term) == 0 for t in _terms(model.rhs[b])):
                        out.add((a, b))
    return out


def _add_flow(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    existing = _flows(model)
    pairs = [(a, b) for a in model.states for b in model.states if a != b and (a, b) not in existing]
    a, b = _pick(pairs, rng)
    k = symbol(fresh_name(f"k_{a}_{b}", _taken(model)))
    rhs = dict(model.rhs)
    rhs[a] = rhs[a] - k * symbol(a)
    rhs[b] = rhs[b] + k * symbol(a)
    return _rebuild(model, rhs, f"added a first-order flow from {a} to {b}: {k}*{a}")


def _remove_term(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    options = [(s, t) for s in model.states for t in _terms(model.rhs[s])]
    if len(options) < 2:
        raise _Skip
    state, term = options[int(rng.integers(len(options)))]
    rhs = dict(model.rhs)
    removed = [state]
    rhs[state] = rhs[state] - term
    for other in model.states:  # the other side of a flow goes too
        if other == state:
            continue
        for t in _terms(model.rhs[other]):
            if sympy.expand(t + term) == 0:
                rhs[other] = rhs[other] - t
                removed.append(other)
                break
    where = " and ".join(f"d({s})/dt" for s in removed)
    return _rebuild(model, rhs, f"removed the term {sympy.sstr(term)} from {where}")


def _first_order_terms(model: ODEModel):
    """``(equation, term, number, rate, x)`` for every term ``number*rate*x`` of ``d(equation)/dt``, ``x`` a state
    and ``rate`` free of states and time, with at least one parameter."""
    params = {symbol(p) for p in model.parameter_names}
    states = {symbol(s) for s in model.states} | {symbol(TIME)}
    for s in model.states:
        for term in _terms(model.rhs[s]):
            for x_name in model.states:
                coef, rest = term.as_independent(symbol(x_name), as_Add=False)
                if rest != symbol(x_name):
                    continue
                number, rate = coef.as_coeff_Mul()
                if rate.free_symbols & states or not rate.free_symbols & params:
                    continue
                yield s, term, number, rate, x_name


def _linear_terms(model: ODEModel) -> list[tuple[sympy.Expr, str]]:
    """``(rate, state)`` for every term ``±rate*state`` with ``rate`` a product of parameters."""
    found: list[tuple[sympy.Expr, str]] = []
    for _, _, _, rate, x_name in _first_order_terms(model):
        if (rate, x_name) not in found:
            found.append((rate, x_name))
    return found


def _saturable(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    options = _linear_terms(model)
    rate, x_name = _pick(options, rng)
    x = symbol(x_name)
    taken = _taken(model)
    vmax = symbol(fresh_name("Vmax", taken))
    km = symbol(fresh_name("Km", taken | {vmax.name}))
    saturable = vmax * x / (km + x)
    rhs = {}
    for s in model.states:
        new_terms = []
        for term in _terms(model.rhs[s]):
            coef, rest = term.as_independent(x, as_Add=False)
            number, r = coef.as_coeff_Mul()
            new_terms.append(number * saturable if rest == x and r == rate else term)
        rhs[s] = sympy.Add(*new_terms)
    return _rebuild(model, rhs, f"linear -> saturable kinetics: {sympy.sstr(rate * x)} became "
                                f"{sympy.sstr(saturable)}")


def _self_growth_terms(model: ODEModel) -> list[tuple[str, sympy.Expr]]:
    """``(state, term)`` for every positive term ``rate*x`` of ``d(x)/dt`` (``rate`` a product of parameters)."""
    params = {symbol(p) for p in model.parameter_names}
    return [(s, term) for s, term, number, rate, x_name in _first_order_terms(model)
            if x_name == s and number > 0 and rate.free_symbols <= params]


def _capacity(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    """Self-growth ``r*x`` limited by a capacity: ``r*x*(1 - x/K)`` (exponential -> logistic)."""
    options = _self_growth_terms(model)
    state, term = _pick(options, rng)
    x = symbol(state)
    capacity = symbol(fresh_name("K" if "K" not in _taken(model) else f"K_{state}", _taken(model)))
    limited = term * (1 - x / capacity)
    rhs = dict(model.rhs)
    rhs[state] = rhs[state] - term + limited
    return _rebuild(model, rhs, f"self-growth {sympy.sstr(term)} limited by a capacity {capacity}: "
                                f"{sympy.sstr(limited)}")


def _mass_action_terms(model: ODEModel) -> list[tuple[sympy.Expr, str]]:
    """``(term, state)`` for every term ``rate*x*y`` of two different states (``rate`` free of states), once per state
    of the product."""
    states = {symbol(s) for s in model.states} | {symbol(TIME)}
    found: list[tuple[sympy.Expr, str]] = []
    for s in model.states:
        for term in _terms(model.rhs[s]):
            powers = term.as_powers_dict()
            pair = [x for x in states if powers.get(x) == 1]
            others = term.free_symbols & states - set(pair)
            if len(pair) != 2 or others:
                continue
            canonical = -term if term.could_extract_minus_sign() else term
            for x in sorted(pair, key=str):
                if (canonical, x.name) not in found:
                    found.append((canonical, x.name))
    return found


def _saturating_mass_action(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    """Mass action ``beta*S*I`` saturating in one of its states: ``beta*S*I/(1 + a*I)`` (Capasso & Serio 1978),
    wherever the term appears (both ends of the flow)."""
    options = _mass_action_terms(model)
    term, y_name = _pick(options, rng)
    y = symbol(y_name)
    taken = _taken(model)
    a = symbol(fresh_name("a", taken))
    rhs = {}
    for s in model.states:
        new_terms = []
        for t in _terms(model.rhs[s]):
            ratio = sympy.simplify(t / term)
            new_terms.append(t / (1 + a * y) if ratio.is_number else t)
        rhs[s] = sympy.Add(*new_terms)
    return _rebuild(model, rhs, f"mass action {sympy.sstr(term)} saturating in {y_name}: "
                                f"{sympy.sstr(term / (1 + a * y))}")


def _rate_names(taken: set[str]) -> tuple[str, str]:
    for i in range(2, 10):
        a, b = f"k1{i}", f"k{i}1"
        if a not in taken and b not in taken:
            return a, b
    a = fresh_name("kp", taken)
    return a, fresh_name("kq", taken | {a})


def _add_compartment(model: ODEModel, problem: Problem, rng: np.random.Generator) -> ODEModel:
    """A peripheral compartment exchanging with an observed state: pharmacokinetics (and PK-PD, or a problem of no
    stated domain with doses) only; a disease score, a tumour size or a count of people has no tissue to distribute
    into."""
    if not (problem.domain in ("pk", "pd") or (problem.domain is None and problem.dose_targets)):
        raise _Skip
    observed = [s for s in model.states if any(symbol(s) in e.free_symbols for e in model.observables.values())]
    pool = observed or list(model.states)
    state = pool[int(rng.integers(len(pool)))]
    taken = _taken(model)
    new_state = fresh_name("peripheral", taken)
    kout, kback = _rate_names(taken | {new_state})
    x, p = symbol(state), symbol(new_state)
    k1, k2 = symbol(kout), symbol(kback)
    rhs = dict(model.rhs)
    rhs[state] = rhs[state] - k1 * x + k2 * p
    rhs[new_state] = k1 * x - k2 * p
    return _rebuild(model, rhs, f"added a compartment {new_state} exchanging with {state} ({kout}, {kback})",
                    states=(*model.states, new_state))


_OPS: dict[str, Callable[[ODEModel, Problem, np.random.Generator], ODEModel]] = {
    "add_loss": _add_loss,
    "add_flow": _add_flow,
    "remove_term": _remove_term,
    "saturable": _saturable,
    "capacity": _capacity,
    "saturating_mass_action": _saturating_mass_action,
    "add_compartment": _add_compartment,
}
MUTATIONS: tuple[str, ...] = tuple(_OPS)
"""Names of the mutation operators."""


def mutate(model: ODEModel, problem: Problem, rng: np.random.Generator, n: int = 1, *,
           operators: tuple[str, ...] | None = None, exclude: Collection[str] = (), max_parameters: int = 12,
           max_complexity: int = 200) -> list[ODEModel]:
    """Up to ``n`` valid mutants of ``model`` with structures different from it and from each other.

    Parameters
    ----------
    model
        The structure to mutate.
    problem
        The problem (mutants must pass :func:`~cohortode.propose.validate_model` for it).
    rng
        Source of every random choice.
    n
        Number of mutants wanted; fewer come back when fewer valid new structures are found.
    operators
        Names from :data:`MUTATIONS` to draw from (default: all, equally likely).
    exclude
        Structure hashes not to return (structures already tried).
    max_parameters, max_complexity
        Limits passed to the validation.

    Returns
    -------
    list[ODEModel]
        Each mutant's ``description`` says what changed.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), got "
                        f"{type(rng).__name__}")
    ops = tuple(operators) if operators is not None else MUTATIONS
    unknown = [o for o in ops if o not in _OPS]
    if unknown or not ops:
        raise ValueError(f"unknown mutation operator(s) {unknown}; choose from {MUTATIONS}")
    out: list[ODEModel] = []
    seen = {model.structure_hash, *exclude}
    for _ in range(max(1, n) * 12):
        if len(out) >= n:
            break
        op = ops[int(rng.integers(len(ops)))]
        try:
            mutant = _OPS[op](model, problem, rng)
        except (_Skip, ModelSpecError):
            continue
        h = mutant.structure_hash
        if h in seen:
            continue
        seen.add(h)
        try:
            validate_model(mutant, problem, max_parameters=max_parameters, max_complexity=max_complexity)
        except CandidateRejected:
            continue
        out.append(mutant)
    return out
