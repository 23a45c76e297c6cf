"""``cohortode discover``: the discovery loop on a cohort (propose, screen, fit, compare, ensemble) and its report."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import RunFailed, command, err_console
from ._inputs import load_data
from ._options import parse_budget, read_context
from ._printing import markdown_table


@command("discover", help="Discover ODE structures for a cohort: the LLM and the motif library propose, cheap fits "
                          "screen, NUTS fits the survivors; prints the comparison table and writes a report. "
                          "Resumes from --run-dir.",
         example="cohortode discover cohorts/theophylline --domain pk --context 'oral theophylline, 12 adults' "
                 "--budget rounds=2,candidates=12 --run-dir runs/theo --seed 1")
def discover(
    cohort: str = typer.Argument(..., help="bundled cohort name, cohort directory, cohort.toml or CSV"),
    llm: str = typer.Option(None, "--llm", help="model directory, .gguf file or http://host:port#model"),
    no_llm: bool = typer.Option(False, "--no-llm", help="propose with the motif library and mutations only"),
    context: str = typer.Option(None, "--context", help="a sentence about the study"),
    context_file: Path = typer.Option(None, "--context-file", help="a text file with the context"),
    domain: str = typer.Option(None, "--domain", help="pk, pd, epidemic, growth, progression, ..."),
    budget: list[str] = typer.Option([], "--budget", help="KEY=VALUE[,KEY=VALUE] of cohortode.Budget: rounds, "
                                                          "candidates_per_round, candidates, wall_time, "
                                                          "occam=false, ..."),
    seed: int = typer.Option(0, "--seed"),
    run_dir: Path = typer.Option(None, "--run-dir", help="run directory (records everything; resumed if present)"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="reuse finished work in --run-dir"),
    workers: int = typer.Option(None, "--workers", help="worker processes (default: one per core)"),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster"),
    warmup: int = typer.Option(None, "--warmup", help="NUTS warm-up iterations per chain (default: FitSettings')"),
    samples: int = typer.Option(None, "--samples", help="NUTS draws per chain"),
    chains: int = typer.Option(None, "--chains", help="NUTS chains"),
    report: Path = typer.Option(None, "--report", help="HTML report (default: report.html in the run directory)"),
    pdf: bool = typer.Option(False, "--pdf", help="also print the report to PDF (needs Chromium)"),
) -> int:
    import cohortode

    from ..batch import make_executor
    from ..report import print_pdf
    from ..report._discovery import report_from_discovery

    text = read_context(context, context_file)
    parsed_budget = parse_budget(budget)
    data = load_data(cohort)
    if not hasattr(cohortode, "discover"):
        raise RunFailed("cohortode.discover is not available in this version (issue 10); use `cohortode fit` or "
                        "`cohortode report --model ...` meanwhile.")
    settings = None
    given = {k: v for k, v in (("num_warmup", warmup), ("num_samples", samples), ("num_chains", chains))
             if v is not None}
    if given:
        from ..discover import FitSettings  # the discovery's settings (screening and NUTS), not infer's

        settings = FitSettings(**given)
    executor, close = (None, None)
    if workers == 1 and scheduler is None:
        from ..discover import SerialExecutor

        executor = SerialExecutor()
    elif workers or scheduler:
        executor, close = make_executor(workers, scheduler)
    try:
        disc = cohortode.discover(data, context=text or data.description, domain=domain,
                                  llm=False if no_llm else llm,
                                  budget=parsed_budget, fit_settings=settings, seed=seed, run_dir=run_dir,
                                  resume=resume, executor=executor, progress=True)
    finally:
        if close is not None:
            close()
    typer.echo(markdown_table(disc.table()))
    if getattr(disc, "ensemble", None) is None:
        err_console.print("no report: this discovery has no ensemble (its comparison stage built none); the table "
                          "above is its result.", markup=False)
        return 0
    path = report or ((run_dir or Path(".")) / "report.html")
    prov = {"command": "cohortode discover", "seed": seed, "llm": "none" if no_llm else llm or "embedded",
            "domain": domain, "budget": parsed_budget, "fit settings": settings, "context": text}
    report_from_discovery(disc, data, path, provenance=prov)
    typer.echo(f"report: {path}")
    if pdf:
        typer.echo(f"pdf: {print_pdf(path)}")
    return 0
