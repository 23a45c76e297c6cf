"""A screening that runs past ``FitSettings.screen_timeout`` is rejected with "timeout after X s", and the run goes
on: the default process pool ends its workers and starts a fresh one; other executors abandon the task."""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future
from pathlib import Path

import pandas as pd
import pytest

from cohortode.discover import Budget, FitSettings, discover
from cohortode.discover._executor import default_executor, run_tasks
from cohortode.propose._benchmark_problems import benchmark_problem

from . import _fakes, _slow_tasks

POOL_TIMEOUT = 20.0
"""Seconds for the pool test: well above a fresh worker's start (it imports cohortode and JAX) on two busy cores."""


class HangingExecutor(Executor):
    """Runs tasks at once, except screenings (or, with ``stage="nuts"``, final NUTS fits) of structures with
    ``hang_over`` or more parameters, which never end."""

    def __init__(self, hang_over: int, stage: str = "screen"):
        self.hang_over = hang_over
        self.hung = 0
        self.stage = _fakes.fake_screen if stage == "screen" else _fakes.fake_nuts

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        model = kwargs.get("model")
        if fn is self.stage and model is not None and len(model.parameters) >= self.hang_over:
            self.hung += 1
            return future  # never finishes
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_hung_screening_is_rejected_as_a_timeout_and_the_run_goes_on(monkeypatch):
    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    executor = HangingExecutor(hang_over=4)
    start = time.perf_counter()
    result = discover(problem.data, problem, llm=False, budget=Budget(rounds=1, candidates_per_round=6, top_k=1),
                      fit_settings=FitSettings(screen_timeout=0.5), seed=3, executor=executor, progress=False)
    assert time.perf_counter() - start < 60
    cands = result.candidates()
    timed_out = cands[cands["reason"] == "timeout after 0.5 s"]
    assert executor.hung >= 1 and len(timed_out) == executor.hung
    assert (timed_out["status"] == "rejected").all() and (timed_out["n_parameters"] >= 4).all()
    assert (cands["status"] == "scored").any() and not result.table().empty


def test_a_hung_nuts_fit_is_left_out_as_a_timeout_and_the_ensemble_is_made_of_the_others(monkeypatch, tmp_path):
    import json

    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    executor = HangingExecutor(hang_over=4, stage="nuts")
    start = time.perf_counter()
    budget = Budget(rounds=1, candidates_per_round=6, top_k=4, occam=False)  # keep the bigger structures in
    result = discover(problem.data, problem, llm=False, budget=budget,
                      fit_settings=FitSettings(nuts_timeout=0.5), seed=3, executor=executor, progress=False,
                      run_dir=tmp_path / "run")
    assert time.perf_counter() - start < 60
    assert executor.hung >= 1
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["event"] == "fit_failed"]
    assert len(failed) == executor.hung and all(e["reason"] == "timeout after 0.5 s" for e in failed)
    table = result.table()
    assert not table.empty and len(table) == len(result.posteriors)
    assert all(len(result.models[h].parameters) < 4 for h in result.posteriors)


def test_fit_settings_timeouts_are_checked():
    with pytest.raises(ValueError, match="screen_timeout"):
        FitSettings(screen_timeout=0)
    with pytest.raises(ValueError, match="nuts_timeout"):
        FitSettings(nuts_timeout=-1)
    assert FitSettings(screen_timeout=None).screen_timeout is None


@pytest.mark.slow
def test_process_pool_timeout_ends_the_worker_and_carries_on(tmp_path):
    """A real spawn pool of one worker (about a minute, mostly waiting): the task that sleeps past the timeout is
    delivered as TaskTimeout, the pool is replaced, and the next task runs on the fresh pool."""
    pool = default_executor(1)
    made = []

    def restart():
        made.append(default_executor(1))
        return made[-1]

    done, on_done = _slow_tasks.collector()

    tasks = [("first", _slow_tasks.value, {"x": 1}), ("hung", _slow_tasks.sleep_then, {"x": 2, "seconds": 600,
                                                                      "pid_file": str(tmp_path / "pid")}),
             ("after", _slow_tasks.value, {"x": 3})]
    start = time.perf_counter()
    final = run_tasks(pool, tasks, on_done, timeout=POOL_TIMEOUT, restart=restart)
    try:
        assert done == {"first": 1, "hung": f"timeout after {POOL_TIMEOUT:g} s", "after": 3}
        assert len(made) == 1 and final is made[0]
        assert time.perf_counter() - start < 600 / 2
        status = Path(f"/proc/{int((tmp_path / 'pid').read_text())}/status")
        assert not status.exists() or "zombie" in status.read_text(), "the hung worker is still running"
    finally:
        final.shutdown(wait=True)


@pytest.mark.parametrize("stage", ["screen", "nuts"])
def test_a_recorded_timeout_is_a_finished_result_that_resume_reads_back(monkeypatch, tmp_path, stage):
    """A structure whose screening or final NUTS fit timed out is not submitted again when the run is resumed, and
    its status and reason come back in ``candidates()``."""
    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    budget = Budget(rounds=1, candidates_per_round=6, top_k=4, occam=False)
    settings = FitSettings(screen_timeout=0.5) if stage == "screen" else FitSettings(nuts_timeout=0.5)

    def run(executor):
        return discover(problem.data, problem, llm=False, budget=budget, fit_settings=settings, seed=3,
                        executor=executor, progress=False, run_dir=tmp_path / "run")

    first_executor = HangingExecutor(hang_over=4, stage=stage)
    first = run(first_executor)
    assert first_executor.hung >= 1
    calls = dict(_fakes.CALLS)
    again_executor = HangingExecutor(hang_over=4, stage=stage)
    resumed = run(again_executor)
    assert again_executor.hung == 0, "a recorded timeout was submitted again"
    assert _fakes.CALLS == calls, "resuming fitted something again"
    cands = resumed.candidates()
    timed_out = cands[cands["reason"] == "timeout after 0.5 s"]
    assert len(timed_out) == first_executor.hung
    assert (timed_out["status"] == ("rejected" if stage == "screen" else "fit failed")).all()
    pd.testing.assert_frame_equal(cands, first.candidates())
    pd.testing.assert_frame_equal(resumed.table(), first.table())
