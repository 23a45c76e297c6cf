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
