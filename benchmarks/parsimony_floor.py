#!/usr/bin/env python
"""Benchmark: which structure gets the top ensemble weight under each floor of the parsimony rule, on saved runs.

The floor of :func:`cohortode.compare.parsimony_exclusions` (``Budget.occam_floor``) changes only the last step of a
discovery: which NUTS-fitted structures enter the stacking weights. This script loads finished discovery run
directories (``run_dir`` of :func:`cohortode.discover`, or the ``--out`` folder of ``recovery_suite.py``), compares
their saved NUTS fits again (PSIS-LOO, as a discovery does), and prints, for each floor, the structure with the top
stacking weight. For a cohort of the recovery suite (a run directory named after it), it says whether that is the true
structure (by hash, or by the numerical equivalence check of ``recovery_suite.py``) and prints the recovery count per
floor; for any other run, the winner's description. Each run also lists its fitted structures with the elpd
difference to the winner under the default floor and its standard error.

Usage::

    python benchmarks/parsimony_floor.py RUN_DIR_OR_SUITE_OUT [...] [--floors 0 1 2 3 4]

Measured (2026-12-03): the motifs-only recovery run at a958f5d, 12 cohorts: the truth has the top weight in 10 of
12 with a floor of 1 and 11 of 12 with floors 2 to 4 (the PD cohort's truth is outside the motif library and never
proposed); the LLM-plus-motifs run at c8b0b17: 11 of 12 with a floor of 1, 10 of 12 with 2 (the growth cohort's
saturable kill beat ``r*size - kel*size``, two sites fewer, by 1.05 with a standard error of 0.93); theophylline's
default discovery: transit absorption (1) wins with floors 0 and 1, one compartment with first-order absorption with
floors 2 to 4.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _is_run(path: Path) -> bool:
    return (path / "settings.json").is_file() and (path / "events.jsonl").is_file()


def _run_dirs(paths: list[Path], depth: int = 2) -> list[Path]:
    """Discovery run directories among ``paths`` and their subfolders (a suite's ``out/SETTING/COHORT``), not
    descending into a run (whose saved fits have settings of their own)."""
    out: list[Path] = []
    for path in paths:
        if _is_run(path):
            out.append(path)
        elif depth > 0 and path.is_dir():
            out.extend(_run_dirs(sorted(p for p in path.iterdir() if p.is_dir()), depth - 1))
    return out


def _winners(fits: dict, floors: list[float]) -> tuple[dict[float, str], object]:
    """The structure with the top weight under each floor, weighed as a discovery weighs its NUTS fits
    (:func:`cohortode.discover._finalize.compare_final`), and the plain comparison (for the pairwise differences)."""
    import cohortode
    from cohortode.discover._finalize import compare_final

    winners = {floor: str(compare_final(fits, parsimony=True, min_difference=floor)[0]["name"].iloc[0])
               for floor in floors}
    return winners, cohortode.compare(fits, refit=False, marginal_likelihood=False, seed=0)


def main(argv: list[str] | None = None) -> None:
    import _recovery
    from cohortode.compare import PARSIMONY_FLOOR, elpd_difference
    from cohortode.discover import Discovery

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--floors", nargs="+", type=float, default=[0.0, 1.0, 2.0, 3.0, 4.0])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    suite = set(_recovery.names())
    recovered = {floor: 0 for floor in args.floors}
    n_suite = 0
    for run in _run_dirs(args.paths):
        result = Discovery.load(run)
        fits = {h: f for h, f in result.posteriors.items() if f is not None}
        if not fits:
            print(f"{run}: no NUTS fit")
            continue
        winners, comparison = _winners(fits, args.floors)
        described = result.candidates().set_index("structure_hash")["description"].to_dict()
        truth = None
        if run.name in suite:
            n_suite += 1
            data, _, truth_record = _recovery.load(run.name)
            true_model = _recovery.truth_model(truth_record)
            position, match = _recovery.truth_row(result, true_model, data)
            truth = true_model.structure_hash if match == "hash" else (
                str(result.table()["name"].iloc[position]) if position is not None else None)
            for floor, winner in winners.items():
                recovered[floor] += winner == truth
            verdicts = "  ".join(f"floor {f:g}: {'truth' if w == truth else 'other'}" for f, w in winners.items())
            print(f"{run.name:45s} {verdicts}" + ("" if truth else "  (truth not among the fits)"))
        else:
            print(f"{run}")
            for floor, winner in winners.items():
                print(f"    floor {floor:g}: {winner[:8]} {str(described.get(winner, ''))[:90]}")
        best = winners.get(PARSIMONY_FLOOR, next(iter(winners.values())))
        for name, size, elpd in zip(comparison.table["name"], comparison.table["n_parameters"],
                                    comparison.table["elpd_loo"]):
            diff, se = elpd_difference(comparison, str(name), best) if name != best else (0.0, 0.0)
            mark = "T" if name == truth else " "
            print(f"      {mark} {str(name)[:8]} {int(size):3d} sites  elpd {elpd:8.2f}  minus winner {diff:+6.2f} "
                  f"(se {se:.2f})  {str(described.get(name, ''))[:60]}")
    if n_suite:
        print()
        for floor, count in recovered.items():
            print(f"floor {floor:g}: truth has the top weight in {count}/{n_suite}")


if __name__ == "__main__":
    main()
