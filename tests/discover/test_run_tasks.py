"""``run_tasks`` with ``restart``: a late task is abandoned, and neither a task still in flight nor a result already
computed (but not yet collected) is run again; the pool is replaced only when every worker holds a late task, or at
the end. Threads stand in for the process pool's workers (the real pool: ``test_timeout.py``, marked slow)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cohortode.discover import _executor
from cohortode.discover._executor import run_tasks

from . import _slow_tasks

TIMEOUT = 2.0
"""Seconds a task may take. With two workers: ``hung`` runs from 0 for ever, ``short`` from 0 to 0.3 T, ``other``
from 0.3 T to 1.2 T, past the deadline of ``hung`` (T) and within its own (1.3 T)."""
LAG = 1.0
"""Seconds the coordinator stalls after a ``wait`` that found nothing finished, in the lagging variant: ``wait``
returns at the deadline of ``hung`` and ``other`` finishes before the late task is found (finished, uncollected)."""


def _hang(release: threading.Event) -> None:
    release.wait(60)


def _run(tmp_path: Path, workers: int, tasks_after: int = 1) -> tuple[dict, list, Path]:
    release = threading.Event()
    runs = tmp_path / "runs.txt"
    made: list[ThreadPoolExecutor] = []

    def restart():
        made.append(ThreadPoolExecutor(max_workers=workers))
        return made[-1]

    done, on_done = _slow_tasks.collector()

    tasks = [("hung", _hang, {"release": release}),
             ("short", _slow_tasks.counted, {"x": 0, "seconds": 0.3 * TIMEOUT, "runs": str(runs)}),
             ("other", _slow_tasks.counted, {"x": 1, "seconds": 0.9 * TIMEOUT, "runs": str(runs)}),
             *((f"after{i}", _slow_tasks.counted, {"x": 2 + i, "seconds": 0.0, "runs": str(runs)})
               for i in range(tasks_after))]
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        final = run_tasks(pool, tasks, on_done, timeout=TIMEOUT, restart=restart)
    finally:
        release.set()
    for executor in (pool, *made):
        executor.shutdown(wait=True)
    assert final is made[-1], "the pool in use at the end is the one made last"
    return done, made, runs


@pytest.mark.parametrize("lag", [0.0, LAG], ids=["in flight", "finished but uncollected"])
def test_a_timeout_reruns_neither_a_task_in_flight_nor_a_finished_one(tmp_path, monkeypatch, lag):
    real_wait = _executor.wait

    def lagging_wait(*args, **kwargs):
        out = real_wait(*args, **kwargs)
        if not out.done:
            time.sleep(lag)
        return out

    monkeypatch.setattr(_executor, "wait", lagging_wait)
    done, made, runs = _run(tmp_path, workers=2)
    assert done == {"hung": f"timeout after {TIMEOUT:g} s", "short": 0, "other": 1, "after0": 2}
    assert sorted(runs.read_text().split()) == ["0", "1", "2"], "a task ran twice"
    assert len(made) == 1, "the pool holding the late task is replaced once, at the end"


def test_the_pool_is_replaced_when_every_worker_holds_a_late_task(tmp_path):
    done, made, runs = _run(tmp_path, workers=1, tasks_after=0)
    assert done == {"hung": f"timeout after {TIMEOUT:g} s", "short": 0, "other": 1}
    assert runs.read_text().split() == ["0", "1"]
    assert len(made) == 1


def _double(x):
    return 2 * x


def test_on_done_may_add_tasks_which_run_first_and_skip_drops_queued_ones():
    """A finished task unlocks others (they run before the tasks not yet begun); ``skip`` drops queued tasks."""
    order = []

    def on_done(key, future):
        order.append((key, future.result()))
        if key == "start":
            return [(("chain", i), _double, {"x": i}) for i in range(3)]
        return None

    with ThreadPoolExecutor(1) as pool:
        run_tasks(pool, [("start", _double, {"x": 10}), ("later", _double, {"x": 5})], on_done,
                  skip=lambda key: key == ("chain", 1))
    assert order == [("start", 20), (("chain", 0), 0), (("chain", 2), 4), ("later", 10)]


def test_a_task_may_carry_its_own_timeout():
    release = threading.Event()
    done, on_done = _slow_tasks.collector()

    pool = ThreadPoolExecutor(2)
    try:
        start = time.perf_counter()
        run_tasks(pool, [("hung", _hang, {"release": release}, 0.3), ("quick", _double, {"x": 1})], on_done,
                  timeout=60.0)
        assert done == {"hung": "timeout after 0.3 s", "quick": 2}
        assert time.perf_counter() - start < 30
        with pytest.raises(ValueError, match="timeout"):
            run_tasks(pool, [("bad", _double, {"x": 1}, 0)], on_done)
    finally:
        release.set()
        pool.shutdown(wait=True)
