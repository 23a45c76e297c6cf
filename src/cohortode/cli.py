"""Command line: ``cohortode demo | fit | propose``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _load(cohort: str):
    from .datasets import load_cohort

    return load_cohort(cohort)


def _print_fit(fit, out=None) -> None:
    import pandas as pd

    out = sys.stdout if out is None else out
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(fit, file=out)
        if fit.method == "map":
            print("\nMAP estimates (typical values, IIV SDs on the log scale, residual SDs):", file=out)
            print(fit.summary()[["map"]].round(4).to_string(), file=out)
            return
        print("\nPosterior summary (typical values, IIV SDs on the log scale, residual SDs):", file=out)
        print(fit.summary().round(4).to_string(), file=out)
        if fit.method == "nuts":
            d = fit.diagnostics
            print(f"\nDiagnostics: max R-hat {d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
                  f"min tail ESS {d['min_ess_tail']:.0f}, divergences {d['divergences']}"
                  + ("" if d["ok"] else "  <- " + "; ".join(d["problems"])), file=out)


def cmd_fit(args: argparse.Namespace) -> int:
    from .infer import fit
    from .spec import ODEModel

    data = _load(args.cohort)
    model = ODEModel.from_toml(Path(args.model))
    result = fit(model, data, args.method, engine=args.engine, error=args.error, num_warmup=args.warmup,
                 num_samples=args.samples, num_chains=args.chains, seed=args.seed, workers=args.workers,
                 progress=args.progress)
    _print_fit(result)
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    from .propose import LLMProposer, resolve_backend
    from .propose._benchmark_problems import benchmark_problems

    problems = {bp.name: bp.problem for bp in benchmark_problems()}
    if args.problem not in problems:
        print(f"cohortode propose: error: unknown problem {args.problem!r}; choose one of {', '.join(problems)}",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    backend = resolve_backend(args.llm)
    proposer = LLMProposer(backend)
    candidates = proposer.propose(problems[args.problem], None, args.k, seed=args.seed)
    print(f"{len(candidates)} candidates in {time.perf_counter() - t0:.1f} s (backend: {backend.name})")
    for i, c in enumerate(candidates):
        _print_candidate(i + 1, c)
    return 0


def _print_candidate(rank: int, c) -> None:
    """One candidate: rank, source, log prior, mechanism or equations (valid) or the reason (rejected)."""
    lp = "n/a" if c.log_prior is None else f"{c.log_prior:.2f}"
    if c.status != "valid" or c.model is None:
        print(f"  {rank:2d}. [{c.status}] {c.source}: {c.reason}")
        return
    what = " + ".join(c.mechanism) if getattr(c, "mechanism", None) else "equations written by the model"
    print(f"  {rank:2d}. [{c.source}, log prior {lp}] {what}")
    for line in c.model.equations():
        print(f"        {line}")


def cmd_demo(args: argparse.Namespace) -> int:
    """Draft structures for the bundled theophylline cohort with the embedded LLM, then fit the top one with NUTS."""
    from .infer import fit
    from .propose import LLMProposer, resolve_backend
    from .propose._benchmark_problems import benchmark_problem

    problem = benchmark_problem("theophylline").problem
    data = problem.data
    print(f"Cohort: {data!r}\n{data.description}\n")
    print(data.observations[["time", "mean", "sd", "n"]].to_string(index=False), "\n")
    t0 = time.perf_counter()
    backend = resolve_backend(args.llm)
    candidates = LLMProposer(backend).propose(problem, None, args.k, seed=args.seed)
    valid = [c for c in candidates if c.status == "valid" and c.model is not None]
    print(f"The language model ({backend.name}) drafted {len(valid)} valid structures in "
          f"{time.perf_counter() - t0:.1f} s. Named mechanisms (composed from the motif library) and free "
          f"equations alternate, each kind ranked by the model's log-probability of it (its structure prior):")
    for i, c in enumerate(valid):
        _print_candidate(i + 1, c)
    if not valid:
        print("no valid structure was proposed", file=sys.stderr)
        return 1
    best = valid[0]
    from .infer._chains import default_workers

    workers = min(args.chains, args.workers or default_workers())
    print(f"\nFitting the top-ranked structure with NUTS ({args.chains} chains x ({args.warmup} warm-up + "
          f"{args.samples} draws), {workers} at a time):")
    for line in best.model.equations():
        print("   ", line)
    t0 = time.perf_counter()
    result = fit(best.model, data, "nuts", num_warmup=args.warmup, num_samples=args.samples,
                 num_chains=args.chains, seed=args.seed, workers=args.workers, progress=True, warn=False)
    print(f"fitted in {time.perf_counter() - t0:.0f} s")
    print()
    _print_fit(result)
    print("\nPredicted cohort mean and SD (90% credible bands):")
    print(result.predict([0.5, 1, 2, 4, 8, 12, 24]).round(3).to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cohortode`` command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="cohortode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, warmup=500, samples=500):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--warmup", type=int, default=warmup, help="NUTS warm-up iterations per chain")
        p.add_argument("--samples", type=int, default=samples, help="NUTS draws per chain")
        p.add_argument("--chains", type=int, default=4, help="NUTS chains")
        p.add_argument("--workers", type=int, default=None,
                       help="processes for the chains (default: one per core; 1: one after another here)")
        p.add_argument("--progress", action="store_true", help="print a line as each NUTS chain finishes")

    p = sub.add_parser("demo", help="LLM drafts + NUTS fit on the bundled theophylline cohort")
    common(p)
    p.add_argument("--llm", default=None, help="model path, .gguf file or http://host:port#model (default: embedded)")
    p.add_argument("-k", type=int, default=8, help="number of structures to draft")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("fit", help="fit one structure (TOML) to a cohort")
    p.add_argument("--cohort", required=True, help="bundled cohort name or a directory with cohort.toml")
    p.add_argument("--model", required=True, help="model TOML file")
    p.add_argument("--method", choices=["map", "laplace", "nuts"], default="nuts")
    p.add_argument("--engine", default="sigma", help="sigma | mc | mc:N | fo")
    p.add_argument("--error", choices=["additive", "proportional", "combined"], default="combined")
    common(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("propose", help="draft candidate structures with the LLM")
    p.add_argument("--problem", default="theophylline")
    p.add_argument("--llm", default=None)
    p.add_argument("-k", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_propose)

    args = parser.parse_args(argv)
    from ._errors import CohortodeError

    try:
        return int(args.func(args))
    except (CohortodeError, FileNotFoundError) as exc:
        # the user's input was wrong: say what and where, without a traceback
        print(f"cohortode {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
