"""Prompts of the LLM proposer: what the problem and the feedback put into them."""

from __future__ import annotations

import pytest

from cohortode.propose import Feedback, ScoredStructure, build_messages
from cohortode.propose._benchmark_problems import BENCHMARK_NAMES, benchmark_problem
from cohortode.propose._grammar import expression_grammar
from cohortode.propose._prompt import (
    build_category_messages,
    build_repair_messages,
    feedback_text,
    format_rhs,
    model_lines,
    problem_text,
)
from cohortode.propose.motifs import default_library
from cohortode.spec import parse_expression


@pytest.fixture(scope="module")
def oral():
    return benchmark_problem("theophylline").problem


@pytest.fixture(scope="module")
def feedback():
    return Feedback(
        best=(ScoredStructure(("d(depot)/dt = -ka*depot", "d(central)/dt = ka*depot - ke*central", "conc = central/V"),
                              -123.456, diagnostics=("predicted conc too low after 12 h", "ka not identified"),
                              mechanism=("first_order_absorption", "one_compartment", "linear_elimination")),
              ScoredStructure(("d(depot)/dt = -ka*depot", "d(central)/dt = ka*depot - Vmax*central/(Km + central)"),
                              -130.0, score_name="elpd_loo")),
        tried=("d(depot)/dt = -k*depot; d(central)/dt = k*depot - k2*central^2",),
        rejected=(("d(central)/dt = exp(exp(central))", "not finite at the test point"),),
    )


def _user(messages):
    assert [m["role"] for m in messages] == ["system", "user"]
    return messages[1]["content"]


def test_problem_text_names_states_observables_units_time_span_dosing_summary_and_context(oral):
    text = problem_text(oral)
    for part in ("depot [mg/kg]: drug amount in the gut", "central [mg/kg]", "conc [mg/L] = central/V",
                 "Time span of the data: 0 to 24 h", "4.626 mg/kg into depot at t = 0 h, bolus", "Data summary:",
                 "peak", "half-life", "Study: 12 adults", "Domain: pk"):
        assert part in text, part
    neutral = problem_text(oral, include_data=False)
    assert "depot [mg/kg]" in neutral and "conc [mg/L] = central/V" in neutral
    for part in ("Study:", "Data summary", "Dosing", "Time span"):
        assert part not in neutral


def test_problems_without_data_or_with_initial_values(oral):
    sir = benchmark_problem("sir_outbreak", with_data=False).problem
    text = problem_text(sir)
    assert "Initial values: S(0) = N - 1, I(0) = 1" in text and "Dosing: none" in text
    assert "Data summary" not in text


@pytest.mark.parametrize("kind", ["mechanism", "expression"])
def test_feedback_changes_the_prompt(oral, feedback, kind):
    cats = default_library().categories(oral)
    plain = _user(build_messages(oral, None, kind=kind, categories=cats))
    with_fb = _user(build_messages(oral, feedback, kind=kind, categories=cats))
    assert plain != with_fb
    for part in ("-123.5", "elpd_loo", "predicted conc too low after 12 h", "ka not identified",
                 "Already tried, do not propose these again", "k2*central^2", "Rejected proposals",
                 "not finite at the test point", "best first"):
        assert part in with_fb, part
        assert part not in plain, part
    assert with_fb.index("-123.5") < with_fb.index("-130")
    if kind == "mechanism":
        assert "mechanism: first_order_absorption, one_compartment, linear_elimination" in with_fb


def test_mechanism_prompt_lists_every_block_with_its_description(oral):
    cats = default_library().categories(oral)
    text = _user(build_messages(oral, kind="mechanism", categories=cats))
    for blocks in cats.values():
        for b in blocks:
            assert f"- {b.name}: {b.description}" in text
    assert "absorption: <block>; distribution: <block>; elimination: <block>" in text
    with pytest.raises(ValueError, match="categories"):
        build_messages(oral, kind="mechanism")
    with pytest.raises(ValueError, match="kind"):
        build_messages(oral, kind="poem")


def test_category_prompt_and_its_neutral_version(oral, feedback):
    blocks = default_library().categories(oral)["elimination"]
    full = _user(build_category_messages(oral, feedback, "elimination", blocks))
    neutral = _user(build_category_messages(oral, feedback, "elimination", blocks, neutral=True))
    assert "which elimination mechanism explains these data best?" in full
    assert "-123.5" in full and "-123.5" not in neutral and "Data summary" not in neutral
    assert full.endswith(neutral.split("\n\n", 2)[-1])  # same question and options


def test_expression_prompt_has_format_example_or_examples(oral):
    text = _user(build_messages(oral, kind="expression", extra_states=("peripheral",)))
    assert "in this order: depot, central" in text and "You may add the state peripheral" in text
    assert "d(A)/dt = -k1*A" in text
    examples = [["d(depot)/dt = -ka*depot", "d(central)/dt = ka*depot - ke*central"]]
    text = _user(build_messages(oral, kind="expression", examples=examples))
    assert "Example 1:\nd(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central" in text
    assert "d(A)/dt" not in text


def test_repair_prompt_quotes_answer_and_reason(oral):
    messages = build_repair_messages(oral, "d(depot)/dt = 7", "no equation for state(s) ['central']")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "d(depot)/dt = 7"
    assert "no equation for state(s) ['central']" in messages[3]["content"]
    cats = default_library().categories(oral)
    mech = build_repair_messages(oral, "absorption: x", "unknown block", kind="mechanism", categories=cats)
    assert "Example of the format: absorption: " in mech[-1]["content"]


def test_prompt_size_is_bounded(oral):
    huge = Feedback(best=tuple(ScoredStructure(("d(x)/dt = " + "x+" * 5000 + "x",), -float(i),
                                               diagnostics=("bad " * 1000,)) for i in range(50)),
                    tried=tuple(f"d(x)/dt = -k{i}*x" + " " * 10_000 for i in range(500)),
                    rejected=tuple(("y" * 100_000, "z" * 100_000) for _ in range(100)))
    text = _user(build_messages(oral, huge, kind="expression"))
    assert len(text) < 20_000
    assert "older ones not shown" in feedback_text(huge)


def test_no_feedback_gives_no_feedback_text():
    assert feedback_text(None) == "" and feedback_text(Feedback()) == ""


@pytest.mark.parametrize("name", BENCHMARK_NAMES)
def test_model_lines_are_equivalent_and_in_the_grammar_style(name):
    pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string

    bp = benchmark_problem(name, with_data=False)
    lib = default_library()
    model = lib.build(bp.problem, bp.expert)
    lines = model_lines(model)
    for line, state in zip(lines, model.states):
        rhs = line.split(" = ", 1)[1]
        assert (parse_expression(rhs) - model.rhs[state]).expand() == 0
    extra = [s for s in model.states if s not in bp.problem.state_names]
    grammar = expression_grammar(bp.problem.state_names, extra_states=extra)
    assert _is_grammar_accept_string(grammar, "\n".join(lines)), lines


def test_format_rhs_puts_gains_first_and_parameters_before_states():
    expr = parse_expression("-central*ke + depot*ka - central*Vmax/(central + Km)")
    assert format_rhs(expr, ("depot", "central")) == "ka*depot - ke*central - Vmax*central/(Km + central)"
    assert format_rhs(parse_expression("size*r*(1 - size/K)"), ("size",)) == "r*size*(1 - size/K)"
