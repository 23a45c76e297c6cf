"""Parsing language-model output: good texts become models; hostile or broken texts are rejected with a reason,
execute nothing and cannot hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cohortode.propose._benchmark_problems import benchmark_problem
from cohortode.propose._parse_output import (
    MAX_OUTPUT_CHARS,
    clean_lines,
    parse_equations,
    parse_mechanism,
)
from cohortode.propose.motifs import default_library


@pytest.fixture(scope="module")
def oral():
    return benchmark_problem("theophylline", with_data=False).problem


@pytest.fixture(scope="module")
def sir():
    return benchmark_problem("sir_outbreak", with_data=False).problem


# --------------------------------------------------------------------------------------------- good output
@pytest.mark.parametrize("text", [
    "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central",
    "ddepot/dt = -ka*depot\ndcentral/dt = ka*depot - ke*central",
    "depot' = -ka*depot\ncentral' = ka*depot - ke*central",
    "```\nd(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central\n```",
    "```text\n- d(depot)/dt = -ka*depot;\n- d(central)/dt = ka*depot - ke*central;\n```",
    "Here is the model:\n1. d(depot)/dt = -ka*depot\n2. d(central)/dt = ka*depot - ke*central\nconc = central/V\n",
    "$d(depot)/dt = -ka*depot$\n$d(central)/dt = ka*depot - ke*central$",
    "d( depot ) / dt = -ka * depot\nd(central)/dt=ka*depot-ke*central",
])
def test_equivalent_spellings_give_the_same_structure(oral, text):
    parsed = parse_equations(text, oral)
    assert parsed.ok, parsed.reason
    reference = parse_equations("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central", oral).model
    assert parsed.model.structure_hash == reference.structure_hash
    assert parsed.model.observables == reference.observables
    assert parsed.text.splitlines()[0].startswith("d(depot)/dt = ")


def test_problem_observables_initial_values_and_power_caret(sir):
    text = "d(S)/dt = -beta*S*I/N\nd(I)/dt = beta*S*I/N - gamma*I\nd(R)/dt = gamma*I"
    parsed = parse_equations(text, sir)
    assert parsed.ok, parsed.reason
    assert set(parsed.model.parameter_names) == {"N", "beta", "gamma"}
    assert str(parsed.model.initial["S"]) == "N - 1"
    assert str(parsed.model.observables["infected"]) == "I"
    hill = parse_equations("d(S)/dt = -b*S^n/(K^n + S^n)\nd(I)/dt = b*S - g*I\nd(R)/dt = g*I", sir)
    assert hill.ok, hill.reason


def test_extra_states_are_added_when_allowed(oral):
    text = ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - k12*central + k21*peripheral - ke*central\n"
            "d(peripheral)/dt = k12*central - k21*peripheral")
    parsed = parse_equations(text, oral, allow_extra_states=("peripheral",))
    assert parsed.ok and parsed.model.states == ("depot", "central", "peripheral")
    assert "may not be added" in parse_equations(text, oral, allow_extra_states=("effect",)).reason
    assert "unknown state" in parse_equations(text, oral, allow_extra_states=False).reason


# ----------------------------------------------------------------------------------------- rejected output
HOSTILE = [
    ("d(depot)/dt = -ka*depot\nd(central)/dt = __import__('os').system('touch pwned')", "not allowed"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ().__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = (lambda: __import__('os').system('touch pwned'))()", ""),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = exp(10**10**10)", "too large"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = 9**9**9**9", ""),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = eval('1')", "not allowed"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = gamma_fn(central)", "not allowed"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = open('pwned', 'w')", "not allowed"),
    ("d(depot)/dt = -k\u0430*depot\nd(central)/dt = ka*depot - ke*central", "non-ASCII"),
    ("d(depot)/dt = -ka*depot\nd(centr\u0430l)/dt = ka*depot - ke*central", "non-ASCII"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central\nd(central)/dt = 0", "two equations"),
    ("d(depot)/dt = -ka*depot", "no equation for state"),
    ("The model is a one-compartment model.", "no equation"),
    ("", "no equation"),
    ("d(depot)/dt = \nd(central)/dt = ka*depot", "no right-hand side"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - (((((", "not a valid expression"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - x" + "+x" * 3000, "too long"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = " + "sqrt(" * 100 + "x" + ")" * 100, "too deeply"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - " + "a" * 40 + "*central", "longer than"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot\nd(t)/dt = 1", "reserved"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot\nd(exp)/dt = 1", "reserved"),
    ("d(depot)/dt = -ka*depot\nd(central)/dt = log(0*central)", "not a valid model"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text, reason", HOSTILE)
def test_hostile_or_broken_output_is_rejected_with_a_reason_and_runs_nothing(oral, tmp_path, monkeypatch, text,
                                                                            reason):
    monkeypatch.chdir(tmp_path)
    parsed = parse_equations(text, oral)
    assert not parsed.ok
    assert parsed.model is None
    assert parsed.reason
    assert reason in parsed.reason
    assert not Path("pwned").exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.timeout(10)
def test_huge_outputs_are_rejected_at_once(oral, sir):
    for size in (MAX_OUTPUT_CHARS + 1, 100_000, 5_000_000):
        text = ("d(depot)/dt = -ka*depot\n" * (size // 24 + 1))[:size]
        parsed = parse_equations(text, oral)
        assert not parsed.ok and "too long" in parsed.reason
        assert "too long" in parse_mechanism(text, default_library().categories(sir)).reason


@pytest.mark.timeout(10)
def test_pathological_but_short_outputs_finish(oral):
    texts = [
        "d(" * 5000,
        "d(depot)/dt = " + "-" * 3000 + "x\nd(central)/dt = x",
        "\n" * 19_000 + "d(depot)/dt = -k*depot",
        "d(depot)/dt = " + "exp(" * 30 + "depot" + ")" * 30 + "\nd(central)/dt = ka*depot",
        "d(depot)/dt = " + "((" * 1000 + "\nd(central)/dt = ka*depot",
        ("x" * 1999 + "/dt = 1\n") * 9,
        "d(depot)/dt = -ka*depot\nd(central)/dt = ((((central^16)^16)^16)^16)^16",
        "$" * 19_000 + "x",
        "a:" * 9_000,
        "d(x)/dt=" + "(" * 19_000,
    ]
    for text in texts:
        parsed = parse_equations(text, oral)
        assert not parsed.ok and parsed.reason


def test_non_string_output_is_rejected(oral):
    assert "expected text" in parse_equations(None, oral).reason  # type: ignore[arg-type]


def test_clean_lines_strips_markup():
    text = "```python\n* d(x)/dt = -k*x;\n  2) y = 1\n> quoted\n```\n"
    assert clean_lines(text) == ["d(x)/dt = -k*x", "y = 1", "quoted"]


# ------------------------------------------------------------------------------------------------ mechanisms
@pytest.fixture(scope="module")
def oral_categories(oral):
    return default_library().categories(oral)


@pytest.mark.parametrize("text", [
    "absorption: first_order_absorption; distribution: one_compartment; elimination: linear_elimination",
    "first_order_absorption, one_compartment, linear_elimination",
    "```\nabsorption: first_order_absorption\ndistribution: one_compartment\nelimination: linear_elimination\n```",
    "- Absorption: `first_order_absorption`\n- Distribution: one_compartment.\n- Elimination: linear_elimination",
])
def test_mechanism_lines_parse(oral_categories, text):
    parsed = parse_mechanism(text, oral_categories)
    assert parsed.ok, parsed.reason
    assert parsed.choice == ("first_order_absorption", "one_compartment", "linear_elimination")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text, reason", [
    ("absorption: first_order_absorption; distribution: one_compartment; elimination: quadratic_elimination",
     "unknown block"),
    ("absorption: first_order_absorption; distribution: one_compartment", "no block chosen"),
    ("absorption: one_compartment; distribution: one_compartment; elimination: linear_elimination", "belongs to"),
    ("absorption: first_order_absorption; distribution: one_compartment; distribution: two_compartment; "
     "elimination: linear_elimination", "two blocks"),
    ("absorption: first_order_\u0430bsorption; distribution: one_compartment; elimination: linear_elimination",
     "non-ASCII"),
    ("__import__('os').system('touch pwned')", "no block chosen"),
    ("", "no block chosen"),
])
def test_bad_mechanism_lines_are_rejected(oral_categories, tmp_path, monkeypatch, text, reason):
    monkeypatch.chdir(tmp_path)
    parsed = parse_mechanism(text, oral_categories)
    assert not parsed.ok and reason in parsed.reason
    assert not Path("pwned").exists()


def test_mechanism_of_one_of_several_families():
    families = [{"growth_law": ["logistic", "gompertz"], "loss": ["none"]}, {"progression": ["linear"]}]
    assert parse_mechanism("progression: linear", families).choice == ("linear",)
    assert parse_mechanism("growth_law: logistic; loss: none", families).choice == ("logistic", "none")
    assert not parse_mechanism("growth_law: logistic; progression: linear", families).ok
