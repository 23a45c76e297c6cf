#!/usr/bin/env python
"""Benchmark: coverage of held-out cohort means by the discovered ensemble's 90% band, across the recovery suite.

For each cohort of ``cohorts/recovery`` the last two observation times are left out of the data, a discovery runs on
the rest, and the ensemble's 90% bands (:meth:`cohortode.Ensemble.predict`) are checked at the held-out times against
the observed means. Two bands are counted: the band of the population mean (``mean_lower``/``mean_upper``), and the
predictive band of the mean a cohort of the held-out row's ``n`` reports (``observed_mean_lower``/``_upper``: the
first plus the sampling noise sd/sqrt(n)). A reported mean is a sample mean, so the second is the band a new
observation is held against; the first is printed for comparison. Prints one line per cohort, with the rank of the
true structure in the discovery's table and whether it was matched by structure hash or by a numerical equivalence
check (:func:`_recovery.truth_row`), and the pooled coverage. Target (issue 10): the band covers at least 85% of the
held-out means.

A run directory that holds a finished discovery (``--out`` of an earlier run with the same settings) is read back,
not recomputed, so the coverage of earlier runs can be recounted.

Usage::

    python benchmarks/heldout_coverage.py [--only NAME ...] [--motifs-only] [--rounds 1] [--per-round 8]
        [--top-k 3] [--warmup 250] [--samples 250] [--chains 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

HOLD_OUT = 2


def main(argv: list[str] | None = None) -> None:
    import _recovery

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--motifs-only", action="store_true", help="no language model")
    _recovery.add_discovery_arguments(parser, rounds=1, per_round=8,
                                      warmup=250, samples=250, chains=2, nuts_timeout=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from cohortode.discover import discover

    out = Path(args.out or tempfile.mkdtemp(prefix="heldout-"))
    budget, settings = _recovery.budget_and_settings(args)
    covered = covered_mean = total = 0
    for name in args.only or _recovery.names():
        full, _, truth = _recovery.load(name)
        data, problem, _ = _recovery.load(name, hold_out=HOLD_OUT)
        late = _recovery.held_out_times(full, HOLD_OUT)
        start = time.perf_counter()
        result = discover(data, problem, budget=budget, fit_settings=settings, run_dir=out / name, seed=0,
                          progress=False, llm=False if args.motifs_only else None)
        position, match = _recovery.truth_row(result, _recovery.truth_model(truth), full)
        found = f"truth rank {position + 1} by {match}" if position is not None else "truth not found"
        if result.ensemble is None:  # nothing to predict with: its held-out means count as not covered
            missed = len(full.observations[full.observations["time"].isin(late)])
            total += missed
            print(f"{name:45s} no ensemble: its {missed} held-out means count as not covered; {found} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
            continue
        mine = predictive = n = 0
        for cohort in full.cohorts:
            observed = full.observations[(full.observations["cohort"] == cohort)
                                         & full.observations["time"].isin(late)]
            bands = {size: result.ensemble.predict(late, cohort=cohort, level=0.9, n=size)  # one per cohort size
                     for size in sorted(set(observed["n"].astype(float)))}
            for _, row in observed.iterrows():
                band = bands[float(row["n"])]
                hit = band[(band["observable"] == row["observable"]) & (abs(band["time"] - row["time"]) < 1e-9)]
                if hit.empty:
                    continue
                value = float(row["mean"])
                mine += int(float(hit["mean_lower"].iloc[0]) <= value <= float(hit["mean_upper"].iloc[0]))
                predictive += int(float(hit["observed_mean_lower"].iloc[0]) <= value
                                  <= float(hit["observed_mean_upper"].iloc[0]))
                n += 1
        covered, total = covered + predictive, total + n
        covered_mean += mine
        print(f"{name:45s} held-out means in the 90% predictive band: {predictive}/{n}; in the band of the "
              f"population mean: {mine}/{n}; {found} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\npooled: {covered}/{total} held-out means in the predictive band of a reported mean "
          f"({100 * covered / max(total, 1):.0f}%; target >= 85%); {covered_mean}/{total} in the band of the "
          f"population mean ({100 * covered_mean / max(total, 1):.0f}%)")


if __name__ == "__main__":
    main()
