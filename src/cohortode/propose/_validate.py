"""Validation of candidate structures against a problem, and deduplication by canonical structure.

:func:`validate_model` raises :class:`~cohortode.CandidateRejected` with a specific reason for the first failed check:

1. every symbol is a state, a parameter, a covariate of the problem or ``t``;
2. the model has every state of the problem (and every dose target), every observable of the problem written over
   its states, and the problem's fixed initial values; doses reach an observable;
3. at most ``max_parameters`` parameters and at most ``max_complexity`` expression nodes;
4. right-hand sides, observables and initial values are finite and real at random positive test points;
5. every state is filled: a state that starts at 0 and receives no dose has an inflow (else it stays 0), and no
   expression divides by (or takes the logarithm of) such a state;
6. mass balance (compartment models, domain ``"pk"``): every transfer term that enters a state from another one
   leaves that other state, so flows neither create nor lose mass (eliminations and inputs are allowed);
7. positivity invariance: for every state ``x`` that must stay non-negative (every state the problem does not declare
   ``signed``), ``dx/dt >= 0`` whenever ``x = 0`` and everything else is positive, at several random test points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

import numpy as np
import sympy

from .._errors import CandidateRejected, ExpressionError
from ..spec import TIME, ODEModel, parse_expression, symbol
from ._candidate import Candidate
from ._problem import Problem

__all__ = ["validate_model", "deduplicate", "check_positivity", "check_mass_balance", "N_TEST_POINTS"]

N_TEST_POINTS = 8
"""Random test points per check."""
_SEED = 20240917
_LOW, _HIGH = 0.1, 10.0
_EPS = 1e-12


def _compile(args: Sequence[sympy.Symbol], expr: sympy.Expr | list[sympy.Expr]) -> Callable[..., object]:
    return sympy.lambdify(args, expr, modules="math", dummify=False)


def _as_float(value: object) -> float:
    if isinstance(value, complex):
        if abs(value.imag) > 1e-12 * max(1.0, abs(value.real)):
            return math.nan
        value = value.real
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _evaluate(fn: Callable[..., object], values: Sequence[float]) -> float:
    """The value of a compiled expression, NaN when it fails or is complex."""
    try:
        return _as_float(fn(*values))
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        return math.nan


class _Compiled:
    """All right-hand sides, observables and initial values of a model compiled into one function."""

    def __init__(self, model: ODEModel):
        self.names = _symbols_of(model)
        self.args = [symbol(n) for n in self.names]
        self.sections: list[tuple[str, sympy.Expr]] = [
            *((f"d({s})/dt", e) for s, e in model.rhs.items()),
            *((f"observable {o!r}", e) for o, e in model.observables.items()),
            *((f"initial value of {s!r}", e) for s, e in model.initial.items() if e != 0)]
        self.rhs_index = {s: i for i, s in enumerate(model.states)}
        self._all = _compile(self.args, [e for _, e in self.sections])
        self._single: dict[int, Callable[..., object]] = {}

    def one(self, i: int, values: Sequence[float]) -> float:
        if i not in self._single:
            self._single[i] = _compile(self.args, self.sections[i][1])
        return _evaluate(self._single[i], values)

    def all(self, values: Sequence[float]) -> list[float]:
        try:
            return [_as_float(v) for v in self._all(*values)]  # type: ignore[union-attr]
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return [self.one(i, values) for i in range(len(self.sections))]


def _points(names: Sequence[str], n: int, seed: int = _SEED) -> np.ndarray:
    """``n`` random positive points (log-uniform on [0.1, 10]) for ``names``."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(math.log(_LOW), math.log(_HIGH), size=(n, len(names))))


def _within_bounded_priors(model: ODEModel, names: Sequence[str], pts: np.ndarray) -> np.ndarray:
    """``pts`` with each parameter of a uniform prior moved into its support (same rank, linear in the log draw):
    a fraction such as ``Imax`` in ``(0, 1)`` is never checked at 2.9."""
    out = pts.copy()
    span = math.log(_HIGH) - math.log(_LOW)
    for param in model.parameters:
        prior = param.prior
        if prior is not None and prior.family == "uniform" and param.name in names:
            low, high = (float(v) for v in prior.params)
            j = list(names).index(param.name)
            out[:, j] = low + (high - low) * (np.log(pts[:, j]) - math.log(_LOW)) / span
    return out


def _show(point: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in point.items())


def _text(expr: sympy.Expr) -> str:
    return sympy.sstr(expr, order="none")


def _symbols_of(model: ODEModel) -> list[str]:
    return [*model.states, *model.parameter_names, *model.covariates, TIME]


def check_positivity(model: ODEModel, nonnegative: Collection[str] | None = None,
                     n_points: int = N_TEST_POINTS, compiled: _Compiled | None = None) -> None:
    """Raise :class:`CandidateRejected` if a state that must stay non-negative can cross zero.

    For each such state ``x``, ``dx/dt`` is evaluated with ``x = 0`` (or a tiny positive value where the expression
    is undefined at 0, as ``x*log(K/x)``) and every other symbol positive, at ``n_points`` random points.
    """
    comp = compiled if compiled is not None else _Compiled(model)
    names = comp.names
    pts = _within_bounded_priors(model, names, _points(names, n_points, _SEED + 1))
    for s in model.states if nonnegative is None else [s for s in model.states if s in set(nonnegative)]:
        expr = model.rhs[s]
        if expr == 0:
            continue
        j = comp.rhs_index[s]
        i = names.index(s)
        for row in pts:
            values = list(map(float, row))
            values[i] = 0.0
            v = comp.all(values)[j]
            if not math.isfinite(v):
                values[i] = _EPS
                v = comp.all(values)[j]
            if not math.isfinite(v):
                raise CandidateRejected(f"d({s})/dt = {_text(expr)} is not finite when {s} = 0 (at "
                                        f"{_show(dict(zip(names, values)))}); a state may reach 0, so avoid "
                                        f"dividing by {s} or taking its logarithm")
            if v < -1e-9:
                at_zero = expr.xreplace({symbol(s): sympy.Integer(0)})
                singular = bool(at_zero.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo))
                used = expr.free_symbols if singular else at_zero.free_symbols
                point = {k: x for k, x in zip(names, values) if k != s and symbol(k) in used}
                example = f" (e.g. at {_show(point)})" if point else ""
                condition = f"< 0 as {s} -> 0" if singular else f"< 0 when {s} = 0"
                shown = _text(expr) if singular else _text(at_zero)
                raise CandidateRejected(
                    f"state {s!r} can go negative: d({s})/dt = {shown} {condition}{example}; every outflow "
                    f"of {s!r} must vanish with it (write e.g. -k*{s}, not -k)")


def _check_symbols(model: ODEModel, problem: Problem) -> None:
    known = set(_symbols_of(model))
    sections = [*((f"d({s})/dt", e) for s, e in model.rhs.items()),
                *((f"observable {o!r}", e) for o, e in model.observables.items()),
                *((f"initial value of {s!r}", e) for s, e in model.initial.items())]
    for where, expr in sections:
        for sym in sorted(expr.free_symbols, key=lambda x: x.name):
            if sym.name not in known:
                raise CandidateRejected(f"unknown symbol {sym.name!r} in {where}: it is not a state, parameter, "
                                        f"covariate or {TIME!r}")
    foreign = [c for c in model.covariates if c not in problem.covariates]
    if foreign:
        raise CandidateRejected(f"unknown covariate(s) {foreign}: the problem's covariates are "
                                f"{list(problem.covariates) or 'none'}")
    as_params = [p for p in model.parameter_names if p in problem.covariates]
    if as_params:
        raise CandidateRejected(f"symbol(s) {as_params} are covariates of the problem but the model estimates them as "
                                "parameters; build the model with covariates=problem.covariates")
    clash = [p for p in model.parameter_names if p in problem.state_names]
    if clash:
        raise CandidateRejected(f"symbol(s) {clash} are states of the problem but the model uses them as parameters")


def _check_structure(model: ODEModel, problem: Problem) -> None:
    missing = [s for s in problem.state_names if s not in model.states]
    if missing:
        raise CandidateRejected(f"state(s) {missing} of the problem are missing from the model (its states are "
                                f"{list(model.states)}); keep every problem state")
    undosed = [s for s in problem.dose_targets if s not in model.states]
    if undosed:
        raise CandidateRejected(f"doses go into {undosed}, which the model lacks")
    state_syms = {symbol(s) for s in model.states}
    for name in problem.observables:
        if name not in model.observables:
            raise CandidateRejected(f"observable {name!r} of the problem is not defined by the model (it defines "
                                    f"{list(model.observables)}); define it over the model's states")
        expr = model.observables[name]
        if not (expr.free_symbols & state_syms):
            raise CandidateRejected(f"observable {name!r} = {_text(expr)} does not depend on any state of the model "
                                    f"{list(model.states)}")
    for state, text in problem.initial.items():
        try:
            wanted = parse_expression(text)
        except ExpressionError as exc:  # pragma: no cover - Problem checks this already
            raise CandidateRejected(f"the problem's initial value of {state!r} does not parse: {exc}") from None
        got = model.initial.get(state, sympy.Integer(0))
        if sympy.expand(got - wanted) != 0:
            raise CandidateRejected(f"initial value of {state!r} is fixed by the problem to {text}, but the model "
                                    f"has {_text(got)}")
    if all(e == 0 for e in model.rhs.values()):
        raise CandidateRejected("the model has no dynamics: every right-hand side is 0")
    _check_doses_reach_observables(model, problem)


def _check_doses_reach_observables(model: ODEModel, problem: Problem) -> None:
    """Every dosed state must influence some observable (through a chain of right-hand sides)."""
    if not problem.dose_targets:
        return
    observed = {s for s in model.states if any(symbol(s) in e.free_symbols for e in model.observables.values())}
    feeds = {s: {b for b in model.states if symbol(s) in model.rhs[b].free_symbols} for s in model.states}
    for target in problem.dose_targets:
        reached, frontier = {target}, [target]
        while frontier:
            for nxt in feeds[frontier.pop()]:
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        if not reached & observed:
            raise CandidateRejected(f"doses into {target!r} never reach an observable: no chain of right-hand sides "
                                    f"links {target!r} to {sorted(observed)}; add a flow out of {target!r}")


def _zero_start(model: ODEModel, problem: Problem) -> list[str]:
    """States that start at 0 and receive no dose; none when nothing is known to start non-zero (a problem without
    dosing data and without initial values, where the sources are not known)."""
    zero = [s for s in model.states if model.initial.get(s, sympy.Integer(0)) == 0 and s not in problem.dose_targets]
    return [] if len(zero) == len(model.states) else zero


def _check_filled(model: ODEModel, problem: Problem) -> None:
    for s in _zero_start(model, problem):
        x = symbol(s)
        at_zero = model.rhs[s].xreplace({x: sympy.Integer(0)})
        if at_zero.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            continue  # reported by the division check below
        if sympy.simplify(at_zero) == 0:
            raise CandidateRejected(f"state {s!r} starts at 0, receives no dose and d({s})/dt = {_text(model.rhs[s])} "
                                    f"is 0 when {s} = 0, so {s!r} stays 0 for ever; give it an inflow from another "
                                    "state, or remove it")
    for s in _zero_start(model, problem):
        x = symbol(s)
        sections = [*((f"d({b})/dt", e) for b, e in model.rhs.items()),
                    *((f"observable {o!r}", e) for o, e in model.observables.items())]
        for where, expr in sections:
            if x not in expr.free_symbols:
                continue
            at_zero = expr.xreplace({x: sympy.Integer(0)})
            if at_zero.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise CandidateRejected(f"{where} = {_text(expr)} is undefined at t = 0: it divides by (or takes the "
                                        f"logarithm of) {s!r}, which starts at 0 and receives no dose")


def _terms_of(expr: sympy.Expr) -> list[sympy.Expr]:
    expr = sympy.expand(expr)
    return [] if expr == 0 else list(sympy.Add.make_args(expr))


def check_mass_balance(model: ODEModel) -> None:
    """Raise :class:`CandidateRejected` when a transfer term enters one state from another without leaving it.

    A positive term of ``d(b)/dt`` that contains another state ``a`` is a flow from ``a`` into ``b``; the same term
    must appear with a minus sign in ``d(a)/dt``. Negative terms (eliminations, flows out) and terms without another
    state (inputs) are not constrained.
    """
    terms = {s: _terms_of(e) for s, e in model.rhs.items()}
    for b in model.states:
        for term in terms[b]:
            if term.could_extract_minus_sign():
                continue
            sources = [a for a in model.states if a != b and symbol(a) in term.free_symbols]
            if not sources:
                continue
            if not any(any(sympy.expand(t + term) == 0 for t in terms[a]) for a in sources):
                shown = " or ".join(f"d({a})/dt" for a in sources)
                raise CandidateRejected(f"mass balance: {_text(term)} enters {b!r} from {sources} but does not leave "
                                        f"it (no term -{_text(term)} in {shown}); in a compartment model every "
                                        "transfer leaves one state and enters another")


def _check_size(model: ODEModel, max_parameters: int, max_complexity: int) -> None:
    n = len(model.parameters)
    if n == 0:
        raise CandidateRejected("the structure has no free parameters: every coefficient is a fixed number, so there "
                                "is nothing to fit; write rates as named parameters (e.g. -k*x, not -2*x)")
    if n > max_parameters:
        raise CandidateRejected(f"too many parameters: {n} > max_parameters={max_parameters} "
                                f"({', '.join(model.parameter_names)}); simplify the structure")
    c = model.complexity
    if c > max_complexity:
        raise CandidateRejected(f"expressions too large: complexity {c} > max_complexity={max_complexity}; "
                                "simplify the right-hand sides")


def _check_finite(model: ODEModel, comp: _Compiled) -> None:
    for row in _within_bounded_priors(model, comp.names, _points(comp.names, N_TEST_POINTS)):
        values = list(map(float, row))
        for (where, expr), v in zip(comp.sections, comp.all(values)):
            if not math.isfinite(v):
                used = {k: x for k, x in zip(comp.names, values) if symbol(k) in expr.free_symbols}
                raise CandidateRejected(f"{where} = {_text(expr)} is not finite and real at the test point "
                                        f"{_show(used)}")


def validate_model(model: ODEModel, problem: Problem, *, max_parameters: int = 12, max_complexity: int = 200,
                   nonnegative: Collection[str] | None = None) -> None:
    """Check a candidate structure against a problem.

    Parameters
    ----------
    model
        The candidate.
    problem
        The problem it must explain.
    max_parameters, max_complexity
        Limits on the number of parameters and on :attr:`ODEModel.complexity`.
    nonnegative
        States that must stay non-negative; ``None`` (default) means every state the problem does not declare
        ``signed`` (amounts, counts, sizes and scores are non-negative; displacements, velocities and deviations from
        baseline may be declared signed).

    Raises
    ------
    CandidateRejected
        With a specific ``reason`` for the first check that fails (see the module documentation).
    """
    if not isinstance(model, ODEModel):
        raise CandidateRejected(f"expected an ODEModel, got {type(model).__name__}")
    _check_symbols(model, problem)
    _check_structure(model, problem)
    _check_size(model, max_parameters, max_complexity)
    comp = _Compiled(model)
    _check_finite(model, comp)
    _check_filled(model, problem)
    if problem.domain == "pk":
        check_mass_balance(model)
    if nonnegative is None:
        nonnegative = [s for s in model.states if s not in problem.signed]
    check_positivity(model, nonnegative, compiled=comp)


def deduplicate(candidates: list[Candidate], seen: set[str] | None = None) -> list[Candidate]:
    """Mark structures met before as duplicates, keeping the order.

    Parameters
    ----------
    candidates
        Candidates in order; those without a model or already not ``"valid"`` are passed through unchanged.
    seen
        Structure hashes of structures met in earlier rounds. It is updated in place with the hashes of the
        candidates kept here, so passing the same set round after round deduplicates across rounds.

    Returns
    -------
    list[Candidate]
        The same candidates (copies where marked): a later candidate whose
        :attr:`~cohortode.spec.ODEModel.structure_hash` equals an earlier one's (renamed parameters, reordered terms,
        rearranged algebra) gets ``status="duplicate"`` and ``reason="duplicate of <equations>"``.
    """
    earlier = set() if seen is None else seen
    first: dict[str, str] = {}
    out: list[Candidate] = []
    for cand in candidates:
        if cand.model is None or cand.status != "valid":
            out.append(cand)
            continue
        h = cand.model.structure_hash
        if h in first:
            out.append(replace(cand, status="duplicate", reason=f"duplicate of {first[h]}"))
        elif h in earlier:
            out.append(replace(cand, status="duplicate",
                               reason=f"duplicate of a structure met earlier (hash {h}): "
                                      f"{'; '.join(cand.model.equations())}"))
        else:
            first[h] = "; ".join(cand.model.equations())
            earlier.add(h)
            out.append(cand)
    return out
