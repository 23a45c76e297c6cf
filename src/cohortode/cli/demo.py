"""``cohortode demo``: drafts from the embedded LLM for the bundled theophylline cohort, then a NUTS fit of the top one.

When :func:`cohortode.discover` is available (issue 10) the demo becomes a default discovery; until then it shows the
proposer and one fit.
"""

from __future__ import annotations

import time

import typer

from ._app import RunFailed, command
from ._printing import print_candidate, print_fit


@command("demo", help="Draft structures for the bundled theophylline cohort with the embedded LLM, fit the "
                      "top-ranked one with NUTS and print the posterior and predictions.",
         example="cohortode demo -k 4 --chains 2 --warmup 200 --samples 200")
def demo(
    llm: str = typer.Option(None, "--llm", help="model directory, .gguf file or http://host:port#model"),
    k: int = typer.Option(8, "-k", help="number of structures to draft"),
    seed: int = typer.Option(0, "--seed"),
    warmup: int = typer.Option(500, "--warmup", help="NUTS warm-up iterations per chain"),
    samples: int = typer.Option(500, "--samples", help="NUTS draws per chain"),
    chains: int = typer.Option(4, "--chains", help="NUTS chains"),
    workers: int = typer.Option(None, "--workers", help="processes for the chains (default: one per core)"),
) -> int:
    from ..infer import fit
    from ..infer._chains import default_workers
    from ..propose import LLMProposer, resolve_backend
    from ..propose._benchmark_problems import benchmark_problem

    problem = benchmark_problem("theophylline").problem
    data = problem.data
    typer.echo(f"Cohort: {data!r}\n{data.description}\n")
    typer.echo(data.observations[["time", "mean", "sd", "n"]].to_string(index=False) + " \n")
    t0 = time.perf_counter()
    backend = resolve_backend(llm)
    candidates = LLMProposer(backend).propose(problem, None, k, seed=seed)
    valid = [c for c in candidates if c.status == "valid" and c.model is not None]
    typer.echo(f"The language model ({backend.name}) drafted {len(valid)} valid structures in "
               f"{time.perf_counter() - t0:.1f} s. Named mechanisms (composed from the motif library) and free "
               f"equations alternate, each kind ranked by the model's log-probability of it (its structure prior):")
    for i, c in enumerate(valid):
        print_candidate(i + 1, c)
    if not valid:
        raise RunFailed("no valid structure was proposed")
    best = valid[0]
    n_workers = min(chains, workers or default_workers())
    typer.echo(f"\nFitting the top-ranked structure with NUTS ({chains} chains x ({warmup} warm-up + "
               f"{samples} draws), {n_workers} at a time):")
    for line in best.model.equations():
        typer.echo(f"    {line}")
    t0 = time.perf_counter()
    result = fit(best.model, data, "nuts", num_warmup=warmup, num_samples=samples, num_chains=chains, seed=seed,
                 workers=workers, progress=True, warn=False)
    typer.echo(f"fitted in {time.perf_counter() - t0:.0f} s\n")
    print_fit(result)
    typer.echo("\nPredicted cohort mean and SD (90% credible bands):")
    typer.echo(result.predict([0.5, 1, 2, 4, 8, 12, 24]).round(3).to_string(index=False))
    return 0
