"""Executors for the parallel parts of a discovery: a local pool of fresh interpreters by default, an in-process
serial executor, or any :class:`concurrent.futures.Executor` the user passes (a Dask client's ``get_executor()``)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from typing import Any

__all__ = ["SerialExecutor", "TaskTimeout", "concurrency", "default_executor", "run_tasks", "worker_count"]

log = logging.getLogger("cohortode.discover")


class TaskTimeout(TimeoutError):
    """A task ran past the time it was given (delivered through its future by :func:`run_tasks`)."""


class SerialExecutor(Executor):
    """Runs each task at once in the calling process (debugging, tests, a single core)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # noqa: D102
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as a pool would
            future.set_exception(exc)
        return future


def worker_count() -> int:
    """Workers of the default pool: ``COHORTODE_WORKERS`` if set, else one per core."""
    env = os.environ.get("COHORTODE_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"COHORTODE_WORKERS must be an integer, got {env!r}") from None
    return max(1, os.cpu_count() or 1)


PARENT_CHECK_SECONDS = 1.0
"""How often a pool worker checks that the process that started it is still alive."""


def _init_worker() -> None:
    """A worker runs one task at a time (a screen, a NUTS start, one chain, or a whole NUTS fit with its chains one
    after another), with no nested pools; it ends itself when the process that started it is gone."""
    os.environ["COHORTODE_WORKERS"] = "1"
    _watch_parent(os.getppid())


def _watch_parent(parent: int) -> None:
    """End this process (``os._exit``) once ``parent`` is no longer its parent.

    A discovery killed with SIGKILL cannot end its pool; without this its workers would go on computing the fit they
    hold (up to the NUTS timeout, ten minutes by default) beside the resumed run.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="cohortode-parent-watch", daemon=True).start()


def default_executor(max_workers: int | None = None) -> Executor:
    """A process pool of fresh interpreters (``spawn``), one worker per core unless ``max_workers`` is given.

    Each worker runs one task at a time, so a worker's memory-mapping guard (which clears JAX's caches between fits)
    never runs under another fit.
    """
    return ProcessPoolExecutor(max_workers=max_workers or worker_count(),
                               mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)


def _end_pool(executor: Executor) -> None:
    """End a process pool now: kill its workers (a hung fit cannot be interrupted otherwise) and shut it down."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):  # already gone
            pass
    executor.shutdown(wait=False, cancel_futures=True)


def concurrency(executor: Executor, default: int) -> int:
    """How many tasks ``executor`` runs at once (``default`` when it does not say)."""
    if isinstance(executor, SerialExecutor):
        return 1
    return max(1, getattr(executor, "_max_workers", None) or default)


@dataclass
class _Task:
    """A task of :func:`run_tasks`: its key, function, arguments, time limit and first submission (monotonic)."""

    key: Any
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    timeout: float | None
    started: float | None = None


def _as_task(task: tuple, timeout: float | None) -> _Task:
    if len(task) not in (3, 4):
        raise ValueError(f"a task is (key, fn, kwargs) or (key, fn, kwargs, timeout), got {len(task)} items")
    limit = task[3] if len(task) == 4 else timeout
    if limit is not None and not limit > 0:
        raise ValueError(f"timeout: expected a positive number of seconds or None, got {limit!r}")
    return _Task(task[0], task[1], task[2], limit)


def _collect(pending: dict[Future, _Task], on_done: Callable[[Any, Future], Any], timeout: float | None) -> list[_Task]:
    """Pass every finished future of ``pending`` to ``on_done`` and drop it from ``pending``; returns the new tasks
    that ``on_done`` gave back."""
    new: list[_Task] = []
    for future in [f for f in pending if f.done()]:
        new += [_as_task(t, timeout) for t in on_done(pending.pop(future).key, future) or ()]
    return new


def _replace_pool(executor: Executor, restart: Callable[[], Executor] | None, pending: dict[Future, _Task],
                  queue: list[_Task], on_done: Callable[[Any, Future], Any], hung: int,
                  timeout: float | None) -> tuple[Executor, list[_Task]]:
    """End ``executor``'s workers (``hung`` of them hold late tasks) and make a fresh executor; the results already
    computed are collected first, and the tasks still in flight (none when the window was kept) go to the front of
    ``queue`` with their first start time, so the clock of a task started again is not reset."""
    if restart is None:
        return executor, queue
    new = _collect(pending, on_done, timeout)
    again = list(pending.values())
    pending.clear()
    log.warning("ending the worker processes (%d hold a timed-out task, which cannot be interrupted otherwise)%s",
                hung, f"; {len(again)} task(s) in flight start again" if again else "")
    _end_pool(executor)
    return restart(), again + new + queue


def _timed_out(seconds: float) -> Future:
    future: Future = Future()
    future.set_exception(TaskTimeout(f"timeout after {seconds:g} s"))
    return future


def run_tasks(executor: Executor, tasks: list[tuple], on_done: Callable[[Any, Future], Any], *,
              timeout: float | None = None, restart: Callable[[], Executor] | None = None,
              skip: Callable[[Any], bool] | None = None) -> Executor:
    """Submit ``(key, fn, kwargs)`` tasks and call ``on_done(key, future)`` as each finishes.

    At most as many tasks are in flight as the executor has workers (all of them for an executor that does not say,
    such as a Dask client's), so that every result is recorded as soon as it exists, also with the
    :class:`SerialExecutor`.

    Parameters
    ----------
    executor
        Where the tasks run.
    tasks
        ``(key, fn, kwargs)`` or ``(key, fn, kwargs, timeout)``: ``fn(**kwargs)`` runs in the executor; ``key`` is
        passed back to ``on_done``; a fourth item is that task's own time limit (``None``: none), instead of
        ``timeout``.
    on_done
        Called in this process with each key and its finished future. It may return more tasks: work that the
        finished task unlocks (the chains of a NUTS fit whose start is done). They run before the tasks not yet
        submitted, in the order given.
    timeout
        Seconds a task may take from its first submission (a task in flight has a worker to itself; a task started
        again after another task's timeout keeps its clock, so the whole run stays bounded). A task past it is
        passed to ``on_done`` as a future holding :class:`TaskTimeout` ("timeout after X s"). Not enforced by the
        :class:`SerialExecutor`, which runs each task to its end inside ``submit`` (a hung task hangs the caller).
    restart
        Makes a fresh executor of the same kind (``executor`` must then be a
        :class:`~concurrent.futures.ProcessPoolExecutor`). With it, a late task is abandoned on its worker and the
        other workers carry on: no task in flight, and no result already computed, is ever run again. Only when every
        worker holds a late task and tasks are still waiting, or when the tasks are done and late ones still hold
        workers, are ``executor``'s worker processes ended (a hung fit cannot be interrupted otherwise) and a fresh
        executor made. Without it, the late task keeps its worker until it ends, and its result is dropped.
    skip
        Called with the key of each task about to be submitted; a task it returns true for is dropped without
        running and without a call to ``on_done`` (the other chains of a fit one of whose chains failed).

    Returns
    -------
    Executor
        The executor in use at the end: ``executor``, or the last one ``restart`` made (the caller shuts it down).
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout: expected a positive number of seconds or None, got {timeout!r}")
    queue = [_as_task(t, timeout) for t in tasks]
    window = concurrency(executor, len(queue))
    pending: dict[Future, _Task] = {}
    abandoned: list[Future] = []  # late tasks that may still hold a worker (tracked only with ``restart``)
    while queue or pending:
        abandoned = [f for f in abandoned if not f.done()]
        if queue and abandoned and len(abandoned) >= window:  # every worker holds a late task (so none in pending)
            executor, queue = _replace_pool(executor, restart, pending, queue, on_done, len(abandoned), timeout)
            window, abandoned = concurrency(executor, window), []
        while queue and len(pending) < max(1, window - len(abandoned)):
            task = queue.pop(0)
            if skip is not None and task.started is None and skip(task.key):
                continue
            if task.started is None:
                task.started = time.monotonic()
            pending[executor.submit(task.fn, **task.kwargs)] = task
        if not pending:
            continue
        deadlines = [t.started + t.timeout for t in pending.values() if t.timeout is not None]
        wait_for = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        wait(pending, timeout=wait_for, return_when=FIRST_COMPLETED)
        # every finished task, also one that finished after ``wait`` returned; what they unlock goes first
        queue = _collect(pending, on_done, timeout) + queue
        now = time.monotonic()
        for future in [f for f, t in pending.items()
                       if t.timeout is not None and now - t.started >= t.timeout and not f.done()]:
            task = pending.pop(future)
            future.cancel()
            log.warning("task %s ran past %g s and is abandoned", task.key, task.timeout)
            queue = [_as_task(t, timeout) for t in on_done(task.key, _timed_out(task.timeout)) or ()] + queue
            if restart is not None:
                abandoned.append(future)
    if restart is not None and any(not f.done() for f in abandoned):
        executor, _ = _replace_pool(executor, restart, pending, [], on_done, len(abandoned), timeout)
    return executor
