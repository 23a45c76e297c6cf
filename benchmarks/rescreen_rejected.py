#!/usr/bin/env python
"""Re-screen the candidates that earlier discoveries rejected, with today's screening code.

For every run directory under the folders given (a discovery's ``run_dir``, or the ``--out`` of
``benchmarks/recovery_suite.py``, whose run directories sit one or two levels down), reads the candidates whose
screen was rejected with a reason containing ``--reason`` (default: the Laplace draws had no finite density), screens
each again with the discovery's own ``screen_structure`` and the run's recorded fit settings and seed 0, and prints one
line per candidate (scored with its approximate elpd, or rejected with its reason), then the count rescued.

Usage::

    python benchmarks/rescreen_rejected.py DIR [DIR ...] [--reason TEXT]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--reason", default="Laplace draws failed")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from cohortode.discover import FitSettings
    from cohortode.discover._rundir import RunDirectory
    from cohortode.discover._screen import screen_structure
    from cohortode.spec import ODEModel

    tried = rescued = 0
    for folder in args.folders:
        for events in sorted({*folder.glob("events.jsonl"), *folder.glob("*/events.jsonl"),
                              *folder.glob("*/*/events.jsonl")}):
            run_dir = events.parent
            records = [json.loads(line) for line in events.read_text().splitlines()]
            results = [r.get("result") for r in records if r.get("event") == "screened"]
            rejected = [r for r in results if r and r["status"] == "rejected" and args.reason in r["reason"]]
            if not rejected:
                continue
            run = RunDirectory(run_dir)
            data = run.read_data()
            settings = FitSettings(**run.settings()["settings"]["fit"])
            for before in rejected:
                model = ODEModel.from_toml(run_dir / "structures" / before["structure_hash"] / "model.toml")
                after = screen_structure(model, data, settings=settings, seed=0)
                tried += 1
                rescued += after.status == "scored"
                outcome = (f"scored, approximate elpd {after.elpd_loo:.2f}" if after.status == "scored"
                           else f"rejected: {after.reason[:100]}")
                print(f"{run_dir}  {before['structure_hash']}  {outcome}  ({after.seconds:.1f} s)", flush=True)
    print(f"\n{rescued} of {tried} rejected candidates are scored now")


if __name__ == "__main__":
    main()
