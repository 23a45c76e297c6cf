"""Progress of a discovery on the terminal (rich), or nothing."""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["Progress"]


class Progress:
    """One line of progress: stage, candidates screened, best structure so far, time left in the budget.

    Parameters
    ----------
    enabled
        Show it (``False``: every call does nothing).
    wall_time
        The budget's wall time in seconds, or ``None``.
    """

    def __init__(self, enabled: bool, wall_time: float | None = None):
        self.enabled = enabled
        self.wall_time = wall_time
        self.start = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def update(self, stage: str, done: int = 0, total: int | None = None, best: str = "") -> None:
        """Show ``stage`` with ``done`` of ``total`` and the best structure so far."""
        if self._bar is None:
            return
        left = ""
        if self.wall_time is not None:
            remaining = max(0.0, self.wall_time - (time.perf_counter() - self.start))
            left = f" | {math.ceil(remaining)} s left"
        text = f"{stage}{left}" + (f" | best: {best}" if best else "")
        self._bar.update(self._task, description=text, completed=done, total=total)
