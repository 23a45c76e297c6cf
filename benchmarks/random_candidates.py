#!/usr/bin/env python
"""Benchmark: N random candidate structures (default 1,000) through validate -> compile -> screen.

Each must end scored or rejected with its reason, with no crash and no hang; prints the counts, the most common
rejection reasons and the slowest screens. Screening runs on the default process pool, each structure under a
time limit (``--timeout``, default 120 s, as the test uses): a screen past it ends its worker and is rejected with
"timeout after X s", and the other workers carry on (``run_tasks(..., restart=default_executor)``, as a discovery
does).

Usage::

    python benchmarks/random_candidates.py [-n 1000] [--problem logistic_growth] [--timeout 120]
"""

from __future__ import annotations

import argparse
import collections
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--problem", default="logistic_growth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one screen may take")
    args = parser.parse_args(argv)
    from cohortode import CandidateRejected
    from cohortode.discover import FitSettings, default_executor, screen_structure
    from cohortode.discover._executor import TaskTimeout, run_tasks
    from cohortode.propose import validate_model
    from cohortode.propose._benchmark_problems import benchmark_problem
    from cohortode.propose._random import random_candidates

    problem = benchmark_problem(args.problem).problem
    start = time.perf_counter()
    candidates = random_candidates(problem, args.n, seed=args.seed)
    reasons: collections.Counter[str] = collections.Counter()
    tasks, seen = [], set()
    for cand in candidates:
        if cand.model is None:
            reasons["parse: " + cand.reason[:60]] += 1
            continue
        try:
            validate_model(cand.model, problem)
        except CandidateRejected as exc:
            reasons["validation: " + exc.reason[:60]] += 1
            continue
        if cand.structure_hash in seen:
            reasons["duplicate"] += 1
            continue
        seen.add(cand.structure_hash)
        tasks.append((cand.structure_hash, screen_structure,
                      dict(model=cand.model, data=problem.data, settings=FitSettings(screen_starts=2,
                                                                                     screen_draws=200), seed=0)))
    print(f"{len(candidates)} candidates, {len(tasks)} valid and new, validated in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    results, timeouts, unexplained = [], [], []

    def done(key, future):
        try:
            r = future.result()
        except TaskTimeout as exc:
            timeouts.append(key)
            reasons["screen: " + str(exc)[:60]] += 1
        else:
            results.append(r)
            if r.status != "scored":
                reasons["screen: " + r.reason[:60]] += 1
                if not r.reason:
                    unexplained.append(key)
        if (len(results) + len(timeouts)) % 25 == 0:
            print(f"  screened {len(results) + len(timeouts)}/{len(tasks)} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    pool = default_executor()
    try:
        pool = run_tasks(pool, tasks, done, timeout=args.timeout, restart=default_executor)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    scored = sum(r.status == "scored" for r in results)
    ended = len(results) + len(timeouts)
    print(f"scored {scored}, rejected at screening {ended - scored} (of which {len(timeouts)} timeouts), "
          f"{ended}/{len(tasks)} ended, {len(unexplained)} without a reason, total "
          f"{time.perf_counter() - start:.0f} s")
    for reason, count in reasons.most_common(15):
        print(f"  {count:5d}  {reason}")
    for r in sorted(results, key=lambda r: -r.seconds)[:5]:
        print(f"  slowest: {r.seconds:.1f} s {r.status} {r.structure_hash}")


if __name__ == "__main__":
    main()
