"""100 random structures (random kinetic terms, stiff, exploding and NaN-producing ones, and mutations) end as valid
or rejected with a reason at validation; their screening is covered by ``benchmarks/random_candidates.py`` (1,000
structures) and, for an exploding structure, by ``test_discover_real.py``."""

from __future__ import annotations

from cohortode import CandidateRejected
from cohortode.propose import validate_model
from cohortode.propose._benchmark_problems import benchmark_problem
from cohortode.propose._random import random_candidates


def test_hundred_random_candidates_end_valid_or_rejected_with_reason():
    problem = benchmark_problem("logistic_growth").problem
    candidates = random_candidates(problem, 100, seed=1)
    assert len(candidates) == 100 and {c.source for c in candidates} >= {"repair", "mutation"}
    outcomes = {"valid": 0, "rejected": 0}
    for cand in candidates:
        if cand.model is None:
            assert cand.status == "rejected" and cand.reason
            outcomes["rejected"] += 1
            continue
        try:
            validate_model(cand.model, problem)
            outcomes["valid"] += 1
        except CandidateRejected as exc:
            assert exc.reason
            outcomes["rejected"] += 1
    assert outcomes["valid"] >= 10 and outcomes["rejected"] >= 5
