#!/usr/bin/env python
"""Benchmark: wall time of a default ``cohortode.discover`` on theophylline with the embedded LLM, by stage.

Target (issue 10): under 10 minutes on 2 cores with a cold JAX cache. Prints the comparison table, the candidates,
the timing breakdown and whether one-compartment first-order absorption has the highest weight.

Usage::

    COHORTODE_JAX_CACHE=0 python benchmarks/discover_theophylline.py [--run-dir DIR] [--motifs-only] [--rounds N]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import pandas as pd


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--motifs-only", action="store_true", help="no language model")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--per-round", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("cohortode").setLevel(logging.INFO)  # the stages; not the INFO chatter of other packages
    start = time.perf_counter()
    import cohortode
    from cohortode.discover import Budget
    from cohortode.propose._benchmark_problems import benchmark_problem

    bp = benchmark_problem("theophylline")
    budget = Budget()
    if args.rounds or args.per_round:
        budget = Budget(rounds=args.rounds or budget.rounds, candidates_per_round=args.per_round or
                        budget.candidates_per_round)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="discover-theophylline-")
    result = cohortode.discover(bp.problem.data, bp.problem, llm=False if args.motifs_only else None,
                                budget=budget, run_dir=run_dir, seed=0)
    wall = time.perf_counter() - start
    pd.set_option("display.width", 200, "display.max_colwidth", 90)
    columns = ["name", "n_parameters", "elpd_loo", "se", "weight_stacking", "screen_elpd", "left_out", "equations"]
    table = result.table()
    print(table[[c for c in columns if c in table.columns]].to_string(index=False))
    print(result.candidates()[["round", "source", "status", "elpd_loo", "equations", "reason"]].to_string())
    print("timings (s):", {k: round(v, 1) for k, v in result.timings.items()})
    print(f"wall time including imports: {wall:.0f} s; stopped by {result.stopped}; run directory {run_dir}")
    best = result.best
    expert = bp.problem  # the expert mechanism is the one-compartment first-order absorption composition
    from cohortode.propose import default_library

    truth = default_library().build(expert, bp.expert).structure_hash
    print("one-compartment first-order absorption has the highest weight:",
          best is not None and best.structure_hash == truth)


if __name__ == "__main__":
    main()
