"""Tests of MotifProposer: untried compositions first, then mutations of the best structures; seeded."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cohortode.propose._candidate import Candidate
from cohortode.propose._feedback import Feedback, ScoredStructure
from cohortode.propose._motif_proposer import MotifProposer
from cohortode.propose._problem import Problem
from cohortode.propose._validate import validate_model
from cohortode.propose.base import Proposer

EXPERT = ("first_order_absorption", "one_compartment", "linear_elimination")


@pytest.fixture(scope="module")
def problem() -> Problem:
    t = np.array([0.25, 0.5, 1, 2, 4, 8, 12, 24.0])
    obs = pd.DataFrame({"cohort": "a", "time": t, "observable": "conc",
                        "mean": 10 * (np.exp(-0.1 * t) - np.exp(-1.5 * t)), "sd": 0.5, "n": 12})
    dosing = pd.DataFrame({"cohort": ["a"], "time": [0.0], "amount": [320.0], "target": ["depot"],
                           "duration": [0.0]})
    data = SimpleNamespace(observations=obs, dosing=dosing, description="oral dose", time_unit="h", units={})
    return Problem.from_cohort(data, states=["depot", "central"], observables={"conc": "central/V"}, domain="pk")


@pytest.fixture(scope="module")
def proposer() -> MotifProposer:
    return MotifProposer()


def test_is_a_proposer_and_checks_arguments():
    assert issubclass(MotifProposer, Proposer)
    with pytest.raises(TypeError):
        Proposer()  # type: ignore[abstract]
    with pytest.raises(ValueError, match="mutation_share"):
        MotifProposer(mutation_share=1.5)
    with pytest.raises(ValueError, match="n_best"):
        MotifProposer(n_best=0)


def test_first_round_proposes_valid_unique_compositions_simplest_first(problem, proposer):
    cands = proposer.propose(problem, k=16, seed=0)
    assert len(cands) == 16
    assert all(isinstance(c, Candidate) and c.source == "motif" and c.status == "valid" for c in cands)
    assert len({c.structure_hash for c in cands}) == 16
    assert cands[0].mechanism == EXPERT
    n_params = [len(c.model.parameters) for c in cands]
    assert n_params == sorted(n_params)
    for c in cands:
        validate_model(c.model, problem)
    assert proposer.propose(problem, k=0) == []


def test_seeded_and_deterministic(problem, proposer):
    a = [c.structure_hash for c in proposer.propose(problem, k=10, seed=4)]
    b = [c.structure_hash for c in MotifProposer().propose(problem, k=10, seed=4)]
    assert a == b
    orders = {tuple(c.structure_hash for c in proposer.propose(problem, k=10, seed=s)) for s in range(6)}
    assert len(orders) > 1  # ties are broken by the seed


def test_tried_structures_are_not_proposed_again(problem, proposer):
    first = proposer.propose(problem, k=12, seed=0)
    # tried given as equation texts (renamed parameters still match) and as canonical texts
    renamed = ["\n".join(c.model.equations()).replace("ka", "kabs") for c in first[:6]]
    canonical = [c.model.canonical() for c in first[6:]]
    second = proposer.propose(problem, Feedback(tried=tuple(renamed + canonical)), k=12, seed=0)
    assert not {c.structure_hash for c in first} & {c.structure_hash for c in second}
    assert all(c.source == "motif" for c in second)


def test_mutations_of_the_best_fill_in_when_compositions_run_out(problem, proposer):
    everything = proposer.propose(problem, k=100, seed=0)
    assert 10 <= len(everything) <= 40 and all(c.source == "motif" for c in everything)
    best = ScoredStructure.from_model(everything[0].model, -50.0, mechanism=everything[0].mechanism)
    worse = ScoredStructure.from_model(everything[1].model, -80.0)
    feedback = Feedback(best=(worse, best), tried=tuple("\n".join(c.model.equations()) for c in everything))
    cands = proposer.propose(problem, feedback, k=6, seed=1)
    assert len(cands) == 6 and all(c.source == "mutation" for c in cands)
    known = {c.structure_hash for c in everything}
    assert len({c.structure_hash for c in cands}) == 6 and not {c.structure_hash for c in cands} & known
    assert "mutation of the structure with elpd_loo -50" in cands[0].description
    for c in cands:
        validate_model(c.model, problem)
    again = proposer.propose(problem, feedback, k=6, seed=1)
    assert [c.structure_hash for c in again] == [c.structure_hash for c in cands]


def test_mutation_share_reserves_slots(problem):
    proposer = MotifProposer(mutation_share=0.5)
    first = proposer.propose(problem, k=4, seed=0)
    assert all(c.source == "motif" for c in first)  # no feedback: nothing to mutate
    feedback = Feedback(best=(ScoredStructure.from_model(first[0].model, -10.0),),
                        tried=tuple(c.model.canonical() for c in first))
    cands = proposer.propose(problem, feedback, k=8, seed=0)
    assert [c.source for c in cands].count("mutation") == 4 and len(cands) == 8
    # alternating, a mutation first: a loop that takes only the first few (the language model filling the rest of a
    # round) still screens mutations; before, the compositions came first and took every slot
    assert [c.source for c in cands[:4]] == ["mutation", "motif", "mutation", "motif"]


def test_proposed_candidates_are_copies(problem, proposer):
    a = proposer.propose(problem, k=2, seed=0)
    a[0].log_prior = -1.0
    assert proposer.propose(problem, k=2, seed=0)[0].log_prior is None


def test_compositions_next_to_the_best_one_come_first(problem, proposer):
    """Once a composition is scored, the untried compositions one block away from it (two compartments, saturable
    elimination, transit absorption next to the one-compartment structure) come before simpler unrelated ones."""
    first = proposer.propose(problem, k=100, seed=0)
    expert = next(c for c in first if c.mechanism == EXPERT)
    others = [c for c in first if c.mechanism != EXPERT]
    # the expert structure is the best; a simpler structure that shares no block with it was tried too
    feedback = Feedback(best=(ScoredStructure.from_model(expert.model, -10.0),
                              ScoredStructure.from_model(others[0].model, -30.0)),
                        tried=("\n".join(expert.model.equations()), "\n".join(others[0].model.equations())))
    cands = [c for c in proposer.propose(problem, feedback, k=100, seed=3) if c.source == "motif"]
    distance = [len(set(c.mechanism) ^ set(EXPERT)) for c in cands]
    assert distance == sorted(distance) and distance[0] == 2
    # without a scored composition the order is by parameters alone
    plain = [c for c in proposer.propose(problem, Feedback(tried=feedback.tried), k=100, seed=3)]
    assert [len(c.model.parameters) for c in plain] == sorted(len(c.model.parameters) for c in plain)


def test_a_richer_structure_that_scores_barely_better_is_mutated_after_the_simpler_one(problem, proposer):
    """The structures mutated first are those the ensemble would keep: a richer structure ahead of a simpler one by
    less than the ensemble's parsimony floor (2, approximate elpd) comes after it; ahead by more, it leads."""
    from cohortode.compare import PARSIMONY_FLOOR
    from cohortode.propose._motif_proposer import PARSIMONY_MARGIN

    assert PARSIMONY_MARGIN == PARSIMONY_FLOOR
    first = proposer.propose(problem, k=100, seed=0)
    simple = next(c for c in first if c.mechanism == EXPERT)
    rich = max(first, key=lambda c: len(c.model.parameters))
    tried = tuple("\n".join(c.model.equations()) for c in first)
    for rich_score, leader in ((-9.5, "-10"), (-8.2, "-10"), (-7.5, "-7.5")):
        feedback = Feedback(best=(ScoredStructure.from_model(simple.model, -10.0),
                                  ScoredStructure.from_model(rich.model, rich_score)), tried=tried)
        cands = proposer.propose(problem, feedback, k=1, seed=0)
        assert cands[0].source == "mutation"
        assert f"mutation of the structure with elpd_loo {leader})" in cands[0].description, cands[0].description
