"""Executors for the parallel parts of a discovery: a local pool of fresh interpreters by default, an in-process
serial executor, or any :class:`concurrent.futures.Executor` the user passes (a Dask client's ``get_executor()``)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from typing import Any

__all__ = ["SerialExecutor", "default_executor", "run_tasks", "worker_count"]


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


def _init_worker() -> None:
    """A worker runs one fit at a time, and its NUTS chains one after another (no nested pools)."""
    os.environ["COHORTODE_WORKERS"] = "1"


def default_executor(max_workers: int | None = None) -> Executor:
    """A process pool of fresh interpreters (``spawn``), one worker per core unless ``max_workers`` is given.

    Each worker runs one task at a time, so a worker's memory-mapping guard (which clears JAX's caches between fits)
    never runs under another fit.
    """
    return ProcessPoolExecutor(max_workers=max_workers or worker_count(),
                               mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)


def run_tasks(executor: Executor, tasks: list[tuple[Any, Callable[..., Any], dict[str, Any]]],
              on_done: Callable[[Any, Future], None]) -> None:
    """Submit ``(key, fn, kwargs)`` tasks and call ``on_done(key, future)`` as each finishes.

    At most as many tasks are in flight as the executor has workers (all of them for an executor that does not say,
    such as a Dask client's), so that every result is recorded as soon as it exists, also with the
    :class:`SerialExecutor`.
    """
    window = 1 if isinstance(executor, SerialExecutor) else getattr(executor, "_max_workers", None) or len(tasks)
    pending: dict[Future, Any] = {}
    queue = list(tasks)
    while queue or pending:
        while queue and len(pending) < max(1, window):
            key, fn, kwargs = queue.pop(0)
            pending[executor.submit(fn, **kwargs)] = key
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in [f for f in pending if f in finished]:
            on_done(pending.pop(future), future)
