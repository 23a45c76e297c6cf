#!/usr/bin/env python
"""Screening every motif composition of a cohort: seconds per structure, evaluations, -2 log L, BIC, and the ranking.

For each problem (theophylline, the bundled cohort; and synthetic growth, epidemic, two-compartment IV and, from the
recovery suite, indirect-response pharmacodynamic cohorts)
every composition of the motif library is fitted with ``cohortode.fit(model, data, method="map", screening=True)``,
one after another in this process, with JAX's persistent compilation cache pointed at a new, empty folder (cold
cache: every structure compiles). Printed per structure: wall seconds of the fit, of which compiling (the objective; the
grid check reuses it) and optimising, objective evaluations, starts run, the ODE path and grid, ``-2 log L`` at the MAP and
BIC = ``-2 log L + k log n`` (``k`` sampled sites, ``n`` data rows; ``log L`` maximised from the MAP, see
:mod:`cohortode.infer._screening`); then the median and maximum seconds.

Profile: the first lines say where the time of one screen goes (compile, per evaluation, evaluations per start,
starts), for the screening path and, with ``--reference``, for the full path.

``--reference`` also screens the same structures with the full path (``screening=False``: adaptive Tsit5 at the
default tolerances rtol 1e-6, atol 1e-9, Kvaerno5 when stiff) and 32 starts, and compares the top 5 by BIC. It is
slow (minutes per nonlinear structure on two busy cores); ``--reference-top K`` limits it to the screen's best K
structures (a structure outside them would have to be misjudged by the screen by more than the BIC gap to matter).

Nested pairs: for every screened composition that extends another by one block (linear -> linear plus
Michaelis-Menten elimination, one -> two -> three compartments, first-order -> transit absorption), the child's
``-2 log L`` minus its parent's; the pairs where the child ends more than 0.1 worse are listed.

Targets (issue 8, theophylline): median <= 3 s and maximum <= 15 s per structure; top-5 ranking unchanged; no
nested child more than 0.1 worse than its parent.

Usage::

    python benchmarks/screening.py [--problems theophylline logistic_growth ...] [--reference] [--reference-top K]
                                   [--first N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PROBLEMS = ("theophylline", "logistic_growth", "sir_outbreak", "twocomp_iv", "pd_indirect_response")
RECOVERY = {"pd_indirect_response": "pd_indirect_response_inhibition_two_doses"}
"""Problems read from the recovery suite (``cohorts/recovery``) rather than the bundled benchmark problems."""
SIMPLER = {
    # block -> the blocks it extends, each with the new rate that switches the extension off (None: a limit, e.g.
    # ktr -> infinity; the new rate then starts at its prior median)
    "linear_plus_michaelis_menten_elimination": (("linear_elimination", "Vmax"),),
    "two_compartment": (("one_compartment", "k12"),),
    "three_compartment": (("two_compartment", "k13"),),
    "three_compartment_catenary": (("two_compartment", "k23"),),
    "transit_absorption_3": (("transit_absorption_1", None),),
    "transit_absorption_1": (("first_order_absorption", None),),
}
"""Parents used as MAP starts: a composition extends the one with a single block replaced by a block it extends."""
NESTED = {"linear_plus_michaelis_menten_elimination": "linear_elimination", "two_compartment": "one_compartment",
          "three_compartment": "two_compartment", "three_compartment_catenary": "two_compartment",
          "transit_absorption_1": "first_order_absorption", "transit_absorption_3": "first_order_absorption"}
"""The nested pairs issue 8 names (linear vs linear plus Michaelis-Menten elimination, one vs two compartments,
first-order vs transit absorption), and two vs three compartments: the child contains the parent, exactly or in a
limit. (Transit (3) does not contain transit (1): its three steps share one rate.)"""
SWITCHED_OFF = 1e-4
"""A new rate switched off: this fraction of its prior median."""


def parent_starts(choice: tuple[str, ...], fitted: dict, model, data) -> list[dict[str, float]]:
    """MAP starts from every fitted parent of ``choice``: its optimum, the new rate near zero (the discovery loop's
    nested parent starts)."""
    from cohortode.infer._problem import BayesianProblem
    from cohortode.likelihood import AggregateLikelihood

    starts = []
    for i, block in enumerate(choice):
        for simpler, off in SIMPLER.get(block, ()):
            parent = fitted.get(choice[:i] + (simpler,) + choice[i + 1:])
            if parent is None:
                continue
            point = dict(parent)
            if off is not None:
                priors = BayesianProblem.build(AggregateLikelihood(model, data)).priors
                point[off] = SWITCHED_OFF * priors[off].typical()
            starts.append(point)
    return starts


NESTED_TOLERANCE_M2LL = 0.1
"""Issue 8: a structure that extends another ends at most this much worse in maximised -2 log L."""


def nested_gaps(comps, results: dict) -> list[tuple[str, str, float]]:
    """``(child, parent, child's -2 log L minus parent's)`` for every screened nested pair (:data:`NESTED`)."""
    gaps = []
    for choice in comps:
        child = ", ".join(choice)
        if "m2ll" not in results.get(child, {}):
            continue
        for i, block in enumerate(choice):
            if block in NESTED:
                parent = ", ".join(choice[:i] + (NESTED[block],) + choice[i + 1:])
                if "m2ll" in results.get(parent, {}):
                    gaps.append((child, parent, results[child]["m2ll"] - results[parent]["m2ll"]))
    return gaps


def _screen(model, data, **kwargs) -> dict:
    import numpy as np

    import cohortode as co

    t = time.perf_counter()
    cpu = time.process_time()
    try:
        f = co.fit(model, data, method="map", **kwargs)
    except co.FitError as exc:
        return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "error": exc.reason}
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    d = f.diagnostics
    k = f.problem.dimension
    scr = d.get("screening", {})
    if "max_log_likelihood" in d:
        m2ll, values = -2.0 * d["max_log_likelihood"], d["max_likelihood_values"]
    else:  # full path: maximise the likelihood from the MAP as the screening path does
        from cohortode.infer._multistart import compiled_objective
        from cohortode.infer._screening import maximise_likelihood

        objective, _ = compiled_objective(f.problem)
        z, loglik, _ = maximise_likelihood(objective, [f.map.unconstrained])
        loglik = max(loglik, d["log_likelihood"])
        m2ll, values = -2.0 * loglik, f.map.values
    return {"values": values, "seconds": seconds, "cpu": cpu,
            "compile": scr.get("compile_seconds", f.map.compile_seconds),
            "optimise": scr.get("optimise_seconds", f.map.optimise_seconds), "evaluations": d["evaluations"],
            "starts": len(f.map.starts), "solver": f.solver, "grid": scr.get("grid_steps", 0),
            "grid_error": scr.get("grid_error_m2ll", 0.0), "m2ll": m2ll,
            "bic": m2ll + k * np.log(f.likelihood.n_rows), "k": k}


def _row(name: str, r: dict) -> str:
    if "error" in r:
        return f"  {name:<70} {r['seconds']:6.1f} s  FAILED: {r['error'][:200]}"
    return (f"  {name:<70} {r['seconds']:6.1f} {r['cpu']:6.1f} {r['compile']:6.1f} {r['optimise']:6.1f} "
            f"{r['evaluations']:5d} {r['starts']:3d} {r['solver']:>8} {r['grid']:4d} {r['grid_error']:7.3f} "
            f"{r['m2ll']:9.2f} {r['bic']:9.2f}")


HEADER = (f"  {'structure':<70} {'wall':>6} {'cpu':>6} {'comp':>6} {'optim':>6} {'evals':>5} {'st':>3} "
          f"{'solver':>8} {'grid':>4} {'griderr':>7} {'-2logL':>9} {'BIC':>9}")


def screen_problem(name: str, reference: bool, reference_top: int | None, first: int | None = None) -> dict:
    import numpy as np

    from cohortode.propose._benchmark_problems import benchmark_problem
    from cohortode.propose.motifs import default_library

    lib = default_library()
    if name in RECOVERY:
        import _recovery

        data, problem, _ = _recovery.load(RECOVERY[name])
    else:
        problem = benchmark_problem(name).problem
        data = problem.data
    comps = lib.compositions(problem)
    n_all = len(comps)
    comps = comps[:first] if first else comps
    print(f"\n== {name}: {len(comps)} of {n_all} compositions, {len(data.observations)} data rows (screening=True, "
          f"8 starts, plus the optimum of each fitted nested parent)")
    print(HEADER)
    results, fitted = {}, {}
    for choice in comps:
        model = lib.build(problem, choice)
        label = ", ".join(choice)
        results[label] = _screen(model, data, screening=True, init=parent_starts(choice, fitted, model, data))
        if "values" in results[label]:
            fitted[choice] = results[label]["values"]
        print(_row(label, results[label]), flush=True)
    secs = np.array([r["seconds"] for r in results.values()])
    cpus = np.array([r["cpu"] for r in results.values()])
    print(f"  seconds per structure: median {np.median(secs):.1f}, max {secs.max():.1f} (wall); "
          f"median {np.median(cpus):.1f}, max {cpus.max():.1f} (CPU of this process)")
    ok = {k: r for k, r in results.items() if "error" not in r}
    evals = [r["evaluations"] / r["starts"] for r in ok.values()]
    per_eval = [r["optimise"] / r["evaluations"] * 1e3 for r in ok.values() if r["evaluations"]]
    comp = [r["compile"] for r in ok.values()]
    print(f"  profile: compile median {np.median(comp):.1f} s ({np.median(comp) / np.median(secs):.0%} of the median "
          f"wall), evaluations per start median {np.median(evals):.0f}, ms per evaluation median "
          f"{np.median(per_eval):.2f}, starts run median {np.median([r['starts'] for r in ok.values()]):.0f}")
    top = sorted(ok, key=lambda k: ok[k]["bic"])
    print("  top 5 by BIC:", " | ".join(top[:5]))
    gaps = nested_gaps(comps, results)
    worst = max(gaps, key=lambda g: g[2], default=None)
    bad = [g for g in gaps if g[2] > NESTED_TOLERANCE_M2LL]
    print(f"  nested pairs: {len(gaps)}; child -2 log L minus parent's: max {worst[2]:+.3f} ({worst[0]} over "
          f"{worst[1]})" if worst else "  nested pairs: none")
    print(f"  nested pairs where the child ends more than {NESTED_TOLERANCE_M2LL} worse: {len(bad)}"
          + "".join(f"\n    {c} over {p}: {d:+.3f}" for c, p, d in bad))
    if reference:
        todo = top[:reference_top] if reference_top else list(results)
        print(f"\n  reference: full path, 32 starts, {len(todo)} structures")
        print(HEADER)
        ref = {}
        for choice in comps:
            label = ", ".join(choice)
            if label not in todo:
                continue
            ref[label] = _screen(lib.build(problem, choice), data, n_starts=32)
            print(_row(label, ref[label]), flush=True)
        rok = {k: r for k, r in ref.items() if "error" not in r}
        rtop = sorted(rok, key=lambda k: rok[k]["bic"])
        print("  reference top 5 by BIC:", " | ".join(rtop[:5]))
        same = rtop[:5] == top[:5]
        print(f"  top-5 ranking unchanged: {'yes' if same else 'NO'}")
        diffs = [abs(results[k]["m2ll"] - rok[k]["m2ll"]) for k in rok if "error" not in results[k]]
        print(f"  |screen - reference| in -2 log L: max {max(diffs):.3f}, median {np.median(diffs):.3f}")
        rsecs = np.array([r["seconds"] for r in ref.values()])
        print(f"  reference seconds per structure: median {np.median(rsecs):.1f}, max {rsecs.max():.1f}")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--reference", action="store_true", help="also screen with the full path and 32 starts")
    parser.add_argument("--reference-top", type=int, default=None, help="reference for the screen's best K only")
    parser.add_argument("--first", type=int, default=None, help="only the first N compositions of each problem")
    args = parser.parse_args(argv)
    os.environ["COHORTODE_JAX_CACHE"] = tempfile.mkdtemp(prefix="cohortode-screening-cache-")
    t = time.perf_counter()
    import cohortode  # noqa: F401  (imports JAX and sets the cache folder)

    print(f"import {time.perf_counter() - t:.1f} s; cold JAX cache in {os.environ['COHORTODE_JAX_CACHE']}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times scale with it; CPU times "
          f"less so)")
    for name in args.problems:
        screen_problem(name, args.reference, args.reference_top, args.first)


if __name__ == "__main__":
    main()
