"""``cohortode fit``: fit one structure (a model TOML file) to a cohort."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import BadInput, command, err_console
from ._inputs import load_data, load_models
from ._printing import print_fit

METHODS = ("map", "laplace", "nuts")


@command("fit", help="Fit one structure (a model TOML file) to a cohort by MAP, Laplace or NUTS and print the "
                     "posterior summary; optionally write an HTML report.",
         example="cohortode fit --cohort theophylline --model cohorts/theophylline/model_onecomp_oral.toml "
                 "--method laplace --report theo.html")
def fit(
    cohort: str = typer.Option(..., "--cohort", "-c", help="bundled cohort name, directory, cohort.toml or CSV"),
    model: Path = typer.Option(..., "--model", "-m", help="model TOML file"),
    method: str = typer.Option("nuts", "--method", help="map | laplace | nuts"),
    engine: str = typer.Option("sigma", "--engine", help="moment engine: sigma | mc | mc:N | fo"),
    error: str = typer.Option("combined", "--error", help="residual error: additive | proportional | combined"),
    dosing: str = typer.Option(None, "--dosing", help="dosing CSV (with an observation CSV)"),
    seed: int = typer.Option(0, "--seed"),
    starts: int = typer.Option(8, "--starts", help="MAP optimiser starts"),
    warmup: int = typer.Option(500, "--warmup", help="NUTS warm-up iterations per chain"),
    samples: int = typer.Option(500, "--samples", help="NUTS draws per chain"),
    chains: int = typer.Option(4, "--chains", help="NUTS chains"),
    workers: int = typer.Option(None, "--workers", help="processes for the chains (default: one per core)"),
    progress: bool = typer.Option(False, "--progress", help="print a line as each NUTS chain finishes"),
    report: Path = typer.Option(None, "--report", help="write a self-contained HTML report of the fit here"),
    save: Path = typer.Option(None, "--save", help="save the fit to this folder (Fit.save; read with Fit.load)"),
) -> int:
    from ..infer import fit as run_fit

    if method not in METHODS:
        raise BadInput(f"--method {method!r}: choose one of {', '.join(METHODS)}.")
    if error not in ("additive", "proportional", "combined"):
        raise BadInput(f"--error {error!r}: choose additive, proportional or combined.")
    data = load_data(cohort, dosing=dosing)
    (structure,) = load_models([model])
    with err_console.status(f"fitting {model.name} by {method} ..."):
        result = run_fit(structure, data, method, engine=engine, error=error, num_warmup=warmup,
                         num_samples=samples, num_chains=chains, seed=seed, workers=workers, progress=progress,
                         n_starts=starts)
    print_fit(result)
    if save is not None:
        if not hasattr(result, "save"):
            raise BadInput("--save needs Fit.save, which this version lacks.")
        typer.echo(f"\nsaved: {result.save(save)}")
    if report is not None:
        from ..report._discovery import report_from_fits

        path, _ = report_from_fits(data, {structure.name or model.stem: result}, report, seed=seed,
                                   provenance={"command": "cohortode fit", "method": method, "seed": seed,
                                               "model file": str(model)})
        typer.echo(f"\nreport: {path}")
    return 0
