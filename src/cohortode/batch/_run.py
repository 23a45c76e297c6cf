"""The batch orchestration: run a job per cohort on an executor, record each result, write the index page."""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._jobs import cohort_name

__all__ = ["run_batch", "make_executor", "BatchResult", "RESULT_FILE"]

#: Each cohort's run directory records its outcome in this file (the batch resumes from it).
RESULT_FILE = "result.json"


@dataclass
class BatchResult:
    """What a batch did: one entry per cohort (``name, status, report, error, best, seconds``) and the index."""

    entries: list[dict[str, Any]]
    index: Path

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["status"] != "ok"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "cohort"


def run_one(job: Callable, cohort: str, run_dir: str) -> dict[str, Any]:
    """Run ``job`` on one cohort in a worker; never raises: a failure becomes an entry with its error in one line."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"name": cohort_name(cohort), "cohort": cohort}
    t0 = time.perf_counter()
    try:
        out = job(cohort, run)
        entry.update(status="ok", error=None, **out)
    except Exception as exc:  # noqa: BLE001 - a failing cohort is reported, not raised
        entry.update(status="failed", error=" ".join(f"{type(exc).__name__}: {exc}".split()), report=None,
                     seconds=time.perf_counter() - t0)
        (run / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
    (run / RESULT_FILE).write_text(json.dumps(entry, indent=1, default=str), encoding="utf-8")
    return entry


def _finished(run: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads((run / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if entry.get("status") == "ok" and entry.get("report") and Path(entry["report"]).is_file():
        return entry
    return None


def make_executor(workers: int | None = None, scheduler: str | None = None) -> tuple[Executor, Callable[[], None]]:
    """An executor and its closer: a local process pool (fresh interpreters), or Dask for ``scheduler``.

    ``scheduler`` is a Dask scheduler address (``tcp://host:8786``) or ``"local"`` for a ``LocalCluster`` on this
    machine with ``workers`` single-threaded worker processes.
    """
    if scheduler is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        n = workers or os.cpu_count() or 1
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a test dependency
        raise ImportError("--scheduler needs Dask: pip install 'dask[distributed]'") from exc
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()
    else:
        client = Client(scheduler)
        cluster = None

        def close() -> None:
            client.close()
    return client.get_executor(pure=False), close


def run_batch(cohorts: Sequence[str], out_dir: str | os.PathLike, job: Callable, *, executor: Executor | None = None,
              workers: int | None = None, scheduler: str | None = None, resume: bool = True,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> BatchResult:
    """Run ``job`` on every cohort, each in ``out_dir/<name>/``, and write ``out_dir/index.html``.

    Parameters
    ----------
    cohorts
        Cohort directories, ``cohort.toml`` files, observation CSVs or bundled names.
    job
        A picklable callable ``job(cohort, run_dir) -> {"report": ..., "best": ..., "seconds": ...}`` (e.g.
        :class:`FitJob`, :class:`DiscoverJob`).
    executor
        Any :class:`concurrent.futures.Executor`; default: :func:`make_executor` (``workers``, ``scheduler``).
        ``workers=1`` without a scheduler runs the cohorts one after another in this process.
    resume
        Skip cohorts whose run directory records a finished report.
    on_done
        Called with each entry as it finishes (e.g. to advance a progress bar).
    """
    from ..report import render_index

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    runs = []
    for c in cohorts:
        slug = _slug(cohort_name(c))
        i = 2
        while slug in names.values():
            slug = f"{_slug(cohort_name(c))}_{i}"
            i += 1
        names[c] = slug
        runs.append((c, out / slug))
    entries: dict[str, dict[str, Any]] = {}
    todo = []
    for c, run in runs:
        done = _finished(run) if resume else None
        if done is not None:
            done["resumed"] = True
            entries[c] = done
            if on_done:
                on_done(done)
        else:
            todo.append((c, run))
    close = None
    if todo and executor is None and not (workers == 1 and scheduler is None):
        executor, close = make_executor(min(workers or os.cpu_count() or 1, len(todo)), scheduler)
    try:
        if executor is None:
            for c, run in todo:
                entries[c] = run_one(job, c, str(run))
                if on_done:
                    on_done(entries[c])
        else:
            futures = {executor.submit(run_one, job, c, str(run)): (c, run) for c, run in todo}
            for fut in as_completed(futures):
                c, run = futures[fut]
                try:
                    entries[c] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died: record it, go on
                    entries[c] = {"name": cohort_name(c), "cohort": c, "status": "failed", "report": None,
                                  "error": " ".join(f"worker failed: {type(exc).__name__}: {exc}".split())}
                if on_done:
                    on_done(entries[c])
    finally:
        if close is not None:
            close()
    ordered = [entries[c] for c, _ in runs]
    index = out / "index.html"
    rows = []
    for e in ordered:
        rel = os.path.relpath(e["report"], out) if e.get("report") else None
        rows.append({**e, "report": rel})
    render_index(rows, path=index, title=f"cohortode batch: {len(ordered)} cohorts",
                 provenance={"job": repr(job), "cohorts": len(ordered),
                             "executor": "in process" if executor is None else type(executor).__name__})
    (out / "batch.json").write_text(json.dumps(ordered, indent=1, default=str), encoding="utf-8")
    return BatchResult(ordered, index)
