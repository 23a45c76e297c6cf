"""``discover`` end to end with real screening and NUTS fits (tiny budget; linear structures, exact solution path),
and screening of structures that explode or produce NaN."""

from __future__ import annotations

import math

import pytest

from cohortode import ODEModel
from cohortode.discover import Budget, FitSettings, SerialExecutor, discover, screen_structure
from cohortode.propose._benchmark_problems import benchmark_problem

TINY = FitSettings(screen_starts=2, screen_draws=200, num_warmup=60, num_samples=60, num_chains=2)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def theophylline():
    return benchmark_problem("theophylline").problem


def test_discover_theophylline_tiny_budget(theophylline, tmp_path):
    budget = Budget(rounds=1, candidates_per_round=1, top_k=1, max_final=1, elpd_margin=0.0)
    result = discover(theophylline.data, theophylline, llm=False, budget=budget, fit_settings=TINY, seed=0,
                      run_dir=tmp_path / "run", executor=SerialExecutor(), progress=False)
    cands = result.candidates()
    scored = cands[cands["status"] == "scored"]
    assert len(scored) >= 1 and scored["elpd_loo"].map(math.isfinite).all()
    assert (cands.loc[cands["status"] == "rejected", "reason"].str.len() > 0).all()
    table = result.table()
    assert len(table) == 1 and table["weight_stacking"].iloc[0] == pytest.approx(1.0)
    assert table["name"].iloc[0] == scored.sort_values("elpd_loo")["structure_hash"].iloc[-1]
    assert result.timings["screen"] > 0 and result.timings["nuts"] > 0
    assert result.stopped == "rounds"
    assert result.ensemble is not None and [m.weight for m in result.ensemble.members] == pytest.approx([1.0])
    assert (tmp_path / "run" / "structures" / table["name"].iloc[0] / "fit").is_dir()


def test_exploding_structure_is_a_result_not_a_crash(theophylline):
    model = ODEModel(["depot", "central"], {"depot": "-ka*depot", "central": "ka*depot + g*central**3"},
                     {"conc": "central/V"})
    result = screen_structure(model, theophylline.data, settings=TINY, seed=0)
    assert result.status in ("scored", "rejected")
    if result.status == "rejected":
        assert result.reason
    else:
        assert math.isfinite(result.elpd_loo)


def test_chains_spread_over_the_pool_give_the_serial_table(theophylline, tmp_path):
    """On a pool of two fresh interpreters each finalist's fit is a start task and one task per chain; the events
    say so, and the table and the draws equal those of the serial executor, which runs each fit in one task."""
    import json

    import numpy as np
    import pandas as pd

    from cohortode.discover import default_executor

    budget = Budget(rounds=1, candidates_per_round=2, top_k=2, max_final=2, elpd_margin=0.0, occam=False)

    def run(executor, name):
        return discover(theophylline.data, theophylline, llm=False, budget=budget, fit_settings=TINY, seed=0,
                        run_dir=tmp_path / name, executor=executor, progress=False)

    serial = run(SerialExecutor(), "serial")
    pool = default_executor(2)
    try:
        pooled = run(pool, "pool")
    finally:
        pool.shutdown(wait=True)
    assert len(pooled.posteriors) == 2
    pd.testing.assert_frame_equal(serial.table(), pooled.table(), rtol=1e-6)
    for h, fit in pooled.posteriors.items():
        for name in fit.model.parameter_names:
            np.testing.assert_allclose(fit.draws(name), serial.posteriors[h].draws(name), rtol=1e-6)
    events = [json.loads(line) for line in (tmp_path / "pool" / "events.jsonl").read_text().splitlines()]
    fitted = [e for e in events if e["event"] == "fitted"]
    assert len(fitted) == 2 and all(e["seconds"] > 0 for e in fitted)
    started = [e for e in events if e["event"] == "nuts_started"]
    assert sorted(e["structure_hash"] for e in started) == sorted(e["structure_hash"] for e in fitted)
    assert all(e["chains"] == TINY.num_chains for e in started)
    serial_events = [json.loads(line) for line in (tmp_path / "serial" / "events.jsonl").read_text().splitlines()]
    assert not [e for e in serial_events if e["event"] == "nuts_started"]  # one task per fit there
