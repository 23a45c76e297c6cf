#!/usr/bin/env python
"""Benchmark: recovery of known structures by ``cohortode.discover`` across the synthetic recovery suite.

For each cohort of ``cohorts/recovery`` (``scripts/make_recovery_suite.py``) and each proposer setting (LLM plus
motifs, motifs only, LLM only), runs a discovery and prints the rank and stacking weight of the true structure
(matched by structure hash: parameter renaming and algebraic rearrangement are the same structure; else by a
numerical equivalence check of the top rows, :func:`_recovery.truth_row`: a change of parameters such as clearances
for rate constants is the same structure too; each line says which), whether the truth was screened at all and how it
was recognised there (:func:`_recovery.truth_tried`: a truth that is screened but not fitted, for instance left out by
Occam's window, has no row), then the recovery rates (truth has the top weight; truth in the top 3). Target (issue 10): top weight in >= 75% of the suite with LLM plus motifs.

Usage::

    python benchmarks/recovery_suite.py [--only NAME ...] [--settings both motifs llm] [--rounds 3] [--per-round 6]
        [--top-k 3] [--warmup 500] [--samples 500] [--chains 4] [--nuts-timeout 1200] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = {"both": dict(llm=None, motifs=True), "motifs": dict(llm=False, motifs=True),
            "llm": dict(llm=None, motifs=False)}


def main(argv: list[str] | None = None) -> None:
    import _recovery

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    _recovery.add_discovery_arguments(parser, rounds=3, per_round=6,
                                      warmup=500, samples=500, chains=4, nuts_timeout=1200.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from cohortode.discover import discover

    out = Path(args.out or tempfile.mkdtemp(prefix="recovery-"))
    budget, settings = _recovery.budget_and_settings(args)
    rows = []
    for name in args.only or _recovery.names():
        data, problem, truth = _recovery.load(name)
        true_model = _recovery.truth_model(truth)
        for setting in args.settings:
            start = time.perf_counter()
            result = discover(data, problem, budget=budget, fit_settings=settings, run_dir=out / setting / name,
                              seed=0, progress=False, **SETTINGS[setting])
            position, match = _recovery.truth_row(result, true_model, data)
            tried = match or _recovery.truth_tried(result, true_model, data)
            rank = position + 1 if position is not None else None
            weight = float(result.table()["weight_stacking"].iloc[position]) if position is not None else 0.0
            rows.append((name, setting, rank, weight, tried, time.perf_counter() - start))
            print(f"{name:45s} {setting:7s} truth rank {rank if rank else '-':>2} weight {weight:.2f} "
                  f"proposed {'yes' if tried else 'no '} match {match or '-':11s} screened as {tried or '-':11s} "
                  f"({rows[-1][-1]:.0f} s)",
                  flush=True)
    print()
    for setting in args.settings:
        mine = [r for r in rows if r[1] == setting]
        top1 = sum(r[2] == 1 for r in mine)
        top3 = sum(r[2] is not None and r[2] <= 3 for r in mine)
        print(f"{setting:7s}: truth has the top weight in {top1}/{len(mine)} ({100 * top1 / max(len(mine), 1):.0f}%), "
              f"in the top 3 in {top3}/{len(mine)}")


if __name__ == "__main__":
    main()
