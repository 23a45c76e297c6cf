"""Grammars of the LLM proposer: they compile with xgrammar and accept exactly the intended texts."""

from __future__ import annotations

import pytest

from cohortode.propose._benchmark_problems import BENCHMARK_NAMES, benchmark_problem
from cohortode.propose._grammar import (
    check_grammar,
    expression_grammar,
    mechanism_grammar,
    mechanism_line,
)
from cohortode.propose._parse_output import parse_equations
from cohortode.propose.motifs import default_library

xgrammar = pytest.importorskip("xgrammar")
testing = pytest.importorskip("xgrammar.testing")


def accepts(grammar: str, text: str) -> bool:
    return bool(testing._is_grammar_accept_string(grammar, text))


# ------------------------------------------------------------------------------------------------ mechanism
@pytest.mark.parametrize("name", BENCHMARK_NAMES)
def test_mechanism_grammar_of_each_benchmark_compiles_and_accepts_every_composition(name):
    bp = benchmark_problem(name, with_data=False)
    lib = default_library()
    cats = lib.categories(bp.problem)
    grammar = mechanism_grammar(cats)
    xgrammar.Grammar.from_ebnf(grammar)
    check_grammar(grammar)
    for choice in lib.compositions(bp.problem):
        assert accepts(grammar, mechanism_line(list(cats), choice)), choice
    assert accepts(grammar, mechanism_line(list(cats), bp.expert))


def test_mechanism_grammar_rejects_unknown_blocks_and_wrong_order():
    grammar = mechanism_grammar({"absorption": ["first_order", "zero_order"], "elimination": ["linear", "mm"]})
    assert accepts(grammar, "absorption: zero_order; elimination: mm")
    assert not accepts(grammar, "absorption: zero_order; elimination: quadratic")
    assert not accepts(grammar, "elimination: mm; absorption: zero_order")
    assert not accepts(grammar, "absorption: zero_order")


def test_mechanism_grammar_with_several_families_accepts_either():
    grammar = mechanism_grammar([{"growth_law": ["logistic", "gompertz"], "loss": ["none"]},
                                 {"progression": ["linear", "exp"]}])
    check_grammar(grammar)
    assert accepts(grammar, "growth_law: gompertz; loss: none")
    assert accepts(grammar, "progression: exp")
    assert not accepts(grammar, "growth_law: gompertz; progression: exp")


def test_mechanism_line_checks_lengths():
    assert mechanism_line(["a", "b"], ["x", "y"]) == "a: x; b: y"
    with pytest.raises(ValueError, match="categories"):
        mechanism_line(["a"], ["x", "y"])


@pytest.mark.parametrize("bad", [{}, {"a": []}, {"a b": ["x"]}, {"a": ['x" | "y']}, {"a": ["\u0430"]}])
def test_mechanism_grammar_rejects_bad_names(bad):
    with pytest.raises(ValueError):
        mechanism_grammar(bad)


# ----------------------------------------------------------------------------------------------- expression
@pytest.mark.parametrize("name", BENCHMARK_NAMES)
def test_expression_grammar_of_each_benchmark_compiles(name):
    bp = benchmark_problem(name, with_data=False)
    grammar = expression_grammar(bp.problem.state_names, extra_states=("peripheral",))
    xgrammar.Grammar.from_ebnf(grammar)
    check_grammar(grammar)


GOOD = [
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - Vmax*central/(Km + central)",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - CL/V*central - Q*central + Q2*peripheral\n"
    "d(peripheral)/dt = Q*central - Q2*peripheral",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - Emax*central^n/(EC50^n + central^n)",
    "d(depot)/dt = -ka*exp(-k*t)*depot\nd(central)/dt = ka*depot - ke*central/sqrt(1 + central)",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - k*central^(0.5) - k2*central^(2/3)",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central*(1 - central/K)",
]


@pytest.mark.parametrize("text", GOOD)
def test_expression_grammar_accepts_model_texts_and_they_parse(text):
    bp = benchmark_problem("theophylline", with_data=False)
    grammar = expression_grammar(bp.problem.state_names, extra_states=("peripheral",))
    assert accepts(grammar, text)
    parsed = parse_equations(text, bp.problem, allow_extra_states=("peripheral",))
    assert parsed.ok, parsed.reason


BAD = [
    "d(depot)/dt = -ka*depot",  # a state is missing
    "d(central)/dt = ka*depot\nd(depot)/dt = -ka*depot",  # wrong order
    "d(depot)/dt = -ka*depot\nd(central)/dt = __import__('os').system('x')",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka.__class__",
    "d(depot)/dt = -ka*depot\nd(central)/dt = lambda: 1",
    "d(depot)/dt = -ka*depot\nd(central)/dt = sin(central)",  # not an offered function
    "d(depot)/dt = -ka*depot\nd(central)/dt = 10**10**10",
    "d(depot)/dt = -ka*depot\nd(central)/dt = central^99",
    "d(depot)/dt = -ka*depot\nd(central)/dt = averyveryverylongname*central",
    "d(depot)/dt = -ka*depot\nd(central)/dt = k\u0430*central",
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot\nd(other)/dt = -k*other",  # unknown extra state
    "d(depot)/dt = -7.93\nd(central)/dt = 0.0942",  # constants copied from the data summary
    "d(depot)/dt = -ka\nd(central)/dt = ka*depot",  # a term without a factor
    "d(depot)/dt = -12.5*depot\nd(central)/dt = ka*depot",  # multi-digit numbers
    "d(depot)/dt = -ka*central\nd(central)/dt = ka*depot",  # a loss term without its own state
]


@pytest.mark.parametrize("text", BAD)
def test_expression_grammar_rejects_hostile_or_malformed_texts(text):
    grammar = expression_grammar(("depot", "central"), extra_states=("peripheral",))
    assert not accepts(grammar, text)


def test_expression_grammar_bounds_nesting():
    grammar = expression_grammar(("x",))
    assert accepts(grammar, "d(x)/dt = -k*(a + b*(c + x))*x")
    assert not accepts(grammar, "d(x)/dt = -k*(a + b*(c + (d + x)))*x")


@pytest.mark.parametrize("kwargs, match", [
    (dict(states=()), "at least one"),
    (dict(states=("x", "x")), "duplicate"),
    (dict(states=("x y",)), "identifier"),
    (dict(states=("x",), functions=("eval",)), "function"),
    (dict(states=("x",), functions=("min",)), "function"),
    (dict(states=("x",), max_terms=0), "max_terms"),
])
def test_expression_grammar_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expression_grammar(**kwargs)


def test_check_grammar_reports_invalid_ebnf():
    with pytest.raises(ValueError, match="invalid EBNF"):
        check_grammar('root ::= "a" undefined_rule')


def test_parameter_vocabulary_limits_names():
    grammar = expression_grammar(("depot", "central"), parameters=("ka", "ke", "Vmax", "Km"))
    check_grammar(grammar)
    assert accepts(grammar, "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - Vmax*central/(Km + central)")
    assert accepts(grammar, "d(depot)/dt = -k1*depot\nd(central)/dt = k1*depot - k12*central")
    assert not accepts(grammar, "d(depot)/dt = -dVmax*depot\nd(central)/dt = ka*depot")
    assert not accepts(grammar, "d(depot)/dt = -kappa*depot\nd(central)/dt = ka*depot")
    with pytest.raises(ValueError, match="parameter name"):
        expression_grammar(("x",), parameters=('k" | "evil',))


def test_added_states_exchange_by_mass_action_flows():
    grammar = expression_grammar(("central",), extra_states=("peripheral",))
    assert accepts(grammar, "d(central)/dt = k21*peripheral - k12*central\nd(peripheral)/dt = k12*central - "
                            "k21*peripheral")
    assert accepts(grammar, "d(central)/dt = -ke*central")  # the added state is optional
    assert not accepts(grammar, "d(central)/dt = -ke*central\nd(peripheral)/dt = exp(central) - k*peripheral")
    assert not accepts(grammar, "d(central)/dt = -ke*central\nd(peripheral)/dt = -k*central")
