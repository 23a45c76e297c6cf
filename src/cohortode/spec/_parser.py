"""A whitelist parser from text to sympy.

Text (from a user or a language model) is parsed with :func:`ast.parse` in ``eval`` mode, which builds a syntax tree
and runs nothing. The tree is then walked node by node: only names, numbers, ``+ - * / ** ^``, unary signs,
parentheses and calls of a fixed set of functions are accepted, and sympy objects are built directly from the nodes.
Text never reaches ``eval``, ``exec`` or ``sympify``.

Numbers and powers are bounded so that nothing can make sympy compute for long (``10**10**10`` is rejected), and the
text length, node count and nesting depth are bounded so that nothing can hang the parser.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping

import sympy

from .._errors import ExpressionError

__all__ = ["parse_expression", "ALLOWED_FUNCTIONS", "symbol", "MAX_TEXT_LENGTH"]

MAX_TEXT_LENGTH = 4000
"""Longest expression text accepted, in characters."""
MAX_NODES = 400
"""Largest number of syntax-tree nodes accepted in one expression."""
MAX_DEPTH = 40
"""Deepest nesting accepted."""
MAX_ABS_NUMBER = 1e12
"""Largest magnitude of a numeric literal or a constant power."""
MAX_ABS_EXPONENT = 16
"""Largest magnitude of a numeric exponent."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _min(*args):
    return sympy.Min(*args)


def _max(*args):
    return sympy.Max(*args)


# name -> (sympy builder, allowed arities)
ALLOWED_FUNCTIONS: Mapping[str, tuple[object, tuple[int, ...]]] = {
    "exp": (sympy.exp, (1,)),
    "log": (sympy.log, (1,)),
    "sqrt": (sympy.sqrt, (1,)),
    "abs": (sympy.Abs, (1,)),
    "tanh": (sympy.tanh, (1,)),
    "sin": (sympy.sin, (1,)),
    "cos": (sympy.cos, (1,)),
    "min": (_min, (2,)),
    "max": (_max, (2,)),
}

_RESERVED = frozenset(ALLOWED_FUNCTIONS) | {
    "lambda", "import", "None", "True", "False", "and", "or", "not", "if", "else", "for", "in", "is",
}


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol cohortode uses for ``name`` (plain, without assumptions, so symbols compare by name)."""
    return sympy.Symbol(name)


def _number(value: object, text: str) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"only plain numbers are allowed as constants, not {type(value).__name__}", text=text)
    if not math.isfinite(float(value)) or abs(float(value)) > MAX_ABS_NUMBER:
        raise ExpressionError(f"number {value!r} is out of range (|x| <= {MAX_ABS_NUMBER:g})", text=text)
    if isinstance(value, int):
        return sympy.Integer(value)
    return sympy.Rational(repr(float(value)))


class _Builder:
    def __init__(self, text: str, allowed_names: frozenset[str] | None):
        self.text = text
        self.allowed_names = allowed_names
        self.nodes = 0

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(message, text=self.text)

    def build(self, node: ast.AST, depth: int = 0) -> sympy.Expr:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"expression is too large (more than {MAX_NODES} syntax nodes)")
        if depth > MAX_DEPTH:
            raise self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(node, ast.Expression):
            return self.build(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            return _number(node.value, self.text)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            raise self.fail(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(f"{type(node).__name__} syntax is not allowed; use names, numbers, + - * / ^ and "
                        f"the functions {', '.join(sorted(ALLOWED_FUNCTIONS))}")

    def name(self, name: str) -> sympy.Symbol:
        if not _NAME.match(name) or name in _RESERVED:
            raise self.fail(f"name {name!r} is not allowed (names start with a letter and use letters, digits, _)")
        if self.allowed_names is not None and name not in self.allowed_names:
            raise self.fail(f"unknown symbol {name!r}; known symbols are {', '.join(sorted(self.allowed_names))}")
        return symbol(name)

    def binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        left = self.build(node.left, depth + 1)
        right = self.build(node.right, depth + 1)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            if right.is_number and right == 0:
                raise self.fail("division by zero")
            return left / right
        if isinstance(op, ast.Pow):
            return self.power(left, right)
        raise self.fail(f"operator {type(op).__name__} is not allowed")

    def power(self, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if exponent.is_number:
            value = float(exponent)
            if abs(value) > MAX_ABS_EXPONENT:
                raise self.fail(f"numeric exponent {value:g} is too large (|exponent| <= {MAX_ABS_EXPONENT})")
            if base.is_number:
                b = float(base)
                if b == 0 and value < 0:
                    raise self.fail("zero raised to a negative power")
                if b != 0 and abs(value * math.log10(abs(b))) > math.log10(MAX_ABS_NUMBER):
                    raise self.fail(f"constant power {b:g}^{value:g} is out of range")
        return sympy.Pow(base, exponent)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only calls of named functions are allowed (no attribute access or computed calls)")
        fname = node.func.id
        if fname not in ALLOWED_FUNCTIONS:
            raise self.fail(f"function {fname!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))}")
        if node.keywords:
            raise self.fail(f"keyword arguments are not allowed in {fname}()")
        builder, arities = ALLOWED_FUNCTIONS[fname]
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail("starred arguments are not allowed")
        if len(node.args) not in arities:
            raise self.fail(f"{fname}() takes {' or '.join(map(str, arities))} argument(s), got {len(node.args)}")
        args = [self.build(a, depth + 1) for a in node.args]
        if fname == "exp" and args[0].is_number and float(args[0]) > math.log(MAX_ABS_NUMBER):
            raise self.fail(f"exp({float(args[0]):g}) is out of range")
        return builder(*args)  # type: ignore[operator]


def parse_expression(text: str, allowed_names: frozenset[str] | set[str] | None = None) -> sympy.Expr:
    """Parse text into a sympy expression through a whitelist; nothing in the text is executed.

    Parameters
    ----------
    text
        The expression, e.g. ``"ka*depot - ke*central"``. ``^`` means power, as does ``**``.
    allowed_names
        If given, every name must be one of these; otherwise any well-formed name becomes a symbol.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ExpressionError
        For non-ASCII characters (look-alike letters), text over :data:`MAX_TEXT_LENGTH` characters, syntax errors,
        any construct outside the whitelist (attributes, subscripts, lambdas, comprehensions, strings, keywords),
        unknown functions or names, and numbers or powers out of range.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(f"expression is too long ({len(text)} characters; at most {MAX_TEXT_LENGTH})",
                              text=text)
    for i, ch in enumerate(text):
        if ord(ch) > 127:
            raise ExpressionError(f"non-ASCII character {ch!r} (U+{ord(ch):04X}) at position {i}; "
                                  "write names with plain ASCII letters", text=text)
        if ch in "\"'`\\;@:[]{}|&~!$#?<>=,." and not (ch in ",." and _comma_dot_ok(text, i)):
            raise ExpressionError(f"character {ch!r} at position {i} is not allowed", text=text)
    stripped = text.strip()
    if not stripped:
        raise ExpressionError("empty expression", text=text)
    # `^` is power in mathematical text; Python's `^` binds looser than `+`, so it is rewritten before parsing (no
    # string literal can exist in accepted text, so the rewrite cannot change a quoted character).
    stripped = stripped.replace("^", "**")
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"not a valid expression ({type(exc).__name__})", text=text) from None
    names = None if allowed_names is None else frozenset(allowed_names)
    try:
        return _Builder(text, names).build(tree)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply", text=text) from None


def _comma_dot_ok(text: str, i: int) -> bool:
    """Commas separate call arguments; dots only appear inside numbers (an attribute access is rejected)."""
    if text[i] == ",":
        return True
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return before.isdigit() or after.isdigit()
