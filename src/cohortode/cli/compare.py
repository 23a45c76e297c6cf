"""``cohortode compare``: model-comparison tables as CSV, Markdown or HTML."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import BadInput, command
from ._fitting import fit_models
from ._inputs import load_data
from ._printing import markdown_table

FORMATS = ("csv", "markdown", "html")


def is_saved_fit(path: Path) -> bool:
    """A folder written by ``Fit.save``."""
    return (Path(path) / "model.toml").is_file() and (Path(path) / "settings.json").is_file()


def load_fits(paths: list[Path]) -> dict:
    """Saved fits by name (the model's name, else the folder's)."""
    from ..infer import Fit

    if not hasattr(Fit, "load"):
        raise BadInput("reading saved fits needs Fit.load, which this version lacks.")
    fits = {}
    for p in paths:
        fit = Fit.load(p)
        name = fit.model.name or Path(p).name
        fits[name if name not in fits else f"{name} ({Path(p).name})"] = fit
    return fits


def _table_from_run(run: Path):
    import cohortode

    if not run.is_dir():
        raise BadInput(f"run directory {str(run)!r} does not exist.")
    if hasattr(cohortode, "Discovery") and hasattr(cohortode.Discovery, "load"):
        return cohortode.Discovery.load(run).table()
    raise BadInput("reading finished runs needs cohortode.discover's run directories, which this version lacks; "
                   "compare model files with --cohort and --model instead.")


CV_METHODS = ("loo", "kfold")
"""Values of ``--cv``."""


@command("compare", help="Print a model-comparison table (PSIS-LOO, stacking and pseudo-BMA+ weights) from saved fits "
                         "(fit --save) or finished runs, or from model files fitted to a cohort, as CSV, Markdown "
                         "or HTML.",
         example="cohortode compare --cohort theophylline -m one.toml -m two.toml --method laplace --format markdown")
def compare(
    runs: list[Path] = typer.Argument(None, help="saved fits (folders of `fit --save`) or discover run directories"),
    cohort: str = typer.Option(None, "--cohort", "-c", help="cohort to fit the --model files to"),
    model: list[Path] = typer.Option([], "--model", "-m", help="model TOML files to fit and compare"),
    method: str = typer.Option("laplace", "--method", help="map | laplace | nuts"),
    fmt: str = typer.Option("markdown", "--format", "-f", help="csv | markdown | html"),
    output: Path = typer.Option(None, "--output", "-o", help="write the table here instead of printing it"),
    seed: int = typer.Option(0, "--seed"),
    refit: bool = typer.Option(True, "--refit/--no-refit", help="exact leave-one-out refits for high Pareto k "
                                                                 "rows (when cohortode.compare provides them)"),
    cv: str = typer.Option("loo", "--cv", help="loo (PSIS-LOO with exact refits) | kfold (K-fold over blocks of "
                                                "consecutive time points, for many rows of high Pareto k)"),
    folds: int = typer.Option(5, "--folds", help="number of blocks of time points for --cv kfold"),
    starts: int = typer.Option(8, "--starts", help="MAP optimiser starts"),
    draws: int = typer.Option(1000, "--draws", help="Laplace draws"),
) -> int:
    import pandas as pd

    from ..report import compare_fits

    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if cv not in CV_METHODS:
        raise BadInput(f"--cv {cv!r}: choose one of {', '.join(CV_METHODS)}.")
    options = {} if refit else {"refit": False}
    if cv == "kfold":
        options.update(cv="kfold", folds=folds)
    tables = []
    runs = list(runs or [])
    saved = [r for r in runs if is_saved_fit(r)]
    if saved:
        tables.append(compare_fits(load_fits(saved), seed=seed, **options))
    for run in runs:
        if run not in saved:
            tables.append(_table_from_run(run).assign(run=str(run)))
    if cohort is not None or model:
        if cohort is None:
            raise BadInput("--model files need --cohort.")
        fits = fit_models(load_data(cohort), model, method, seed, n_starts=starts, laplace_draws_n=draws)
        tables.append(compare_fits(fits, seed=seed, **options))
    if not tables:
        raise BadInput("give run directories, or --cohort with --model files.")
    table = pd.concat(tables, ignore_index=True)
    if fmt == "csv":
        text = table.to_csv(index=False)
    elif fmt == "html":
        text = table.to_html(index=False, border=0, table_id="comparison")
    else:
        text = markdown_table(table)
    if output is None:
        typer.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
    return 0
