"""``cohortode demo``: a discovery on the bundled theophylline cohort with the embedded language model.

The README's main command (``make demo``) runs this: the language model and the motif library propose structures,
screening fits rank them, NUTS fits the best, and the demo prints the comparison table, the ensemble's predictions
and the path of the HTML report. The budget is small enough for a few minutes on two cores; ``--rounds`` and
``--candidates`` widen it.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import RunFailed, command
from ._printing import markdown_table

DEMO_TIMES = (0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0)
"""Hours after the dose at which the demo prints the ensemble's predictions."""
SHOWN_COLUMNS = ("rank", "equations", "n_parameters", "elpd_loo", "se", "elpd_diff", "n_high_k", "weight_stacking",
                 "weight_pseudo_bma", "bic", "max_r_hat", "min_ess_bulk", "divergences")
"""Columns of the comparison table the demo prints (the report and ``cohortode compare`` show all of them)."""


@command("demo", help="Discover structures for the bundled theophylline cohort with the embedded LLM and the motif "
                      "library, fit the best with NUTS, and print the comparison table, the ensemble's predictions "
                      "and the report's path.",
         example="cohortode demo --rounds 1 --candidates 4 --chains 2 --warmup 200 --samples 200")
def demo(
    llm: str = typer.Option(None, "--llm", help="model directory, .gguf file or http://host:port#model"),
    seed: int = typer.Option(0, "--seed"),
    rounds: int = typer.Option(2, "--rounds", help="propose -> screen rounds"),
    candidates: int = typer.Option(6, "--candidates", help="new structures screened per round"),
    top_k: int = typer.Option(3, "--top-k", help="structures fitted with NUTS"),
    warmup: int = typer.Option(300, "--warmup", help="NUTS warm-up iterations per chain"),
    samples: int = typer.Option(300, "--samples", help="NUTS draws per chain"),
    chains: int = typer.Option(4, "--chains", help="NUTS chains"),
    workers: int = typer.Option(None, "--workers", help="worker processes (default: one per core; 1: this process)"),
    run_dir: Path = typer.Option(Path("runs/demo"), "--run-dir", help="run directory (resumed when it exists)"),
) -> int:
    import cohortode

    from ..discover import Budget, FitSettings, SerialExecutor
    from ..propose import resolve_backend
    from ..report._discovery import report_from_discovery

    data = cohortode.load_cohort("theophylline")
    typer.echo(f"Cohort: {data!r}\n{data.description}\n")
    typer.echo(data.observations[["time", "mean", "sd", "n"]].to_string(index=False) + "\n")
    budget = Budget(rounds=rounds, candidates_per_round=candidates, candidates=rounds * candidates, top_k=top_k,
                    elpd_margin=0.0, max_final=top_k)
    settings = FitSettings(num_warmup=warmup, num_samples=samples, num_chains=chains)
    executor = SerialExecutor() if workers == 1 else None
    t0 = time.perf_counter()
    backend = resolve_backend(llm)  # loaded once, here: a model that cannot be loaded fails the demo at once
    disc = cohortode.discover(data, context=data.description, domain="pk", llm=backend, budget=budget,
                              fit_settings=settings, seed=seed, run_dir=run_dir, executor=executor, progress=True)
    typer.echo(f"\nDiscovery finished in {time.perf_counter() - t0:.0f} s ({disc.stopped}).")
    tried = disc.candidates()
    typer.echo(f"{len(tried)} structures tried; status: "
               + ", ".join(f"{k} {v}" for k, v in tried["status"].value_counts().items()))
    if disc.ensemble is None:
        raise RunFailed("the discovery built no ensemble (no structure survived screening)")
    typer.echo("\nModel comparison (NUTS fits; stacking weights make the ensemble):")
    table = disc.table()
    typer.echo(markdown_table(table[[c for c in SHOWN_COLUMNS if c in table.columns]]))
    if "left_out" in table.columns:
        for rank, reason in zip(table["rank"], table["left_out"]):
            if reason:
                typer.echo(f"rank {rank} has no weight: it {reason}")
    typer.echo("\nEnsemble prediction of the cohort mean and SD (90% credible bands):")
    typer.echo(disc.ensemble.predict(list(DEMO_TIMES)).round(3).to_string(index=False))
    path = report_from_discovery(disc, data, run_dir / "report.html",
                                 provenance={"command": "cohortode demo", "seed": seed, "llm": backend.name})
    typer.echo(f"\nreport: {path}")
    return 0
