"""Which screened structures get a NUTS fit: Occam's window, then the best ``top_k`` and those within the margin;
and the next ones when every such fit fails."""

from __future__ import annotations

import math
from concurrent.futures import Executor, Future

import pytest

from cohortode.discover import Budget, FitSettings, discover
from cohortode.discover._loop import occams_window
from cohortode.discover._screen import ScreenResult
from cohortode.propose._benchmark_problems import benchmark_problem

from . import _fakes


def _screen(name: str, n_parameters: int, elpd: float, bic: float = math.nan) -> ScreenResult:
    return ScreenResult(name, "scored", elpd_loo=elpd, n_parameters=n_parameters, bic=bic)


def _names(results) -> list[str]:
    return [s.structure_hash for s in results]


def test_occams_window_on_a_theophylline_screen():
    # one discovery run on theophylline: (approximate elpd, sites of the screened posterior, BIC), best elpd first
    scored = [_screen("3cpt+linear+mm", 20, -10.30, 60.28), _screen("transit1", 10, -10.38, 34.47),
              _screen("3cpt(caternary)+mm", 20, -10.66, 60.82), _screen("transit3", 10, -10.80, 33.91),
              _screen("2cpt", 12, -11.38, 41.47), _screen("3cpt", 16, -11.75, 51.08),
              _screen("1cpt", 8, -11.86, 31.96), _screen("1cpt+linear+mm", 12, -12.91, 42.39)]
    # BIC odds below 1/20 (BIC more than 6.0 above 31.96) leave out both three-compartment structures with
    # Michaelis-Menten elimination, though their approximate elpd is the highest, and the other 12+ site ones
    assert _names(occams_window(scored)) == ["transit1", "transit3", "1cpt"]
    assert _names(occams_window(scored, odds=1e9)) == ["3cpt+linear+mm", "transit1", "transit3", "1cpt"]


def test_occams_window_drops_structures_that_a_simpler_one_beats():
    scored = [_screen("transit3", 4, -10.59), _screen("linear+mm", 5, -11.02), _screen("transit1", 4, -11.59),
              _screen("1cpt", 3, -11.86), _screen("mm", 4, -12.01), _screen("2cpt", 5, -12.05)]
    # no BIC: rule (2) alone. Every 5-parameter structure loses to transit3; transit1 ties it on parameters
    assert _names(occams_window(scored)) == ["transit3", "transit1", "1cpt"]


def test_occams_window_keeps_a_bigger_structure_that_predicts_better():
    scored = [_screen("2cpt", 5, -3.0, 20.0), _screen("1cpt", 3, -8.0, 24.0), _screen("1cpt+mm", 4, -9.0, 27.0)]
    assert _names(occams_window(scored)) == ["2cpt", "1cpt"]
    assert occams_window([]) == []


def test_budget_checks_occam():
    assert Budget().occam is True and Budget().occam_odds == 20.0
    with pytest.raises(ValueError, match="occam"):
        Budget(occam="yes")
    with pytest.raises(ValueError, match="occam_odds"):
        Budget(occam_odds=1.0)
    assert Budget().occam_floor == 2.0
    with pytest.raises(ValueError, match="occam_floor"):
        Budget(occam_floor=-1.0)


class _FirstNutsHang(Executor):
    """Runs tasks at once, except the first ``n`` final NUTS fits, which never end."""

    def __init__(self, n: int):
        self.n = n
        self.hung: list[str] = []

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        if fn is _fakes.fake_nuts and len(self.hung) < self.n:
            self.hung.append(kwargs["model"].structure_hash)
            return future  # never finishes
        future.set_result(fn(*args, **kwargs))
        return future


def test_when_every_finalist_fails_the_next_structures_are_fitted(monkeypatch, caplog):
    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    executor = _FirstNutsHang(1)
    budget = Budget(rounds=1, candidates_per_round=6, top_k=1, elpd_margin=0.0)
    with caplog.at_level("WARNING", logger="cohortode.discover"):
        result = discover(problem.data, problem, llm=False, budget=budget, fit_settings=FitSettings(nuts_timeout=0.5),
                          seed=3, executor=executor, progress=False)
    assert len(executor.hung) == 1
    table = result.table()
    assert len(table) == 1 and table["name"].iloc[0] != executor.hung[0]
    cands = result.candidates().drop_duplicates("structure_hash").set_index("structure_hash")
    assert cands.loc[executor.hung[0], "status"] == "fit failed"
    assert "every NUTS fit failed; fitting the next 1 structures" in caplog.text
