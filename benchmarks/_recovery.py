"""Shared helpers of the recovery benchmarks: read a recovery cohort, pose its problem, rank its truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _equivalence import structurally_equivalent

from cohortode import CohortData, ODEModel
from cohortode.propose import Problem

SUITE = Path(__file__).resolve().parents[1] / "cohorts" / "recovery"


def load(name: str, hold_out: int = 0) -> tuple[CohortData, Problem, dict[str, Any]]:
    """The cohort, its problem and its truth; ``hold_out`` > 0 leaves out that many last observation times."""
    root = SUITE / name
    truth = json.loads((root / "truth.json").read_text())
    data = CohortData.from_directory(root)
    if hold_out:
        data = without_last_times(data, hold_out)
    spec = truth["problem"]
    problem = Problem.from_cohort(data, states=spec["states"], observables=spec["observables"], name=name,
                                  context=spec["context"], domain=spec["domain"], initial=spec["initial"])
    return data, problem, truth


def truth_model(truth: dict[str, Any]) -> ODEModel:
    """The true structure as a model (parameters renamed freely; compared by :func:`truth_row`)."""
    rhs = {s: eq.split("=", 1)[1].strip() for s, eq in truth["equations"].items()}
    initial = {k: v for k, v in truth["initial"].items() if isinstance(v, str)}
    for k, v in truth["problem"]["initial"].items():
        initial[k] = v
    return ODEModel(list(rhs), rhs, truth["observables"], initial=initial)


def truth_row(result: Any, truth: ODEModel, data: CohortData, *, top: int = 3) -> tuple[int | None, str]:
    """Where the true structure is in a discovery's comparison table, and how it was recognised.

    The row whose structure hash equals the truth's (a renaming or algebraic rearrangement); else the best-ranked
    of the first ``top`` rows whose model is the truth up to a change of parameters
    (:func:`_equivalence.structurally_equivalent`: clearances for rate constants, a Michaelis constant in amount for
    one in concentration). Only ``top`` rows are checked, since each check fits both structures several times.

    Parameters
    ----------
    result
        The :class:`~cohortode.discover.Discovery` (its ``table()`` and ``models``).
    truth
        The true structure (:func:`truth_model`).
    data
        The cohorts whose doses and time spans the equivalence check simulates.
    top
        Rows checked for equivalence.

    Returns
    -------
    tuple
        The row's position in ``result.table()`` (0 for the top weight) or ``None``, and ``"hash"``,
        ``"equivalence"`` or ``""`` (no match).
    """
    names = [str(h) for h in result.table()["name"]]
    if truth.structure_hash in names:
        return names.index(truth.structure_hash), "hash"
    for position, name in enumerate(names[:top]):
        model = result.models.get(name)
        if model is not None and structurally_equivalent(truth, model, data)[0]:
            return position, "equivalence"
    return None, ""


def truth_tried(result: Any, truth: ODEModel, data: CohortData) -> str:
    """Whether the true structure was among the structures a discovery screened, and how it was recognised.

    By structure hash among all candidates; else by :func:`_equivalence.structurally_equivalent` among the screened
    structures with as many parameters as the truth (a reparameterisation such as ``kin`` for ``kout*R0`` changes
    the hash: the indirect-response cohort's truth was screened, then left out by Occam's window, and a hash check
    alone printed "proposed no").

    Returns
    -------
    str
        ``"hash"``, ``"equivalence"`` or ``""`` (not screened).
    """
    candidates = result.candidates()
    if truth.structure_hash in set(candidates["structure_hash"]):
        return "hash"
    size = len(truth.parameters)
    for name, model in result.models.items():
        if len(model.parameters) == size and structurally_equivalent(truth, model, data)[0]:
            return "equivalence"
    return ""


def names() -> list[str]:
    """Cohorts of the suite, in order."""
    return sorted(p.name for p in SUITE.iterdir() if (p / "truth.json").exists())


def held_out_times(data: CohortData, hold_out: int) -> list[float]:
    """The last ``hold_out`` observation times of the cohort table (over all its cohorts)."""
    return sorted(set(float(t) for t in data.observations["time"]))[-hold_out:]


def without_last_times(data: CohortData, hold_out: int) -> CohortData:
    """The same cohorts without the rows at their last ``hold_out`` observation times."""
    late = held_out_times(data, hold_out)
    obs = data.observations[~data.observations["time"].isin(late)]
    columns = [c for c in ("cohort", "observable", "time", "mean", "sd", "n") if c in obs.columns]
    dosing = data.dosing.drop(columns=["source_row"], errors="ignore")
    covariates = data.covariates.reset_index().rename(columns={"index": "cohort"})
    return CohortData(obs[columns].reset_index(drop=True), dosing=dosing if len(dosing) else None,
                      covariates=covariates if covariates.shape[1] > 1 else None, description=data.description,
                      time_unit=data.time_unit, units=data.units, metadata=data.metadata)


def add_discovery_arguments(parser: argparse.ArgumentParser, *, rounds: int, per_round: int, warmup: int,
                            samples: int, chains: int, nuts_timeout: float) -> None:
    """The budget and final-fit options shared by the suite's benchmarks."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--per-round", type=int, default=per_round)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=warmup, help="NUTS warm-up draws per chain of the final fits")
    parser.add_argument("--samples", type=int, default=samples, help="NUTS draws per chain of the final fits")
    parser.add_argument("--chains", type=int, default=chains)
    parser.add_argument("--nuts-timeout", type=float, default=nuts_timeout)
    parser.add_argument("--out", default=None, help="parent folder of the run directories (resumable)")


def budget_and_settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """The :class:`~cohortode.discover.Budget` and :class:`~cohortode.discover.FitSettings` the options ask for."""
    from cohortode.discover import Budget, FitSettings

    budget = Budget(rounds=args.rounds, candidates_per_round=args.per_round, top_k=args.top_k)
    settings = FitSettings(num_warmup=args.warmup, num_samples=args.samples, num_chains=args.chains,
                           nuts_timeout=args.nuts_timeout)
    return budget, settings
