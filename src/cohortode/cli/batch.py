"""``cohortode batch``: many cohorts, one run and one report each, plus an index page."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import EXIT_FAILED, BadInput, command, console
from ._fitting import METHODS
from ._options import parse_budget, read_context


@command("batch", help="Run a discovery on each of many cohorts in parallel (local process pool, or a Dask cluster "
                       "with --scheduler): one run directory and one report each, and index.html listing them, "
                       "failures with their error. With --model files, fits those to each cohort instead. An "
                       "interrupted batch resumes from its run directories. Exit 1 when a cohort failed.",
         example="cohortode batch cohorts/*/ --no-llm --domain pk --budget rounds=2,candidates=8 "
                 "--out runs/batch --workers 2")
def batch(
    cohorts: list[str] = typer.Argument(..., help="cohort directories, cohort.toml files or observation CSVs"),
    out: Path = typer.Option(Path("runs/batch"), "--out", "-o", help="batch directory (index.html, one folder each)"),
    model: list[Path] = typer.Option([], "--model", "-m", help="model TOML files to fit instead of discovering"),
    method: str = typer.Option("laplace", "--method", help="with --model: map | laplace | nuts"),
    llm: str = typer.Option(None, "--llm", help="discover: model directory, .gguf file or http://host:port#model"),
    no_llm: bool = typer.Option(False, "--no-llm", help="discover: motif library and mutations only"),
    context: str = typer.Option(None, "--context", help="discover: a sentence about the studies"),
    context_file: Path = typer.Option(None, "--context-file", help="discover: a text file with the context"),
    domain: str = typer.Option(None, "--domain", help="discover: pk, pd, epidemic, growth, ..."),
    budget: list[str] = typer.Option([], "--budget", help="discover: KEY=VALUE[,KEY=VALUE] of cohortode.Budget: "
                                                          "rounds, candidates_per_round, candidates, wall_time, "
                                                          "occam=false, ..."),
    warmup: int = typer.Option(None, "--warmup", help="discover: NUTS warm-up iterations per chain"),
    samples: int = typer.Option(None, "--samples", help="discover: NUTS draws per chain"),
    chains: int = typer.Option(None, "--chains", help="discover: NUTS chains"),
    seed: int = typer.Option(0, "--seed"),
    starts: int = typer.Option(8, "--starts", help="MAP optimiser starts"),
    draws: int = typer.Option(1000, "--draws", help="Laplace draws"),
    workers: int = typer.Option(None, "--workers", help="parallel cohorts (default: one per core; 1: in process)"),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="skip cohorts with a finished report"),
    pdf: bool = typer.Option(False, "--pdf", help="also print each report to PDF (needs Chromium)"),
) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..batch import DiscoverJob, FitJob, run_batch

    if method not in METHODS:
        raise BadInput(f"--method {method!r}: choose one of {', '.join(METHODS)}.")
    if model:
        missing = [str(m) for m in model if not Path(m).is_file()]
        if missing:
            raise BadInput(f"model file(s) {missing} do not exist.")
        job = FitJob(tuple(str(Path(m).resolve()) for m in model), method=method, seed=seed, pdf=pdf,
                     options={"n_starts": starts, "laplace_draws_n": draws})
    else:
        given = {k: v for k, v in (("num_warmup", warmup), ("num_samples", samples), ("num_chains", chains))
                 if v is not None}
        settings = None
        if given:
            from ..discover import FitSettings

            try:
                settings = FitSettings(**given)
            except ValueError as exc:
                raise BadInput(f"--warmup/--samples/--chains: {exc}") from None
        job = DiscoverJob(context=read_context(context, context_file), domain=domain, llm=False if no_llm else llm,
                          budget=parse_budget(budget), fit_settings=settings, seed=seed, pdf=pdf)
    cohorts = [str(Path(c).resolve()) if Path(c).exists() else c for c in cohorts]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("cohorts", total=len(cohorts))

        def done(entry: dict) -> None:
            progress.advance(task)
            mark = "ok" if entry["status"] == "ok" else f"FAILED: {entry.get('error')}"
            progress.console.print(f"{entry['name']}: {mark}", markup=False)

        result = run_batch(cohorts, out, job, workers=workers, scheduler=scheduler, resume=resume, on_done=done)
    console.print(f"index: {result.index}  ({len(result.entries) - len(result.failed)} ok, "
                  f"{len(result.failed)} failed)", markup=False)
    return EXIT_FAILED if result.failed else 0
