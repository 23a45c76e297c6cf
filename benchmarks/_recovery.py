"""Shared helpers of the recovery benchmarks: read a recovery cohort, pose its problem, rank its truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cohortode import CohortData, ODEModel
from cohortode.propose import Problem

SUITE = Path(__file__).resolve().parents[1] / "cohorts" / "recovery"


def load(name: str) -> tuple[CohortData, Problem, dict[str, Any]]:
    """The cohort, its problem and its truth."""
    root = SUITE / name
    truth = json.loads((root / "truth.json").read_text())
    data = CohortData.from_directory(root)
    spec = truth["problem"]
    problem = Problem.from_cohort(data, states=spec["states"], observables=spec["observables"], name=name,
                                  context=spec["context"], domain=spec["domain"], initial=spec["initial"])
    return data, problem, truth


def truth_model(truth: dict[str, Any]) -> ODEModel:
    """The true structure as a model (parameters renamed freely; compared by structure hash)."""
    rhs = {s: eq.split("=", 1)[1].strip() for s, eq in truth["equations"].items()}
    initial = {k: v for k, v in truth["initial"].items() if isinstance(v, str)}
    for k, v in truth["problem"]["initial"].items():
        initial[k] = v
    return ODEModel(list(rhs), rhs, truth["observables"], initial=initial)


def names() -> list[str]:
    """Cohorts of the suite, in order."""
    return sorted(p.name for p in SUITE.iterdir() if (p / "truth.json").exists())
