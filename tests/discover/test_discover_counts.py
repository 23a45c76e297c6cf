"""``discover`` on counts of one population (negative-binomial outbreak counts) with the epidemic motifs: screening,
misfit feedback, NUTS, comparison and the ensemble's count bands, end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cohortode as co
from cohortode.discover import Budget, FitSettings, SerialExecutor, discover
from cohortode.propose import Problem
from cohortode.synthetic_counts import epidemic_model, simulate_counts

pytestmark = pytest.mark.slow

TIMES = tuple(float(t) for t in range(1, 29))


def test_discover_on_outbreak_counts_gives_an_ensemble_with_count_bands():
    truth = epidemic_model("sir", beta=1.2, gamma=0.35, initial_infectious=0.01)
    data = co.CountData(simulate_counts(truth, TIMES, population=500, overdispersion=0.05, seed=2),
                        observation="negative_binomial")
    problem = Problem(name="outbreak", states=("S", "I", "R"), observables={"I": "I"}, data=data,
                      domain="epidemic", initial={"S": "0.99", "I": "0.01"},
                      context="a closed outbreak; daily count of infectious people in a population of 500")
    result = discover(data, problem, llm=False,
                      budget=Budget(rounds=1, candidates_per_round=2, top_k=1, max_final=1, elpd_margin=0.0),
                      fit_settings=FitSettings(screen_starts=2, screen_draws=200, num_warmup=60, num_samples=60,
                                               num_chains=2),
                      executor=SerialExecutor(), progress=False, seed=0)
    cands = result.candidates()
    scored = cands[cands["status"] == "scored"]
    assert len(scored) == 2 and scored["elpd_loo"].map(math.isfinite).all(), cands[["status", "reason"]]
    table = result.table()
    assert len(table) == 1 and table["weight_stacking"].iloc[0] == pytest.approx(1.0)
    pred = result.ensemble.predict(TIMES[::7])
    assert np.isfinite(pred["expected"]).all()
    assert (pred["observed_lower"] <= pred["observed_upper"]).all()
    observed = data.observations.set_index("time")["count"]
    peak = float(observed.max())
    assert pred["expected"].max() == pytest.approx(peak, rel=0.5)
