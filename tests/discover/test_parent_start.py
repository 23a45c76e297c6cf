"""Mutations start from their parent's optimum: the parent's hash travels with the candidate, the loop passes the
parent's fitted point as ``init``, and on a nested pair the child ends no worse than the parent."""

from __future__ import annotations

import pytest

from cohortode.discover import Budget, FitSettings, SerialExecutor, discover, screen_structure
from cohortode.discover._parent_start import SWITCHED_OFF, parent_starts, switch_off_parameters
from cohortode.propose._benchmark_problems import benchmark_problem
from cohortode.propose._feedback import model_from_equations

from . import _fakes

ONECOMP = _fakes.ONECOMP
TWOCOMP = ("d(depot)/dt = -ka*depot; d(central)/dt = ka*depot - k*central - k12*central + k21*peripheral; "
           "d(peripheral)/dt = k12*central - k21*peripheral; conc = central/V")
NESTED_M2LL_TOLERANCE = 0.1
"""The child's maximised -2 log L may exceed its parent's by at most this much on a nested pair."""


@pytest.fixture(scope="module")
def theophylline():
    return benchmark_problem("theophylline").problem


@pytest.mark.parametrize("child, off", [
    (TWOCOMP, ("k12",)),
    ("d(depot)/dt = -ka*depot - kd*depot; d(central)/dt = ka*depot - k*central; conc = central/V", ("kd",)),
    ("d(depot)/dt = -ka*depot; d(central)/dt = ka*depot - Vmax*central/(Km + central); conc = central/V", None),
    ("d(depot)/dt = -ka*depot; d(central)/dt = ka*depot; conc = central/V", None),  # removed term: parent nests child
])
def test_switch_off_parameters(child, off):
    assert switch_off_parameters(model_from_equations(child), model_from_equations(ONECOMP)) == off


GROWTH = "d(size)/dt = r*size; size = size; size(0) = size0"
LOGISTIC = "d(size)/dt = r*size*(1 - size/K); size = size; size(0) = size0"


def test_a_capacity_switches_off_at_infinity(theophylline):
    parent, child = model_from_equations(GROWTH), model_from_equations(LOGISTIC)
    assert switch_off_parameters(child, parent) is None
    assert switch_off_parameters(child, parent, at="infinity") == ("K",)
    assert switch_off_parameters(model_from_equations(TWOCOMP), model_from_equations(ONECOMP), at="infinity") is None
    point = {"r": 0.1, "size0": 40.0}
    (start,) = parent_starts(child, parent, [point], theophylline.data)
    assert start["K"] > 1e4  # its prior median (the state scale: the mean dose, 4.6) / SWITCHED_OFF: capacity off
    with pytest.raises(ValueError, match="at must be"):
        switch_off_parameters(child, parent, at="one")


def test_parent_starts_switch_the_extension_off(theophylline):
    parent, child = model_from_equations(ONECOMP), model_from_equations(TWOCOMP)
    point = {"ka": 1.5, "k": 0.08, "V": 0.5, "omega_k": 0.2, "sigma_prop": 0.1}
    (start,) = parent_starts(child, parent, [point], theophylline.data)
    assert {k: start[k] for k in point} == point
    assert 0 < start["k12"] < 10 * SWITCHED_OFF * 10.0  # near zero (prior medians of rates are O(1))
    assert "k21" not in start  # takes its prior median inside fit


def test_mutations_record_their_parent_and_start_from_its_optimum(theophylline, monkeypatch):
    _fakes.patch(monkeypatch)
    _fakes.INITS.clear()
    budget = Budget(rounds=2, candidates_per_round=4, candidates=8, patience=2, top_k=1, elpd_margin=0.0)
    result = discover(theophylline.data, theophylline, llm=_fakes.ScriptedLLM([[ONECOMP]]), budget=budget, seed=3,
                      executor=SerialExecutor(), progress=False)
    cands = result.candidates()
    mutants = cands[(cands["source"] == "mutation") & (cands["status"] == "scored")]
    assert len(mutants) >= 1
    scored = set(cands.loc[cands["status"] == "scored", "structure_hash"])
    for _, row in mutants.iterrows():
        assert row["parent"] in scored and row["round"] == 1
        assert row["started_from_parent"]
        parent_model = result.models[row["parent"]]
        starts = _fakes.INITS[row["structure_hash"]]
        fake_map = {p: 1.0 + 0.1 * i for i, p in enumerate(parent_model.parameter_names)}
        assert {k: starts[0][k] for k in fake_map} == fake_map
    others = cands[(cands["source"] != "mutation") & (cands["status"] == "scored")]
    assert not others["started_from_parent"].any()
    assert all(_fakes.INITS[h] is None for h in others["structure_hash"])


def test_at_bound_is_recorded_and_fed_back(theophylline, monkeypatch):
    from cohortode.discover._feedback import build_feedback

    _fakes.patch(monkeypatch)
    budget = Budget(rounds=1, candidates_per_round=8, candidates=8, top_k=1, elpd_margin=0.0)
    result = discover(theophylline.data, theophylline, llm=False, budget=budget, seed=3, executor=SerialExecutor(),
                      progress=False)
    cands = result.candidates()
    four = cands[(cands["n_parameters"] == 4) & (cands["status"] == "scored")]
    assert len(four) >= 1 and four["at_bound"].str.endswith("(lower)").all()
    h = four["structure_hash"].iloc[0]
    screens = {h: _fakes.fake_screen(result.models[h], None, settings=None, seed=0)}
    feedback = build_feedback([], screens, result.models)
    assert any("sits at its lower bound" in d for d in feedback.best[0].diagnostics)


@pytest.mark.slow
def test_nested_child_started_at_parent_ends_no_worse(theophylline):
    """Real screening fits (about a minute on two busy cores): the two-compartment child of the one-compartment
    parent, started from the parent's optimum, reaches a maximised likelihood at least the parent's (within
    NESTED_M2LL_TOLERANCE in -2 log L), with the default sigma-point engine."""
    settings = FitSettings(screen_starts=2, screen_draws=50)
    data = theophylline.data
    parent, child = model_from_equations(ONECOMP), model_from_equations(TWOCOMP)
    rp = screen_structure(parent, data, settings=settings, seed=0)
    assert rp.scored, rp.reason
    init = parent_starts(child, parent, [rp.map_values, rp.max_likelihood_values], data)
    rc = screen_structure(child, data, settings=settings, seed=0, init=init)
    assert rc.scored, rc.reason
    assert rc.starts[:2] == ["init 0", "init 1"]
    assert -2 * rc.max_log_likelihood <= -2 * rp.max_log_likelihood + NESTED_M2LL_TOLERANCE
