"""ODE model specifications: states, right-hand sides, observables, parameters, initial conditions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Union

import numpy as np
import sympy

from .._errors import ExpressionError, ModelSpecError
from ._parser import parse_expression, symbol
from ._prior import Prior

__all__ = ["ODEModel", "Parameter", "TIME"]

TIME = "t"
"""Name of the time symbol in right-hand sides."""

ExprLike = Union[str, sympy.Expr, int, float]

# Functions allowed in a model built from sympy objects (the same set the text parser accepts).
_ALLOWED_FUNCS = (sympy.exp, sympy.log, sympy.Abs, sympy.tanh, sympy.sin, sympy.cos, sympy.Min, sympy.Max)


@dataclass(frozen=True)
class Parameter:
    """A model parameter.

    Parameters
    ----------
    name
        Symbol name used in the expressions.
    prior
        Prior of the typical (population) value; ``None`` takes the data-scaled default (see
        :func:`cohortode.spec.default_priors`).
    iiv
        Inter-individual variability: ``True`` estimates a log-normal random effect with the default prior on its SD,
        ``False`` (or ``0``) fixes it to zero, a positive number fixes its SD to that value, and a :class:`Prior`
        estimates it under that prior.
    description
        Free text, shown in reports and prompts.
    """

    name: str
    prior: Prior | None = None
    iiv: bool | float | Prior = True
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ModelSpecError(f"parameter name {self.name!r} is not a valid identifier")
        if self.prior is not None and not isinstance(self.prior, Prior):
            raise ModelSpecError(f"parameter {self.name!r}: prior must be a cohortode.Prior, got "
                                 f"{type(self.prior).__name__}")
        if not isinstance(self.iiv, (bool, Prior)):
            value = float(self.iiv)
            if not (math.isfinite(value) and value >= 0):
                raise ModelSpecError(f"parameter {self.name!r}: a fixed IIV SD must be >= 0, got {self.iiv!r}")

    @property
    def iiv_estimated(self) -> bool:
        """Whether the IIV SD is a free parameter."""
        return self.iiv is True or isinstance(self.iiv, Prior)

    @property
    def iiv_fixed(self) -> float | None:
        """The fixed IIV SD (0 for none), or ``None`` when it is estimated."""
        if self.iiv_estimated:
            return None
        if self.iiv is False:
            return 0.0
        return float(self.iiv)  # type: ignore[arg-type]


def _to_expr(value: ExprLike, allowed: frozenset[str], where: str) -> sympy.Expr:
    if isinstance(value, str):
        try:
            return parse_expression(value, allowed)
        except ExpressionError as exc:
            raise ModelSpecError(f"{where}: {exc}") from None
    if isinstance(value, bool):
        raise ModelSpecError(f"{where}: expected an expression, got a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(value)):
            raise ModelSpecError(f"{where}: value {value!r} is not finite")
        return sympy.Integer(int(value)) if float(value).is_integer() else sympy.Rational(repr(float(value)))
    if isinstance(value, sympy.Basic):
        expr = value.xreplace({s: symbol(s.name) for s in value.free_symbols if isinstance(s, sympy.Symbol)})
        # floats become the same exact rationals the text parser makes, so both inputs give one structure
        expr = expr.xreplace({f: sympy.Rational(repr(float(f))) for f in expr.atoms(sympy.Float)})
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Function) and not isinstance(node, _ALLOWED_FUNCS):
                raise ModelSpecError(f"{where}: function {node.func} is not supported")
            if isinstance(node, sympy.Symbol) and node.name not in allowed:
                raise ModelSpecError(f"{where}: unknown symbol {node.name!r}; known: {', '.join(sorted(allowed))}")
            if isinstance(node, (sympy.Derivative, sympy.Integral, sympy.Piecewise)):
                raise ModelSpecError(f"{where}: {type(node).__name__} is not supported")
        return expr
    raise ModelSpecError(f"{where}: expected a string, number or sympy expression, got {type(value).__name__}")


class ODEModel:
    r"""An ODE structure with observables, parameters and initial conditions.

    Parameters
    ----------
    states
        State names, in order (e.g. ``["depot", "central"]``).
    rhs
        One right-hand side per state: ``d state / dt = rhs[state]``. Strings go through the whitelist parser
        (:func:`cohortode.spec.parse_expression`); sympy expressions are checked for unknown symbols and functions.
    observables
        Observable name to expression of states, parameters and covariates (e.g. ``{"conc": "central / V"}``).
    parameters
        Parameter names, :class:`Parameter` records, or a mapping name -> :class:`Prior` or :class:`Parameter`.
        ``None`` takes every symbol that is not a state, covariate or ``t``, with default priors.
    initial
        State name to initial value at the first time (a number, or an expression of parameters and covariates).
        States not listed start at 0. Doses come from the cohort's dosing table.
    covariates
        Per-cohort covariate names that expressions may use (their values come from the cohort table).
    name, description
        Free text.

    Raises
    ------
    ModelSpecError
        When a symbol is neither a state, a parameter, a covariate nor ``t``; a state has no right-hand side; a
        right-hand side is not finite at test points; or names clash.

    Examples
    --------
    >>> m = ODEModel(states=["depot", "central"],
    ...              rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
    ...              observables={"conc": "central/V"})
    >>> m.parameter_names
    ('V', 'ka', 'ke')
    """

    def __init__(
        self,
        states: Sequence[str],
        rhs: Mapping[str, ExprLike],
        observables: Mapping[str, ExprLike],
        parameters: Sequence[str | Parameter] | Mapping[str, Prior | Parameter | None] | None = None,
        initial: Mapping[str, ExprLike] | None = None,
        covariates: Sequence[str] = (),
        name: str = "",
        description: str = "",
    ) -> None:
        states = tuple(states)
        if not states:
            raise ModelSpecError("a model needs at least one state")
        for s in states:
            if not isinstance(s, str) or not s.isidentifier() or s == TIME:
                raise ModelSpecError(f"state name {s!r} is not a valid identifier (and may not be {TIME!r})")
        if len(set(states)) != len(states):
            raise ModelSpecError(f"duplicate state names in {states}")
        covariates = tuple(covariates)
        missing = [s for s in states if s not in rhs]
        extra = [k for k in rhs if k not in states]
        if missing:
            raise ModelSpecError(f"no right-hand side for state(s) {missing}")
        if extra:
            raise ModelSpecError(f"right-hand side given for unknown state(s) {extra}; states are {list(states)}")
        if not observables:
            raise ModelSpecError("a model needs at least one observable")

        params = self._normalise_parameters(parameters)
        known_params = None if params is None else {p.name for p in params}
        clash = set(states) & set(covariates)
        if known_params:
            clash |= (set(states) | set(covariates)) & known_params
        if clash or TIME in (known_params or set()) | set(covariates):
            raise ModelSpecError(f"names used twice (state, parameter, covariate or t): {sorted(clash | {TIME})}")

        open_names = None if known_params is None else frozenset(known_params)
        base = frozenset(states) | frozenset(covariates) | {TIME}

        def allowed(extra_names: frozenset[str] | None) -> frozenset[str] | None:
            return None if extra_names is None else base | extra_names

        def convert(value: ExprLike, names: frozenset[str] | None, where: str) -> sympy.Expr:
            if names is None and isinstance(value, str):
                try:
                    return parse_expression(value, None)
                except ExpressionError as exc:
                    raise ModelSpecError(f"{where}: {exc}") from None
            if names is None:
                return _to_expr(value, frozenset(_free_names(value)), where)
            return _to_expr(value, names, where)

        names = allowed(open_names)
        rhs_exprs = {s: convert(rhs[s], names, f"right-hand side of {s!r}") for s in states}
        obs_exprs = {str(k): convert(v, names, f"observable {k!r}") for k, v in observables.items()}
        init_in = dict(initial or {})
        bad_init = [k for k in init_in if k not in states]
        if bad_init:
            raise ModelSpecError(f"initial value given for unknown state(s) {bad_init}")
        init_exprs = {s: convert(init_in.get(s, 0), names, f"initial value of {s!r}") for s in states}

        if params is None:
            found: set[str] = set()
            for e in (*rhs_exprs.values(), *obs_exprs.values(), *init_exprs.values()):
                found |= {x.name for x in e.free_symbols}
            params = tuple(Parameter(n) for n in sorted(found - base))
        for s, e in init_exprs.items():
            if {x.name for x in e.free_symbols} & (set(states) | {TIME}):
                raise ModelSpecError(f"initial value of {s!r} may not depend on states or t: {e}")

        self.states: tuple[str, ...] = states
        self.rhs: dict[str, sympy.Expr] = rhs_exprs
        self.observables: dict[str, sympy.Expr] = obs_exprs
        self.initial: dict[str, sympy.Expr] = init_exprs
        self.parameters: tuple[Parameter, ...] = tuple(params)
        self.covariates: tuple[str, ...] = covariates
        self.name = name
        self.description = description
        self._check_used_and_finite()

    @staticmethod
    def _normalise_parameters(parameters) -> tuple[Parameter, ...] | None:
        if parameters is None:
            return None
        out: list[Parameter] = []
        if isinstance(parameters, Mapping):
            for k, v in parameters.items():
                if isinstance(v, Parameter):
                    if v.name != k:
                        raise ModelSpecError(f"parameter key {k!r} differs from its Parameter name {v.name!r}")
                    out.append(v)
                elif v is None or isinstance(v, Prior):
                    out.append(Parameter(str(k), prior=v))
                else:
                    raise ModelSpecError(f"parameter {k!r}: expected a Prior, a Parameter or None, "
                                         f"got {type(v).__name__}")
        else:
            for p in parameters:
                out.append(p if isinstance(p, Parameter) else Parameter(str(p)))
        names = [p.name for p in out]
        if len(set(names)) != len(names):
            raise ModelSpecError(f"duplicate parameter names in {names}")
        return tuple(out)

    def _check_used_and_finite(self) -> None:
        used: set[str] = set()
        for e in (*self.rhs.values(), *self.observables.values(), *self.initial.values()):
            used |= {x.name for x in e.free_symbols}
        unused = [p.name for p in self.parameters if p.name not in used]
        if unused:
            raise ModelSpecError(f"parameter(s) {unused} appear in no expression")
        rng = np.random.default_rng(20240501)
        syms = [*self.states, *self.parameter_names, *self.covariates, TIME]
        for trial in range(3):
            values = {symbol(n): sympy.Float(float(v)) for n, v in zip(syms, rng.uniform(0.5, 2.0, len(syms)))}
            for where, e in [*(("right-hand side of " + s, e) for s, e in self.rhs.items()),
                             *(("observable " + o, e) for o, e in self.observables.items())]:
                try:
                    value = complex(e.xreplace(values).evalf(15))
                except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                    value = complex("nan")
                if not (math.isfinite(value.real) and abs(value.imag) < 1e-9 * max(1.0, abs(value.real))):
                    raise ModelSpecError(f"{where} is not finite and real at the test point "
                                         f"{ {k.name: round(float(v), 3) for k, v in values.items()} }: {e}")

    # ----------------------------------------------------------------------------------------------- properties
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Parameter names in order."""
        return tuple(p.name for p in self.parameters)

    @property
    def observable_names(self) -> tuple[str, ...]:
        """Observable names in order."""
        return tuple(self.observables)

    def parameter(self, name: str) -> Parameter:
        """The :class:`Parameter` called ``name``."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; parameters are {list(self.parameter_names)}")

    def with_parameters(self, **changes: Prior | Parameter | dict) -> ODEModel:
        """A copy with some parameters replaced.

        Each keyword is a parameter name; its value is a :class:`Prior` (new prior), a :class:`Parameter`, or a dict
        of :class:`Parameter` fields (e.g. ``ka={"iiv": False}``).
        """
        unknown = [k for k in changes if k not in self.parameter_names]
        if unknown:
            raise ModelSpecError(f"unknown parameter(s) {unknown}; parameters are {list(self.parameter_names)}")
        new = []
        for p in self.parameters:
            c = changes.get(p.name)
            if c is None:
                new.append(p)
            elif isinstance(c, Prior):
                new.append(replace(p, prior=c))
            elif isinstance(c, Parameter):
                new.append(c)
            else:
                new.append(replace(p, **dict(c)))
        return ODEModel(self.states, self.rhs, self.observables, new, self.initial, self.covariates,
                        self.name, self.description)

    # ------------------------------------------------------------------------------------------------ structure
    def canonical(self) -> str:
        """A canonical text of the structure: expanded, ordered, parameters renamed by role (see ``_canonical``)."""
        from ._canonical import canonical_form

        return canonical_form(self)

    @property
    def structure_hash(self) -> str:
        """A short hash of :meth:`canonical`; renamed or reordered duplicates share it."""
        import hashlib

        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]

    @property
    def complexity(self) -> int:
        """Number of nodes of the expression trees of the right-hand sides and observables."""
        return sum(_count_nodes(e) for e in (*self.rhs.values(), *self.observables.values()))

    def linear_system(self) -> tuple[sympy.Matrix, sympy.Matrix] | None:
        """``(A, b)`` with ``dx/dt = A x + b`` when the right-hand side is affine in the states and free of ``t``.

        ``A`` and ``b`` depend on parameters and covariates only. Returns ``None`` otherwise. The result is kept on
        the model (it is asked for by the screen, the compiler and the solver choice, and costs tenths of a second
        for a chain of compartments).
        """
        cached = self.__dict__.get("_linear_system")
        if cached is None:
            cached = self.__dict__["_linear_system"] = (self._affine_form(),)
        return cached[0]

    def _affine_form(self) -> tuple[sympy.Matrix, sympy.Matrix] | None:
        xs = [symbol(s) for s in self.states]
        tt = symbol(TIME)
        f = sympy.Matrix([self.rhs[s] for s in self.states])
        if any(tt in e.free_symbols for e in f):
            return None
        jac = f.jacobian(xs)
        if any(set(xs) & e.free_symbols for e in jac):
            return None
        b = sympy.expand(f - jac * sympy.Matrix(xs))
        if any(set(xs) & e.free_symbols for e in b):  # a rational form that expanding does not cancel
            b = sympy.simplify(b)
        if any(set(xs) & e.free_symbols for e in b):
            return None
        return jac, b

    def latex(self) -> str:
        """LaTeX of the equations (an ``aligned`` block)."""
        lines = [rf"\frac{{d\,\mathrm{{{_tex_name(s)}}}}}{{dt}} &= {sympy.latex(self.rhs[s], symbol_names=self._tex_names())}"
                 for s in self.states]
        lines += [rf"\mathrm{{{_tex_name(o)}}} &= {sympy.latex(e, symbol_names=self._tex_names())}"
                  for o, e in self.observables.items()]
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def _tex_names(self) -> dict[sympy.Symbol, str]:
        return {symbol(n): rf"\mathrm{{{_tex_name(n)}}}" for n in
                (*self.states, *self.parameter_names, *self.covariates) if len(n) > 1}

    def equations(self) -> list[str]:
        """The equations as plain text lines, e.g. ``d(central)/dt = ka*depot - ke*central``."""
        out = [f"d({s})/dt = {_text(self.rhs[s])}" for s in self.states]
        out += [f"{o} = {_text(e)}" for o, e in self.observables.items()]
        out += [f"{s}(0) = {_text(e)}" for s, e in self.initial.items() if e != 0]
        return out

    def __repr__(self) -> str:
        head = f"ODEModel({self.name!r}, " if self.name else "ODEModel("
        return head + "; ".join(self.equations()) + ")"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ODEModel):
            return NotImplemented
        return (self.states, self.rhs, self.observables, self.initial, self.parameters, self.covariates) == (
            other.states, other.rhs, other.observables, other.initial, other.parameters, other.covariates)

    def __hash__(self) -> int:
        return hash(self.canonical())

    # -------------------------------------------------------------------------------------------- serialisation
    @classmethod
    def from_toml(cls, source: str | Path) -> ODEModel:
        """Read a model from a TOML file (or TOML text); see :mod:`cohortode.spec._toml` for the format."""
        from ._toml import model_from_toml

        return model_from_toml(source)

    def to_toml(self) -> str:
        """TOML text that :meth:`from_toml` reads back."""
        from ._toml import model_to_toml

        return model_to_toml(self)


def _free_names(value: object) -> set[str]:
    if isinstance(value, sympy.Basic):
        return {s.name for s in value.free_symbols if isinstance(s, sympy.Symbol)}
    return set()


def _count_nodes(expr: sympy.Expr) -> int:
    return sum(1 for _ in sympy.preorder_traversal(expr))


def _tex_name(name: str) -> str:
    return name.replace("_", r"\_")


def _text(expr: sympy.Expr) -> str:
    return sympy.sstr(expr, order="none")

