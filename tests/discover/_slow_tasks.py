"""Tasks for executor tests: module-level (picklable) and light to import in a fresh worker."""

from __future__ import annotations

import os
import time
from pathlib import Path


def value(x: int) -> int:
    return x


def sleep_then(x: int, seconds: float, pid_file: str | None = None) -> int:
    if pid_file is not None:
        Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return x


def counted(x: int, seconds: float, runs: str) -> int:
    """Sleep, then record this execution as one more line of the file ``runs``, and return ``x``."""
    time.sleep(seconds)
    with open(runs, "a", encoding="utf-8") as fh:
        fh.write(f"{x}\n")
    return x


def collector():
    """``(done, on_done)``: ``on_done`` for :func:`run_tasks` stores each key's result, or the text of its
    ``TaskTimeout``, in the dict ``done``."""
    from cohortode.discover._executor import TaskTimeout

    done: dict = {}

    def on_done(key, future):
        try:
            done[key] = future.result()
        except TaskTimeout as exc:
            done[key] = str(exc)

    return done, on_done
