"""Options shared by ``discover`` and ``batch``: budget, context, executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._app import BadInput

__all__ = ["parse_budget", "read_context"]


def parse_budget(items: list[str]) -> Any:
    """``["rounds=3", "candidates=20", "wall_time=600"]`` -> :class:`cohortode.Budget` (or a dict without it)."""
    import cohortode

    if not items:
        return None
    values: dict[str, Any] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, eq, value = part.partition("=")
            if not eq:
                raise BadInput(f"--budget {part!r}: write KEY=VALUE, e.g. rounds=3 or candidates=20.")
            try:
                values[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
            except ValueError:
                raise BadInput(f"--budget {part!r}: {value!r} is not a number.") from None
    budget_type = getattr(cohortode, "Budget", None)
    if budget_type is None:
        return values
    try:
        return budget_type(**values)
    except TypeError as exc:
        raise BadInput(f"--budget: {exc}") from None


def read_context(context: str | None, context_file: Path | None) -> str:
    """The context text: ``--context`` or the contents of ``--context-file``."""
    if context and context_file:
        raise BadInput("give --context or --context-file, not both.")
    if context_file is not None:
        if not Path(context_file).is_file():
            raise BadInput(f"context file {str(context_file)!r} does not exist.")
        return Path(context_file).read_text(encoding="utf-8").strip()
    return context or ""
