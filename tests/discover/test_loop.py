"""The discovery loop's logic with cheap fake fits and a scripted language model (the real fits are exercised in
``test_discover_real.py``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cohortode.discover import Budget, SerialExecutor, discover
from cohortode.propose._benchmark_problems import benchmark_problem

from . import _fakes

BUDGET = Budget(rounds=3, candidates_per_round=3, candidates=9, patience=3, top_k=2, elpd_margin=0.0)


@pytest.fixture(scope="module")
def problem():
    return benchmark_problem("theophylline").problem


def _run(problem, run_dir=None, llm=None, **kw):
    llm = llm if llm is not None else _fakes.ScriptedLLM([[_fakes.ONECOMP, _fakes.GARBAGE], [_fakes.ZERO_ORDER]])
    return discover(problem.data, problem, llm=llm, budget=kw.pop("budget", BUDGET), seed=3, run_dir=run_dir,
                    executor=kw.pop("executor", SerialExecutor()), progress=False, **kw)


def test_rounds_sources_statuses_and_records(problem, tmp_path, monkeypatch):
    _fakes.patch(monkeypatch)
    result = _run(problem, tmp_path / "run")
    cands = result.candidates()
    assert {"llm-expression", "motif", "mutation"} <= set(cands["source"])
    assert set(cands["status"]) <= {"scored", "rejected", "duplicate", "not screened"}
    rejected = cands[cands["status"] == "rejected"]
    assert (rejected["reason"].str.len() > 0).all()
    assert cands.loc[cands["structure_hash"] != "", "structure_hash"].is_unique or \
        (cands["status"] == "duplicate").any()
    screened = cands[cands["screened"] == True]  # noqa: E712
    assert len(screened) <= BUDGET.candidates
    table = result.table()
    assert 1 <= len(table) <= 2 and table["weight_stacking"].sum() == pytest.approx(1.0)
    assert set(table["name"]) <= set(cands.loc[cands["final"] == True, "structure_hash"])  # noqa: E712
    assert set(result.timings) >= {"llm", "motifs", "validation", "screen", "nuts", "comparison", "total"}
    assert result.llm_log and result.llm_log[0]["responses"]
    events = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    assert any('"screened"' in e for e in events) and any('"finished"' in e for e in events)
    assert (tmp_path / "run" / "settings.json").exists()
    h = table["name"].iloc[0]
    assert (tmp_path / "run" / "structures" / h / "posterior.nc").exists()


def test_the_budget_sets_the_parsimony_rule_of_the_final_comparison(problem, monkeypatch):
    _fakes.patch(monkeypatch)
    budget = Budget(rounds=1, candidates_per_round=2, candidates=2, top_k=2, elpd_margin=0.0, occam_floor=3.5)
    _run(problem, budget=budget)
    assert _fakes.COMPARE_CALLS[-1] == {"parsimony": True, "min_difference": 3.5}
    _run(problem, budget=Budget(rounds=1, candidates_per_round=2, candidates=2, occam=False))
    assert _fakes.COMPARE_CALLS[-1] == {"parsimony": False, "min_difference": 2.0}


def test_same_seed_same_table_and_resume_recomputes_nothing(problem, tmp_path, monkeypatch):
    _fakes.patch(monkeypatch)
    first = _run(problem, tmp_path / "a")
    second = _run(problem, tmp_path / "b")
    pd.testing.assert_frame_equal(first.table(), second.table())
    before = dict(_fakes.CALLS)
    again = _run(problem, tmp_path / "a")
    assert _fakes.CALLS == before, "a finished run resumed must not fit anything again"
    pd.testing.assert_frame_equal(first.table(), again.table())
    with pytest.raises(FileExistsError):
        _run(problem, tmp_path / "a", resume=False)


def test_empty_llm_round_does_not_stop_the_run(problem, monkeypatch, caplog):
    _fakes.patch(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="cohortode.discover"):
        result = _run(problem, llm=_fakes.ScriptedLLM([[], [_fakes.GARBAGE]]))
    assert "proposed nothing valid" in caplog.text
    assert (result.candidates()["status"] == "scored").sum() >= 2
    assert not result.table().empty


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from discover import _fakes
    from cohortode.discover import _screen, _finalize, SerialExecutor, discover
    from cohortode.propose._benchmark_problems import benchmark_problem
    from discover.test_loop import BUDGET

    def dying(model, data, *, settings, seed, init=None):
        if _fakes.CALLS["screen"] == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return _fakes.fake_screen(model, data, settings=settings, seed=seed)

    _screen.screen_structure = dying
    _finalize.nuts_structure = _fakes.fake_nuts
    _finalize.compare_final = _fakes.fake_compare
    problem = benchmark_problem("theophylline").problem
    llm = _fakes.ScriptedLLM([[_fakes.ONECOMP, _fakes.GARBAGE], [_fakes.ZERO_ORDER]])
    discover(problem.data, problem, llm=llm, budget=BUDGET, seed=3, run_dir={run!r}, executor=SerialExecutor(),
             progress=False)
""")


def test_resume_after_sigkill(problem, tmp_path, monkeypatch):
    run = tmp_path / "killed"
    tests = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path])}
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN.format(tests=tests, run=str(run))], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    finished = (run / "events.jsonl").read_text().count('"event": "screened"')
    assert finished == 4
    _fakes.patch(monkeypatch)
    before = _fakes.CALLS["screen"]
    resumed = _run(problem, run)
    reference = _run(problem, tmp_path / "reference")
    n_screened = int((reference.candidates()["screened"] == True).sum())  # noqa: E712
    assert _fakes.CALLS["screen"] - before == 2 * n_screened - finished
    pd.testing.assert_frame_equal(resumed.table(), reference.table())
    pd.testing.assert_frame_equal(resumed.candidates(), reference.candidates())


def test_states_the_library_cannot_map_are_reported_and_the_llm_carries_on(monkeypatch, caplog):
    from cohortode.propose import Problem

    _fakes.patch(monkeypatch)
    data = benchmark_problem("sir_outbreak").problem.data
    problem = Problem.from_cohort(data, states=["S", "I", "C"], observables={"infected": "I"}, domain="epidemic",
                                  initial={"S": "N - 1", "I": "1"})
    sic = "d(S)/dt = -b*S*I/N; d(I)/dt = b*S*I/N - g*I; d(C)/dt = g*I; infected = I; S(0) = N - 1; I(0) = 1"
    llm = _fakes.ScriptedLLM([[sic]])
    with caplog.at_level(logging.WARNING, logger="cohortode.discover"):
        result = discover(data, problem, llm=llm, budget=Budget(rounds=2, candidates_per_round=2), seed=3,
                          executor=SerialExecutor(), progress=False)
    assert "no composition for states ['S', 'I', 'C']" in caplog.text
    cands = result.candidates()
    assert ((cands["round"] == 0) & (cands["status"] == "scored")).sum() == 1  # the LLM's structure
    assert set(cands.loc[cands["round"] == 1, "source"]) <= {"mutation"}  # mutations of it carry on


def test_undeclared_population_size_becomes_the_sum_of_the_states(monkeypatch):
    from cohortode.propose import Problem

    _fakes.patch(monkeypatch)
    data = benchmark_problem("sir_outbreak").problem.data
    problem = Problem.from_cohort(data, states=["S", "I", "R"], observables={"infected": "I"}, domain="epidemic",
                                  initial={"S": "762", "I": "1"})
    sir = "d(S)/dt = -b*S*I/N; d(I)/dt = b*S*I/N - g*I; d(R)/dt = g*I; infected = I; S(0) = 762; I(0) = 1"
    result = discover(data, problem, llm=_fakes.ScriptedLLM([[sir]]), motifs=False,
                      budget=Budget(rounds=1, candidates_per_round=1, top_k=1), seed=3, executor=SerialExecutor(),
                      progress=False)
    row = result.candidates().iloc[0]
    assert row["status"] == "scored" and row["n_parameters"] == 2
    assert "N" not in row["equations"] and "I + R + S" in row["equations"]
    assert "population size the problem does not declare" in row["description"]
