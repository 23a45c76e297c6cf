#!/usr/bin/env python
"""Run every benchmark script in ``benchmarks/`` (each ``*.py`` but this one), one after another, in subprocesses.

Each script runs with its default settings and the same Python interpreter; its output is streamed as it comes. The
exit status is non-zero when any script fails. ``make bench`` calls this.

Usage::

    python benchmarks/run_all.py [--only NAME ...] [--skip NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    """The benchmark scripts, sorted by name (this runner excluded)."""
    me = Path(__file__).resolve()
    return sorted(p for p in HERE.glob("*.py") if p.resolve() != me and not p.name.startswith("_"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts (file names or stems)")
    parser.add_argument("--skip", nargs="*", default=[], help="skip these scripts (file names or stems)")
    parser.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = parser.parse_args(argv)

    def named(p: Path, names) -> bool:
        return p.name in names or p.stem in names

    todo = [p for p in scripts() if (args.only is None or named(p, args.only)) and not named(p, args.skip)]
    if args.list:
        print("\n".join(p.name for p in todo))
        return 0
    failed = []
    summary = []
    t_all = time.perf_counter()
    for path in todo:
        print(f"\n{'=' * 100}\n== {path.name}\n{'=' * 100}", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path)], cwd=HERE.parent)
        seconds = time.perf_counter() - t
        summary.append((path.name, proc.returncode, seconds))
        if proc.returncode != 0:
            failed.append(path.name)
            print(f"!! {path.name} exited with status {proc.returncode}", flush=True)
    print(f"\n{'=' * 100}\nbenchmark summary ({time.perf_counter() - t_all:.0f} s):")
    for name, rc, seconds in summary:
        print(f"  {name:40s} {'ok' if rc == 0 else f'FAILED ({rc})':12s} {seconds:8.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
