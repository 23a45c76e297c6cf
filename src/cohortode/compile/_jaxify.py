"""Translate sympy expressions into JAX functions by walking the expression tree.

No code is generated as text and nothing is evaluated: each sympy node type maps to a ``jax.numpy`` operation. Only
the node types the whitelist parser can produce are supported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax.numpy as jnp
import sympy
from jax import lax

__all__ = ["jax_function"]

_UNARY: dict[type, Callable] = {
    sympy.exp: jnp.exp,
    sympy.log: jnp.log,
    sympy.Abs: jnp.abs,
    sympy.tanh: jnp.tanh,
    sympy.sin: jnp.sin,
    sympy.cos: jnp.cos,
}


def _power_at_zero(base, exponent=None):
    """``base ** exponent`` (``sqrt(base)`` when ``exponent`` is ``None``) for a non-integer exponent, with
    derivatives taken as zero where ``base`` is exactly 0.

    A concentration raised to a Hill coefficient, ``(central/V)**hill``, starts at ``0**hill`` after an oral dose.
    There the derivative in ``hill`` is ``0 * log 0`` and, for ``hill < 1``, the derivative in the concentration is
    infinite: the forward sensitivities of the solve (and every gradient after them) became NaN from the first step,
    although the solution itself is finite, so no start of a sigmoid-Emax PD structure reached a finite density. The
    value is unchanged everywhere (a negative base still gives NaN for a fractional exponent); only at a zero base
    are the derivatives 0: their limit for exponents above 1, and a finite stand-in for the integrable singularity
    below it.
    """
    positive = base > 0
    safe = jnp.where(positive, base, 1.0)
    if exponent is None:
        inside, at_zero = jnp.sqrt(safe), jnp.sqrt(base)
    else:
        inside, at_zero = jnp.power(safe, exponent), jnp.power(base, exponent)
    return jnp.where(positive, inside, lax.stop_gradient(at_zero))


def _build(expr: sympy.Basic, index: dict[sympy.Symbol, int]) -> Callable:
    """A function ``f(values) -> array`` where ``values[i]`` is the value of the symbol with index ``i``."""
    if isinstance(expr, sympy.Symbol):
        if expr not in index:
            raise KeyError(f"symbol {expr.name!r} has no value slot")
        i = index[expr]
        return lambda v: v[i]
    if expr.is_Number or expr in (sympy.pi, sympy.E):
        c = float(expr)
        return lambda v: jnp.asarray(c)
    if isinstance(expr, sympy.Add):
        parts = [_build(a, index) for a in expr.args]

        def add(v):
            out = parts[0](v)
            for p in parts[1:]:
                out = out + p(v)
            return out
        return add
    if isinstance(expr, sympy.Mul):
        parts = [_build(a, index) for a in expr.args]

        def mul(v):
            out = parts[0](v)
            for p in parts[1:]:
                out = out * p(v)
            return out
        return mul
    if isinstance(expr, sympy.Pow):
        base = _build(expr.base, index)
        e = expr.exp
        if e.is_Integer:
            k = int(e)
            if k == -1:
                return lambda v: 1.0 / base(v)
            if 0 <= k <= 4:
                return lambda v: jnp.power(base(v), k) if k != 1 else base(v)
            return lambda v: jnp.power(base(v), float(k))
        if e == sympy.Rational(1, 2):
            return lambda v: _power_at_zero(base(v))
        if e == sympy.Rational(-1, 2):
            return lambda v: 1.0 / jnp.sqrt(base(v))
        exponent = _build(e, index)
        return lambda v: _power_at_zero(base(v), exponent(v))
    for fn, jfn in _UNARY.items():
        if isinstance(expr, fn):
            arg = _build(expr.args[0], index)
            return lambda v, jfn=jfn, arg=arg: jfn(arg(v))
    if isinstance(expr, (sympy.Min, sympy.Max)):
        parts = [_build(a, index) for a in expr.args]
        op = jnp.minimum if isinstance(expr, sympy.Min) else jnp.maximum

        def minmax(v):
            out = parts[0](v)
            for p in parts[1:]:
                out = op(out, p(v))
            return out
        return minmax
    raise TypeError(f"cannot translate {type(expr).__name__} ({expr}) to JAX")


def jax_function(exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> Callable:
    """A JAX function ``f(values) -> array(len(exprs))`` of the expressions.

    Parameters
    ----------
    exprs
        Expressions to evaluate.
    symbols
        The symbols, in the order of the entries of ``values``.
    """
    index = {s: i for i, s in enumerate(symbols)}
    parts = [_build(sympy.Float(e) if isinstance(e, (int, float)) else e, index) for e in exprs]

    def f(values):
        return jnp.stack([jnp.broadcast_to(p(values), jnp.shape(values)[1:]) for p in parts])
    return f
