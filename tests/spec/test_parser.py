"""Tests of the whitelist expression parser (cohortode.spec.parse_expression).

The parser must turn mathematical text into sympy without running anything in it: hostile strings are rejected with
ExpressionError, quickly, and leave no trace.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import sympy

from cohortode import ExpressionError
from cohortode.spec import ALLOWED_FUNCTIONS, parse_expression, symbol

PARSE_TIMEOUT_S = 5

x, y, k, V, ka, Km = (symbol(n) for n in ("x", "y", "k", "V", "ka", "Km"))


# ------------------------------------------------------------------------------------------------ valid text
@pytest.mark.timeout(PARSE_TIMEOUT_S)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x^2 + 1", x**2 + 1),
        ("x**2 + 1", x**2 + 1),
        ("2*x^2", 2 * x**2),
        ("-x^2", -(x**2)),  # unary minus binds looser than power
        ("x^-1", 1 / x),
        ("2^3^2", sympy.Integer(512)),  # power is right-associative: 2^(3^2)
        ("(x + 1)^2", (x + 1) ** 2),
        ("x^2*y", x**2 * y),
        ("x ^ 2 + y ^ 2", x**2 + y**2),
        ("ka*x - k*y", ka * x - k * y),
        ("x/V", x / V),
        ("x/(Km + x)", x / (Km + x)),
        ("exp(-k*x)", sympy.exp(-k * x)),
        ("log(x) + sqrt(y)", sympy.log(x) + sympy.sqrt(y)),
        ("abs(x) + tanh(y) + sin(x) + cos(y)", sympy.Abs(x) + sympy.tanh(y) + sympy.sin(x) + sympy.cos(y)),
        ("min(x, y) + max(x, 1)", sympy.Min(x, y) + sympy.Max(x, 1)),
        ("0.5*x + 1e-3", sympy.Rational(1, 2) * x + sympy.Rational(1, 1000)),
        ("  x  ", x),
    ],
)
def test_valid_expressions(text, expected):
    got = parse_expression(text)
    assert sympy.simplify(got - expected) == 0, (text, got, expected)


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_caret_and_double_star_give_the_same_tree():
    for a, b in [("x^2 + 1", "x**2 + 1"), ("k*x^3/(Km^2 + x^2)", "k*x**3/(Km**2 + x**2)")]:
        assert parse_expression(a) == parse_expression(b)


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_caret_precedence_is_power_not_xor():
    # Python's ^ would bind looser than +, giving x^(2+1) = x^3; mathematical text means x^2 + 1.
    e = parse_expression("x^2 + 1")
    assert isinstance(e, sympy.Add)
    assert e.subs(x, 3) == 10


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_symbols_are_plain():
    e = parse_expression("ka*x")
    assert e.free_symbols == {sympy.Symbol("ka"), sympy.Symbol("x")}
    assert all(s.assumptions0.get("positive") is None for s in e.free_symbols)


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_every_allowed_function_parses():
    for name, (_builder, arities) in ALLOWED_FUNCTIONS.items():
        args = ", ".join(["x", "y"][: arities[0]])
        e = parse_expression(f"{name}({args})")
        assert e.free_symbols <= {x, y}


# ----------------------------------------------------------------------------------------------- allowed_names
@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_allowed_names_accepts_known_names():
    assert parse_expression("ka*x - k*y", allowed_names={"ka", "k", "x", "y"}) == ka * x - k * y
    assert parse_expression("x", allowed_names=frozenset({"x"})) == x


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_allowed_names_rejects_unknown_name_and_names_it():
    with pytest.raises(ExpressionError, match="'q'"):
        parse_expression("ka*x + q", allowed_names={"ka", "x"})


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_allowed_names_does_not_make_a_function_name_a_symbol():
    with pytest.raises(ExpressionError):
        parse_expression("exp", allowed_names={"exp", "x"})


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_empty_allowed_names_rejects_every_name():
    with pytest.raises(ExpressionError):
        parse_expression("x", allowed_names=set())
    assert parse_expression("2 + 3", allowed_names=set()) == 5


# ----------------------------------------------------------------------------------------------- hostile text
HOSTILE = {
    "import_system": "__import__('os').system('touch pwned')",
    "dunder_chain": "().__class__.__bases__",
    "dunder_subclasses": "().__class__.__bases__[0].__subclasses__()",
    "lambda": "lambda x: x",
    "lambda_call": "(lambda: 1)()",
    "tower_power": "10**10**10",
    "tower_power_caret": "10^10^10",
    "exp_of_tower": "exp(10**10**10)",
    "huge_power": "2**1000",
    "exp_overflow": "exp(1000)",
    "nested_exp": "exp(exp(exp(exp(30))))",
    "huge_literal": "1e300",
    "huge_exponent_symbolic": "x^100000",
    "long_text": "x+" * 50_000 + "x",  # 100 kB
    "long_name": "x" * 100_000,
    "deep_unary": "-" * 3000 + "x",
    "deep_parens": "(" * 1000 + "x" + ")" * 1000,
    "many_nodes": "+".join(["x"] * 1500),
    "unknown_function": "foo(x)",
    "eval_call": "eval(x)",
    "exec_call": "exec(x)",
    "getattr_call": "getattr(x, y)",
    "cyrillic_a": "k*\u0430",  # Cyrillic small a, looks like Latin a
    "cyrillic_in_name": "k\u0430*x",
    "greek_omicron": "\u03bf + x",
    "fullwidth_x": "\uff58 + 1",
    "attribute": "x.real",
    "attribute_after_float": "1.0.real",
    "dunder_after_float": "1.0.__class__",
    "subscript": "x[0]",
    "keyword_arg": "exp(x=1)",
    "string_single": "'abc'",
    "string_double": '"abc"',
    "bytes": "b'abc'",
    "fstring": "f'{x}'",
    "walrus": "(y := 1)",
    "comparison": "x < y",
    "equality": "x == y",
    "boolean": "x and y",
    "not": "not x",
    "conditional": "x if y else k",
    "list": "[x, y]",
    "dict": "{x: y}",
    "set": "{x}",
    "tuple": "(x, y)",
    "comprehension": "[i for i in x]",
    "generator": "sum(i for i in x)",
    "starred": "max(*x)",
    "computed_call": "f(x)(y)",
    "call_of_call": "exp(x)(y)",
    "statement": "x; y",
    "assignment": "x = 1",
    "matmul": "x @ y",
    "bitand": "x & y",
    "bitor": "x | y",
    "invert": "~x",
    "modulo": "x % y",
    "floordiv": "x // y",
    "shift": "x << 2",
    "true": "True",
    "none": "None",
    "ellipsis": "...",
    "builtins_name": "__builtins__",
    "private_name": "_x",
    "dunder_name": "__x__",
    "backslash": "x \\\n + y",
    "newline_statement": "x\nimport os",
    "comment": "x # comment",
    "empty": "",
    "blank": "   ",
    "syntax_error": "x +",
    "division_by_zero": "1/0",
    "zero_negative_power": "0^-1",
    "wrong_arity": "exp(x, y)",
    "wrong_arity_min": "min(x)",
}


@pytest.fixture
def tripwires(monkeypatch, tmp_path):
    """Run in an empty directory with process-spawning and text-evaluating entry points made to fail loudly."""
    monkeypatch.chdir(tmp_path)
    calls = []

    def trip(name):
        def f(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"the parser called {name}")
        return f

    monkeypatch.setattr(os, "system", trip("os.system"))
    monkeypatch.setattr(os, "popen", trip("os.popen"))
    monkeypatch.setattr(subprocess, "Popen", trip("subprocess.Popen"))
    monkeypatch.setattr(sympy, "sympify", trip("sympy.sympify"))
    monkeypatch.setattr(sympy, "parse_expr", trip("sympy.parse_expr"))
    return tmp_path, calls


@pytest.mark.timeout(PARSE_TIMEOUT_S)
@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_text_is_rejected_and_nothing_runs(text, tripwires):
    cwd, calls = tripwires
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert calls == []
    assert list(cwd.iterdir()) == []
    # The error keeps the text (shortened in the message) for reporting.
    assert info.value.text == text or info.value.text is None
    assert len(str(info.value)) < 1000


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_import_attempt_creates_no_file(tripwires):
    cwd, calls = tripwires
    with pytest.raises(ExpressionError):
        parse_expression("__import__('os').system('touch pwned')")
    with pytest.raises(ExpressionError):
        parse_expression("__import__(os).system(touch)")  # no quotes: still an attribute access
    assert not (cwd / "pwned").exists()
    assert calls == []


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_lookalike_unicode_is_named_in_the_message():
    with pytest.raises(ExpressionError, match="U\\+0430"):
        parse_expression("k*\u0430")


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_unknown_function_lists_the_allowed_ones():
    with pytest.raises(ExpressionError, match="'foo'") as info:
        parse_expression("foo(x)")
    assert "exp" in str(info.value)


@pytest.mark.timeout(PARSE_TIMEOUT_S)
@pytest.mark.parametrize("value", [None, 3, 2.5, b"x", sympy.Symbol("x")])
def test_non_string_input_is_rejected(value):
    with pytest.raises(ExpressionError):
        parse_expression(value)


@pytest.mark.timeout(PARSE_TIMEOUT_S)
def test_expression_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_expression("foo(x)")
