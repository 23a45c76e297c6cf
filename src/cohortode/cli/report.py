"""``cohortode report``: a self-contained HTML report from a run directory or from fitted model files."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import BadInput, command
from ._fitting import fit_models
from ._inputs import load_data
from .compare import is_saved_fit, load_fits
from ._options import parse_changes, parse_regimen


@command("report", help="Write a self-contained HTML report (plots and equations embedded, no network needed) "
                        "from saved fits, from a discover run directory, or by fitting model files to a cohort; "
                        "--pdf also prints it to PDF with headless Chromium.",
         example="cohortode report --cohort theophylline -m one.toml -m two.toml --method laplace -o theo.html --pdf")
def report(
    run: Path = typer.Argument(None, help="a saved fit (folder of `fit --save`) or a discover run directory"),
    fit: list[Path] = typer.Option([], "--fit", help="further saved fits to report with the first"),
    cohort: str = typer.Option(None, "--cohort", "-c",
                               help="cohort to fit --model files to (a run directory records its own data)"),
    model: list[Path] = typer.Option([], "--model", "-m", help="model TOML files to fit and report"),
    method: str = typer.Option("laplace", "--method", help="map | laplace | nuts"),
    output: Path = typer.Option(None, "--output", "-o", help="HTML file (default: report.html in the run or here)"),
    pdf: bool = typer.Option(False, "--pdf", help="also print the report to PDF (needs Chromium)"),
    seed: int = typer.Option(0, "--seed"),
    starts: int = typer.Option(8, "--starts", help="MAP optimiser starts"),
    draws: int = typer.Option(1000, "--draws", help="Laplace draws"),
    level: float = typer.Option(0.9, "--level", help="credible level of bands and intervals"),
    change: list[str] = typer.Option([], "--change", help="counterfactual: NAME=FACTOR multiplies a typical value "
                                                          "(ke=0.5), NAME==VALUE sets it"),
    regimen: str = typer.Option(None, "--regimen", help="counterfactual dosing: amount=A,target=S[,interval=T,"
                                                        "n_doses=N,duration=D,start=T0]"),
    refit: bool = typer.Option(True, "--refit/--no-refit", help="exact leave-one-out refits for high Pareto k "
                                                                 "rows (when cohortode.compare provides them)"),
) -> int:
    import cohortode

    from ..report import print_pdf
    from ..report._discovery import report_from_fits, report_from_run_dir

    if not 0 < level < 1:
        raise BadInput(f"--level {level}: give a number between 0 and 1.")
    if run is not None and model:
        raise BadInput("give a run directory or --model files, not both.")
    if run is not None and is_saved_fit(run):
        fits = load_fits([run, *fit])
        data = next(iter(fits.values())).data
        path, _ = report_from_fits(data, fits, output or Path("report.html"), seed=seed, level=level,
                                   compare_options=None if refit else {"refit": False},
                                   provenance={"command": "cohortode report", "fits": ", ".join(map(str, [run, *fit]))})
    elif run is not None:
        data = load_data(cohort) if cohort else None
        path = report_from_run_dir(run, output, data=data, level=level)
    elif model:
        if cohort is None:
            raise BadInput("--model files need --cohort.")
        data = load_data(cohort)
        parsed_changes = parse_changes(change)
        parsed_regimen = parse_regimen(regimen)
        if (parsed_changes or parsed_regimen) and not hasattr(cohortode, "Ensemble"):
            raise BadInput("--change and --regimen need cohortode.Ensemble, which this version lacks.")
        fits = fit_models(data, model, method, seed, n_starts=starts, laplace_draws_n=draws)
        path, _ = report_from_fits(data, fits, output or Path("report.html"), seed=seed, level=level,
                                   regimen=parsed_regimen, changes=parsed_changes,
                                   compare_options=None if refit else {"refit": False},
                                   provenance={"command": "cohortode report", "method": method, "seed": seed,
                                               "models": ", ".join(map(str, model)), "cohort": cohort})
    else:
        raise BadInput("give a run directory, or --cohort with --model files.")
    typer.echo(f"report: {path}")
    if pdf:
        typer.echo(f"pdf: {print_pdf(path)}")
    return 0
