"""``cohortode discover``: the discovery loop on a cohort (propose, screen, fit, compare, ensemble) and its report."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import RunFailed, command
from ._inputs import load_data
from ._options import parse_budget, read_context
from ._printing import markdown_table


@command("discover", help="Discover ODE structures for a cohort: the LLM and the motif library propose, cheap fits "
                          "screen, NUTS fits the survivors; prints the comparison table and writes a report. "
                          "Resumes from --run-dir.",
         example="cohortode discover cohorts/theophylline --domain pk --context 'oral theophylline, 12 adults' "
                 "--budget rounds=2,max_candidates=12 --run-dir runs/theo --seed 1")
def discover(
    cohort: str = typer.Argument(..., help="bundled cohort name, cohort directory, cohort.toml or CSV"),
    llm: str = typer.Option(None, "--llm", help="model directory, .gguf file or http://host:port#model"),
    context: str = typer.Option(None, "--context", help="a sentence about the study"),
    context_file: Path = typer.Option(None, "--context-file", help="a text file with the context"),
    domain: str = typer.Option(None, "--domain", help="pk, pd, epidemic, growth, progression, ..."),
    budget: list[str] = typer.Option([], "--budget", help="KEY=VALUE[,KEY=VALUE] of cohortode.Budget: rounds, "
                                                          "candidates_per_round, max_candidates, wall_time, ..."),
    seed: int = typer.Option(0, "--seed"),
    run_dir: Path = typer.Option(None, "--run-dir", help="run directory (records everything; resumed if present)"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="reuse finished work in --run-dir"),
    workers: int = typer.Option(None, "--workers", help="worker processes (default: one per core)"),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster"),
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
    executor, close = (None, None)
    if workers or scheduler:
        executor, close = make_executor(workers, scheduler)
    try:
        disc = cohortode.discover(data, context=text or data.description, domain=domain, llm=llm,
                                  budget=parsed_budget, seed=seed, run_dir=run_dir, resume=resume, executor=executor,
                                  progress=True)
    finally:
        if close is not None:
            close()
    typer.echo(markdown_table(disc.table()))
    path = report or ((run_dir or Path(".")) / "report.html")
    report_from_discovery(disc, data, path, provenance={"command": "cohortode discover", "seed": seed,
                                                        "llm": llm or "embedded", "domain": domain,
                                                        "budget": parsed_budget, "context": text})
    typer.echo(f"report: {path}")
    if pdf:
        typer.echo(f"pdf: {print_pdf(path)}")
    return 0
