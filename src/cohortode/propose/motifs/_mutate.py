"""Local mutations of a structure: add or remove a term, linear -> saturable kinetics and back, saturation moved to
another process, an added saturable loss, a capacity on self-growth, an approach to a plateau made sigmoid, saturating
mass action (incidence), add a compartment.

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


def _observed_first(model: ODEModel, states: list[str]) -> list[str]:
    """``states`` with those an observable reports first (stable order otherwise)."""
    observed = {s for s in model.states if any(symbol(s) in e.free_symbols for e in model.observables.values())}
    return sorted(states, key=lambda s: s not in observed)


def _add_loss(model: ODEModel, problem: Problem) -> list[ODEModel]:
    out = []
    for state in _observed_first(model, [s for s in model.states if not _linear_loss_of(model, s)]):
        k = symbol(fresh_name("kel" if state != "central" else "ke", _taken(model)))
        rhs = dict(model.rhs)
        rhs[state] = rhs[state] - k * symbol(state)
        out.append(_rebuild(model, rhs, f"added a first-order loss of {state}: -{k}*{state}"))
    return out


def _saturable_loss_of(model: ODEModel, state: str) -> bool:
    """Whether ``d(state)/dt`` has a negative term with ``state`` in its denominator."""
    x = symbol(state)
    return any(term.could_extract_minus_sign() and x in sympy.fraction(sympy.together(term))[1].free_symbols
               for term in _terms(model.rhs[state]))


def _fresh_saturation(model: ODEModel, x: sympy.Symbol) -> sympy.Expr:
    """``Vmax*x/(Km + x)`` with names not yet taken in ``model``."""
    taken = _taken(model)
    vmax = symbol(fresh_name("Vmax", taken))
    km = symbol(fresh_name("Km", taken | {vmax.name}))
    return vmax * x / (km + x)


def _add_saturable_loss(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """A Michaelis-Menten loss ``-Vmax*x/(Km + x)`` of a state that has none: saturable elimination beside a linear
    one, a saturable kill of a growing population (an immune or drug effect that saturates as it grows)."""
    out = []
    for state in _observed_first(model, [s for s in model.states if not _saturable_loss_of(model, s)]):
        loss = _fresh_saturation(model, symbol(state))
        rhs = dict(model.rhs)
        rhs[state] = rhs[state] - loss
        out.append(_rebuild(model, rhs, f"added a saturable loss of {state}: -{sympy.sstr(loss)}"))
    return out


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


def _add_flow(model: ODEModel, problem: Problem) -> list[ODEModel]:
    existing = _flows(model)
    out = []
    for a, b in [(a, b) for a in model.states for b in model.states if a != b and (a, b) not in existing]:
        k = symbol(fresh_name(f"k_{a}_{b}", _taken(model)))
        rhs = dict(model.rhs)
        rhs[a] = rhs[a] - k * symbol(a)
        rhs[b] = rhs[b] + k * symbol(a)
        out.append(_rebuild(model, rhs, f"added a first-order flow from {a} to {b}: {k}*{a}"))
    return out


def _remove_term(model: ODEModel, problem: Problem) -> list[ODEModel]:
    options = [(s, t) for s in model.states for t in _terms(model.rhs[s])]
    if len(options) < 2:
        return []
    out = []
    for state, term in options:
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
        out.append(_rebuild(model, rhs, f"removed the term {sympy.sstr(term)} from {where}"))
    return out


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


def _kinetics_rank(model: ODEModel, problem: Problem, rate: sympy.Expr, x_name: str) -> int:
    """Order of preference of a linear term for saturation: an elimination (a loss that enters no other state) of an
    observed state, then a flow out of a dosed state (absorption), then other eliminations, then flows between
    states (distribution)."""
    x = symbol(x_name)
    enters = any(s != x_name and any(sympy.simplify(t - rate * x) == 0 for t in _terms(model.rhs[s]))
                 for s in model.states)
    observed = any(x in e.free_symbols for e in model.observables.values())
    if not enters:
        return 0 if observed else 2
    return 1 if x_name in problem.dose_targets else 3


def _saturable(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """Linear kinetics ``rate*x`` -> ``Vmax*x/(Km + x)``: eliminations of observed states first, then absorption
    (a flow out of a dosed state), then other losses, then distribution (saturable elimination is met more often
    than saturable absorption, and both more often than saturable distribution)."""
    options = _linear_terms(model)
    options = sorted(options, key=lambda o: _kinetics_rank(model, problem, *o))
    out = []
    for rate, x_name in options:
        rhs, saturable = _saturate(model, rate, x_name)
        out.append(_rebuild(model, rhs, f"linear -> saturable kinetics: {sympy.sstr(rate * symbol(x_name))} became "
                                        f"{sympy.sstr(saturable)}"))
    return out


def _saturate(model: ODEModel, rate: sympy.Expr, x_name: str) -> tuple[dict[str, sympy.Expr], sympy.Expr]:
    """Right-hand sides with every term ``±rate*x`` replaced by ``±Vmax*x/(Km + x)``, and that kinetics."""
    x = symbol(x_name)
    saturable = _fresh_saturation(model, x)
    rhs = {}
    for s in model.states:
        new_terms = []
        for term in _terms(model.rhs[s]):
            coef, rest = term.as_independent(x, as_Add=False)
            number, r = coef.as_coeff_Mul()
            new_terms.append(number * saturable if rest == x and r == rate else term)
        rhs[s] = sympy.Add(*new_terms)
    return rhs, saturable


def _saturable_terms(model: ODEModel) -> list[tuple[sympy.Expr, str]]:
    """``(kinetics, x)`` for every Michaelis-Menten term ``±vmax*x/(km + x)`` of the right-hand sides
    (``vmax`` a product of parameters, ``km`` one parameter), once per distinct kinetics."""
    params = {symbol(p) for p in model.parameter_names}
    found: list[tuple[sympy.Expr, str]] = []
    for s in model.states:
        for term in _terms(model.rhs[s]):
            numer, denom = sympy.fraction(sympy.together(term))
            for x_name in model.states:
                x = symbol(x_name)
                km = sympy.expand(denom - x)
                if km not in params:
                    continue
                number, vmax = sympy.cancel(numer / x).as_coeff_Mul()
                if not vmax.free_symbols or not vmax.free_symbols <= params or km in vmax.free_symbols:
                    continue
                kinetics = vmax * x / (km + x)
                if all(sympy.simplify(kinetics - f[0]) != 0 for f in found):
                    found.append((kinetics, x_name))
    return found


def _linear_kinetics(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """Michaelis-Menten kinetics ``Vmax*x/(Km + x)`` -> first-order ``k*x`` (its limit for ``x`` well below
    ``Km``), wherever the term appears (both ends of a flow): the simpler structure a modeller checks when the
    saturation may not be needed; eliminations of observed states first, as for :func:`_saturable`."""
    return [linear for linear, *_ in _linearised(model, problem)]


def _linearised(model: ODEModel, problem: Problem) -> list[tuple[ODEModel, str, sympy.Expr, str]]:
    """Each Michaelis-Menten kinetics made first order (in :func:`_kinetics_rank` order): the model, what changed, the
    new rate and its state."""
    ranked = sorted((_kinetics_rank(model, problem, o[0] / symbol(o[1]), o[1]), i, o)
                    for i, o in enumerate(_saturable_terms(model)))
    out = []
    for rank, _, (kinetics, x_name) in ranked:
        x = symbol(x_name)
        k = symbol(fresh_name({0: "ke", 1: "ka", 2: "kel"}.get(rank, "k"), _taken(model)))
        rhs = {}
        for s in model.states:
            new_terms = []
            for term in _terms(model.rhs[s]):
                ratio = sympy.simplify(term / kinetics)
                new_terms.append(ratio * k * x if ratio.is_number else term)
            rhs[s] = sympy.Add(*new_terms)
        change = f"{sympy.sstr(kinetics)} became {sympy.sstr(k * x)}"
        out.append((_rebuild(model, rhs, f"saturable -> linear kinetics: {change}"), change, k, x_name))
    return out


def _move_saturation(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """Saturation moved from one process to another: a Michaelis-Menten kinetics becomes first order and a first-order
    one becomes Michaelis-Menten (saturable elimination -> saturable absorption, when the data say that something
    saturates but not where); the targets in :func:`_saturable`'s order."""
    out = []
    for linear, change, k, x_name in _linearised(model, problem):
        options = [(rate, y) for rate, y in _linear_terms(linear) if not (rate == k and y == x_name)]
        for rate, y_name in sorted(options, key=lambda o: _kinetics_rank(linear, problem, *o)):
            rhs, saturable = _saturate(linear, rate, y_name)
            out.append(_rebuild(linear, rhs, f"saturation moved: {change}, and {sympy.sstr(rate * symbol(y_name))} "
                                             f"became {sympy.sstr(saturable)}"))
    return out


def _self_growth_terms(model: ODEModel) -> list[tuple[str, sympy.Expr]]:
    """``(state, term)`` for every positive term ``rate*x`` of ``d(x)/dt`` (``rate`` a product of parameters)."""
    params = {symbol(p) for p in model.parameter_names}
    return [(s, term) for s, term, number, rate, x_name in _first_order_terms(model)
            if x_name == s and number > 0 and rate.free_symbols <= params]


def _capacity(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """Self-growth ``r*x`` limited by a capacity: ``r*x*(1 - x/K)`` (exponential -> logistic)."""
    out = []
    for state, term in _self_growth_terms(model):
        x = symbol(state)
        capacity = symbol(fresh_name("K" if "K" not in _taken(model) else f"K_{state}", _taken(model)))
        limited = term * (1 - x / capacity)
        rhs = dict(model.rhs)
        rhs[state] = rhs[state] - term + limited
        out.append(_rebuild(model, rhs, f"self-growth {sympy.sstr(term)} limited by a capacity {capacity}: "
                                        f"{sympy.sstr(limited)}"))
    return out


def _sigmoid(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """An approach to a plateau made sigmoid: ``d(x)/dt = k*(P - x)`` (fast at first, then levelling off) becomes
    ``k*x*(1 - x/P)`` (slow, accelerating, then levelling off at the same plateau), the asymptotic and logistic
    models of disease progression and growth. Applies where terms of ``d(x)/dt`` free of other states and of time add
    up to ``a - b*x`` with the plateau ``a/b`` a single parameter (all such terms, or failing that those without a
    covariate: a treatment that scales the rate stays in ``b``, a separate treatment effect stays as it is), and ``x``
    starts away from 0 (a logistic state that starts at 0 stays there)."""
    params = {symbol(p) for p in model.parameter_names}
    covariates = {symbol(c) for c in model.covariates}
    out = []
    for state in model.states:
        x = symbol(state)
        if model.initial.get(state, sympy.Integer(0)) == 0:
            continue
        others = {symbol(s) for s in model.states if s != state} | {symbol(TIME)}
        linear = [t for t in _terms(model.rhs[state]) if not t.free_symbols & others
                  and sympy.expand(t).is_polynomial(x) and sympy.degree(sympy.expand(t), x) <= 1]
        for chosen in (linear, [t for t in linear if not t.free_symbols & covariates]):
            if not chosen:
                continue
            poly = sympy.Poly(sympy.expand(sympy.Add(*chosen)), x)
            b, a = -poly.coeff_monomial(x), poly.coeff_monomial(1)
            if a == 0 or b == 0 or b.could_extract_minus_sign():
                continue
            plateau = sympy.simplify(a / b)
            if plateau not in params:
                continue
            sigmoid = sympy.factor(b) * x * (1 - x / plateau)
            rhs = dict(model.rhs)
            rhs[state] = model.rhs[state] - sympy.Add(*chosen) + sigmoid
            out.append(_rebuild(model, rhs, f"the approach of {state} to the plateau {plateau} became sigmoid "
                                            f"(logistic): {sympy.sstr(sigmoid)}"))
            break
    return out


def _mass_action_terms(model: ODEModel) -> list[tuple[sympy.Expr, str]]:
    """``(term, state)`` for every term ``rate*x*y`` of two different states (``rate`` free of states), once per state
    of the product: the catalyst first (the state whose own equation gains the term, as ``I`` gains ``beta*S*I``),
    then the state consumed."""
    states = {symbol(s) for s in model.states} | {symbol(TIME)}
    found: list[tuple[sympy.Expr, str]] = []
    for s in model.states:
        for term in _terms(model.rhs[s]):
            powers = term.as_powers_dict()
            pair = [x for x in states if powers.get(x) == 1]
            others = term.free_symbols & states - set(pair)
            # a state inside another factor (an incidence that saturates already) is not plain mass action
            nested = any(b not in states and b.free_symbols & states for b in powers)
            if len(pair) != 2 or others or nested:
                continue
            canonical = -term if term.could_extract_minus_sign() else term
            for x in sorted(pair, key=lambda x: (not _gains(model, x.name, canonical), str(x))):
                if (canonical, x.name) not in found:
                    found.append((canonical, x.name))
    return found


def _gains(model: ODEModel, state: str, term: sympy.Expr) -> bool:
    """Whether ``d(state)/dt`` holds ``+term`` (times a positive number)."""
    for t in _terms(model.rhs[state]):
        ratio = sympy.simplify(t / term)
        if ratio.is_number and ratio > 0:
            return True
    return False


def _saturating_mass_action(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """Mass action ``beta*S*I`` saturating in one of its states: ``beta*S*I/(1 + a*I)`` (Capasso & Serio 1978),
    wherever the term appears (both ends of the flow); saturation in the catalyst (``I``) first."""
    out = []
    for term, y_name in _mass_action_terms(model):
        y = symbol(y_name)
        a = symbol(fresh_name("a", _taken(model)))
        rhs = {}
        for s in model.states:
            new_terms = []
            for t in _terms(model.rhs[s]):
                ratio = sympy.simplify(t / term)
                new_terms.append(t / (1 + a * y) if ratio.is_number else t)
            rhs[s] = sympy.Add(*new_terms)
        out.append(_rebuild(model, rhs, f"mass action {sympy.sstr(term)} saturating in {y_name}: "
                                        f"{sympy.sstr(term / (1 + a * y))}"))
    return out


def _rate_names(taken: set[str]) -> tuple[str, str]:
    for i in range(2, 10):
        a, b = f"k1{i}", f"k{i}1"
        if a not in taken and b not in taken:
            return a, b
    a = fresh_name("kp", taken)
    return a, fresh_name("kq", taken | {a})


def _add_compartment(model: ODEModel, problem: Problem) -> list[ODEModel]:
    """A peripheral compartment exchanging with an observed state: pharmacokinetics (and PK-PD, or a problem of no
    stated domain with doses) only; a disease score, a tumour size or a count of people has no tissue to distribute
    into."""
    if not (problem.domain in ("pk", "pd") or (problem.domain is None and problem.dose_targets)):
        return []
    observed = [s for s in model.states if any(symbol(s) in e.free_symbols for e in model.observables.values())]
    out = []
    for state in observed or list(model.states):
        taken = _taken(model)
        new_state = fresh_name("peripheral", taken)
        kout, kback = _rate_names(taken | {new_state})
        x, p = symbol(state), symbol(new_state)
        k1, k2 = symbol(kout), symbol(kback)
        rhs = dict(model.rhs)
        rhs[state] = rhs[state] - k1 * x + k2 * p
        rhs[new_state] = k1 * x - k2 * p
        out.append(_rebuild(model, rhs, f"added a compartment {new_state} exchanging with {state} ({kout}, {kback})",
                            states=(*model.states, new_state)))
    return out


_OPS: dict[str, Callable[[ODEModel, Problem], list[ODEModel]]] = {
    "add_loss": _add_loss,
    "add_flow": _add_flow,
    "remove_term": _remove_term,
    "saturable": _saturable,
    "linear_kinetics": _linear_kinetics,
    "move_saturation": _move_saturation,
    "add_saturable_loss": _add_saturable_loss,
    "capacity": _capacity,
    "sigmoid": _sigmoid,
    "saturating_mass_action": _saturating_mass_action,
    "add_compartment": _add_compartment,
}
MUTATIONS: tuple[str, ...] = tuple(_OPS)
"""Names of the mutation operators."""

_TIERS: dict[str | None, tuple[tuple[str, ...], ...]] = {
    # the extensions a modeller of each domain tries first on a structure that does not fit: saturable elimination
    # and a peripheral compartment in PK (and, where kinetics saturate, whether they need to, or whether another
    # process saturates instead); a saturable or lost
    # drug effect in PD; saturating incidence and waning immunity in epidemics; a capacity and a saturable kill for
    # growth; a capacity, a sigmoid onset or a loss for a disease score
    "pk": (("saturable", "add_compartment", "linear_kinetics", "move_saturation"),
           ("add_saturable_loss", "add_loss", "add_flow", "remove_term")),
    "pd": (("saturable", "add_loss"),
           ("add_saturable_loss", "linear_kinetics", "add_flow", "remove_term", "add_compartment")),
    "epidemic": (("saturating_mass_action", "add_flow"), ("add_loss", "remove_term", "saturable")),
    "growth": (("capacity", "add_saturable_loss"),
               ("sigmoid", "add_loss", "saturable", "linear_kinetics", "remove_term")),
    "progression": (("capacity", "sigmoid", "add_loss"), ("saturable", "add_saturable_loss", "remove_term")),
}
"""Operator priority per domain: every variant of a tier's operators comes before the next tier's (the operators
of a tier take turns, in a seeded order); operators in no tier come last."""


def _ordered_operators(ops: tuple[str, ...], domain: str | None, rng: np.random.Generator,
                       prioritise: bool) -> list[list[str]]:
    """``ops`` in tiers (each tier in a seeded random order)."""
    tiers = [list(t) for t in _TIERS.get(domain, ())] if prioritise else []
    tiers = [[o for o in t if o in ops] for t in tiers]
    rest = [o for o in ops if not any(o in t for t in tiers)]
    out = []
    for tier in [*tiers, rest]:
        if tier:
            out.append([tier[i] for i in rng.permutation(len(tier))])
    return out


def mutate(model: ODEModel, problem: Problem, rng: np.random.Generator, n: int = 1, *,
           operators: tuple[str, ...] | None = None, exclude: Collection[str] = (), max_parameters: int = 12,
           max_complexity: int = 200, prioritise: bool = True) -> list[ODEModel]:
    """Up to ``n`` valid mutants of ``model`` with structures different from it and from each other.

    The operators come in the domain's order of priority (:data:`_TIERS`): the operators of the first tier take
    turns (in its turn, an operator gives its next variant that is new and valid), until their variants are used up,
    then the next tier. An operator's
    variants come in its own order of preference (observed states first; saturation in the catalyst first).

    Parameters
    ----------
    model
        The structure to mutate.
    problem
        The problem (mutants must pass :func:`~cohortode.propose.validate_model` for it; its ``domain`` orders the
        operators).
    rng
        Source of every random choice.
    n
        Number of mutants wanted; fewer come back when fewer valid new structures are found.
    operators
        Names from :data:`MUTATIONS` to draw from (default: all).
    exclude
        Structure hashes not to return (structures already tried).
    max_parameters, max_complexity
        Limits passed to the validation.
    prioritise
        Order the operators by the domain's priorities; ``False``: one tier in a random order, and each operator's
        variants in a random order too (random search).

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
    for tier in _ordered_operators(ops, problem.domain, rng, prioritise):
        variants: dict[str, list[ODEModel]] = {}
        for op in tier:
            try:
                found = _OPS[op](model, problem)
            except ModelSpecError:
                found = []
            variants[op] = found if prioritise else [found[i] for i in rng.permutation(len(found))]
        # the operators take turns; in its turn an operator gives its next variant that is new and valid
        pending = {op: list(v) for op, v in variants.items()}
        while len(out) < n and any(pending.values()):
            for op in tier:
                while len(out) < n and pending[op]:
                    mutant = pending[op].pop(0)
                    h = mutant.structure_hash
                    if h in seen:
                        continue
                    seen.add(h)
                    try:
                        validate_model(mutant, problem, max_parameters=max_parameters,
                                       max_complexity=max_complexity)
                    except CandidateRejected:
                        continue
                    out.append(mutant)
                    break
        if len(out) >= n:
            break
    return out
