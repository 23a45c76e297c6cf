"""Building blocks of the motif library: :class:`Block`, the :class:`Family` interface, and a model draft helper."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy

from ...spec import TIME, ODEModel, parse_expression, symbol
from .._problem import Problem

__all__ = ["Block", "Family", "Draft", "fresh_name", "states_in"]


@dataclass(frozen=True)
class Block:
    """One named mechanism of the library.

    Attributes
    ----------
    category
        What the block decides, e.g. ``"absorption"``, ``"distribution"``, ``"elimination"``, ``"growth_law"``,
        ``"compartments"``, ``"drug_effect"``.
    name
        snake_case identifier used in grammars, e.g. ``"first_order_absorption"``.
    description
        One plain-English line a small language model reads, e.g.
        ``"first-order absorption from a gut depot"``.
    family
        The family that owns the block (``"pk"``, ``"pd"``, ``"epidemic"``, ``"growth"``, ``"progression"``).
    """

    category: str
    name: str
    description: str
    family: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"block name {self.name!r} must be snake_case (lower-case letters, digits, '_')")
        if "\n" in self.description or not self.description.strip():
            raise ValueError(f"block {self.name!r}: the description must be one non-empty line")


def fresh_name(base: str, taken: Iterable[str]) -> str:
    """``base`` if free, else ``base2``, ``base3``, ... (the first one not in ``taken``)."""
    taken = set(taken)
    if base not in taken:
        return base
    i = 2
    while f"{base}{i}" in taken:
        i += 1
    return f"{base}{i}"


def states_in(text_or_expr: str | sympy.Expr, states: Iterable[str]) -> set[str]:
    """Names among ``states`` that an expression (text or sympy) uses."""
    expr = parse_expression(text_or_expr) if isinstance(text_or_expr, str) else text_or_expr
    names = {s.name for s in expr.free_symbols}
    return names & set(states)


class Draft:
    """A model under construction, seeded from a problem's states, observables and fixed initial values.

    Blocks add states (with fresh names), terms and flows; :meth:`model` turns the draft into an
    :class:`~cohortode.spec.ODEModel` whose parameters are every remaining symbol.
    """

    def __init__(self, problem: Problem):
        self.problem = problem
        self.states: list[str] = list(problem.state_names)
        self.rhs: dict[str, sympy.Expr] = {s: sympy.Integer(0) for s in self.states}
        self.observables: dict[str, sympy.Expr] = {k: parse_expression(v) for k, v in problem.observables.items()}
        self.initial: dict[str, sympy.Expr] = {k: parse_expression(v) for k, v in problem.initial.items()}
        self.covariates: tuple[str, ...] = tuple(problem.covariates)
        self._taken: set[str] = {*self.states, *self.covariates, TIME}
        for e in (*self.observables.values(), *self.initial.values()):
            self._taken |= {s.name for s in e.free_symbols}

    # ------------------------------------------------------------------------------------------------ names
    def add_state(self, base: str) -> str:
        """Add a state named ``base`` (or ``base2``... if taken); returns its name."""
        name = fresh_name(base, self._taken)
        self._taken.add(name)
        self.states.append(name)
        self.rhs[name] = sympy.Integer(0)
        return name

    def x(self, state: str) -> sympy.Symbol:
        """The symbol of a state of the draft."""
        if state not in self.rhs:
            raise KeyError(f"state {state!r} is not in the draft (states: {self.states})")
        return symbol(state)

    def p(self, name: str) -> sympy.Symbol:
        """A parameter symbol named ``name``; renamed (``name2``...) only if a state or covariate has that name."""
        reserved = {*self.states, *self.covariates, TIME}
        if name in reserved:
            name = fresh_name(name, self._taken | reserved)
        self._taken.add(name)
        return symbol(name)

    def covariate_or_parameter(self, name: str) -> sympy.Symbol:
        """The symbol ``name``: a covariate if the problem has it, otherwise a parameter."""
        return symbol(name) if name in self.covariates else self.p(name)

    # ------------------------------------------------------------------------------------------------ terms
    def add(self, state: str, term: sympy.Expr) -> None:
        """Add ``term`` to ``d(state)/dt``."""
        self.x(state)
        self.rhs[state] = self.rhs[state] + term

    def flow(self, source: str | None, target: str | None, rate: sympy.Expr) -> None:
        """Move material at ``rate`` from ``source`` to ``target`` (``None`` = outside the system)."""
        if source is not None:
            self.add(source, -rate)
        if target is not None:
            self.add(target, rate)

    def set_initial(self, state: str, value: sympy.Expr) -> None:
        """Give ``state`` an initial value unless the problem fixes one."""
        if state not in self.initial:
            self.initial[state] = value

    def substitute_in_observables(self, mapping: Mapping[sympy.Symbol, sympy.Expr]) -> None:
        """Replace symbols in every observable expression."""
        self.observables = {k: e.xreplace(dict(mapping)) for k, e in self.observables.items()}

    def model(self, name: str = "", description: str = "") -> ODEModel:
        """The finished :class:`~cohortode.spec.ODEModel`."""
        covariates = list(self.covariates)
        return ODEModel(self.states, self.rhs, self.observables, initial=self.initial, covariates=covariates,
                        name=name, description=description)


class Family(abc.ABC):
    """A family of blocks that compose into structures for one domain.

    Subclasses define :attr:`name`, :attr:`category_order`, :meth:`blocks`, :meth:`categories` and :meth:`build`.
    """

    name: str = ""
    category_order: tuple[str, ...] = ()

    @abc.abstractmethod
    def blocks(self) -> tuple[Block, ...]:
        """Every block of the family."""

    @abc.abstractmethod
    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        """The blocks that fit ``problem``, per category in :attr:`category_order`; ``{}`` if the family does not
        fit the problem at all."""

    def compatible(self, problem: Problem, choice: Mapping[str, str]) -> bool:
        """Whether a combination (category -> block name) makes sense; all do by default."""
        return True

    @abc.abstractmethod
    def build(self, problem: Problem, choice: Mapping[str, str]) -> ODEModel:
        """The model of a combination (category -> block name)."""

    def block(self, name: str) -> Block:
        """The block called ``name``."""
        for b in self.blocks():
            if b.name == name:
                return b
        raise KeyError(f"family {self.name!r} has no block {name!r}")
