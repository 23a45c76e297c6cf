"""Options shared by ``discover`` and ``batch``: budget, context, executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._app import BadInput

__all__ = ["parse_budget", "read_context", "parse_changes", "parse_regimen"]


_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_budget(items: list[str]) -> Any:
    """``["rounds=3,candidates=20", "wall_time=600", "occam=false"]`` -> :class:`cohortode.Budget` (a dict without
    it); numbers, and ``true``/``false`` (``yes``/``no``, ``on``/``off``) for switches."""
    import cohortode

    if not items:
        return None
    values: dict[str, Any] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, eq, value = part.partition("=")
            if not eq:
                raise BadInput(f"--budget {part!r}: write KEY=VALUE, e.g. rounds=3 or candidates=20.")
            text = value.strip().lower()
            if text in _BOOLEANS:
                values[key.strip()] = _BOOLEANS[text]
                continue
            try:
                values[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
            except ValueError:
                raise BadInput(f"--budget {part!r}: {value!r} is not a number, true or false.") from None
    budget_type = getattr(cohortode, "Budget", None)
    if budget_type is None:
        return values
    try:
        return budget_type(**values)
    except (TypeError, ValueError) as exc:
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


def parse_changes(items: list[str]) -> dict[str, Any] | None:
    """``["ke=0.5", "V==0.4"]`` -> ``{"ke": 0.5, "V": Absolute(0.4)}`` (a factor, or ``==`` an absolute value)."""
    import cohortode

    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        absolute = "==" in item
        name, _, value = item.partition("==" if absolute else "=")
        try:
            number = float(value)
        except ValueError:
            raise BadInput(f"--change {item!r}: write NAME=FACTOR (ke=0.5) or NAME==VALUE (ke==0.1).") from None
        if absolute:
            absolute_type = getattr(cohortode, "Absolute", None)
            if absolute_type is None:
                from importlib import import_module

                absolute_type = getattr(import_module("cohortode.ensemble"), "Absolute", None)
            if absolute_type is None:
                raise BadInput("--change NAME==VALUE needs cohortode.Absolute, which this version lacks.")
            out[name.strip()] = absolute_type(number)
        else:
            out[name.strip()] = number
    return out


def parse_regimen(text: str | None) -> Any:
    """``"amount=4.6,target=depot,interval=12,n_doses=5"`` -> :class:`cohortode.Regimen`."""
    import cohortode

    if not text:
        return None
    regimen_type = getattr(cohortode, "Regimen", None)
    if regimen_type is None:
        raise BadInput("--regimen needs cohortode.Regimen, which this version lacks.")
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise BadInput(f"--regimen {part!r}: write KEY=VALUE, e.g. amount=4.6,target=depot.")
        key = key.strip()
        if key == "target":
            values[key] = value.strip()
        else:
            try:
                values[key] = int(value) if key == "n_doses" else float(value)
            except ValueError:
                raise BadInput(f"--regimen {part!r}: {value!r} is not a number.") from None
    try:
        return regimen_type(**values)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"--regimen: {exc}") from None
