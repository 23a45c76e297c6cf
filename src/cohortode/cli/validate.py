"""``cohortode validate``: check a cohort's files (and a model file) and print every problem found."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import EXIT_BAD_INPUT, command, console
from ._problems import check_cohort, check_model


@command("validate", help="Check a cohort (observations, dosing, covariates) and model files; print every problem "
                          "with its file, row and column. Exit 2 when there is any error.",
         example="cohortode validate cohorts/theophylline --model cohorts/theophylline/model_onecomp_oral.toml")
def validate(
    cohort: str = typer.Argument(..., help="bundled cohort name, cohort directory, cohort.toml or observation CSV"),
    dosing: str = typer.Option(None, "--dosing", help="dosing CSV (with an observation CSV)"),
    covariates: str = typer.Option(None, "--covariates", help="covariate CSV (with an observation CSV)"),
    arm: str = typer.Option(None, "--arm", help="cohort name for a CSV without a 'cohort' column"),
    observable: str = typer.Option(None, "--observable", help="observable name for a CSV without that column"),
    model: list[Path] = typer.Option([], "--model", "-m", help="model TOML file(s) to check against the data"),
) -> int:
    problems, arms, facts = check_cohort(cohort, dosing=dosing, covariates=covariates, arm=arm,
                                         observable=observable)
    for m in model:
        problems += check_model(str(m), facts)
    order = {f: i for i, f in enumerate(dict.fromkeys(p.file for p in problems))}
    problems.sort(key=lambda p: (order[p.file], p.row is not None, p.row or 0))
    errors = [p for p in problems if p.level == "error"]
    for p in problems:
        console.print(f"{p.level}: {p}", markup=False)
    if errors:
        console.print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s) in {cohort}", markup=False)
        return EXIT_BAD_INPUT
    what = f"{facts.get('rows', 0)} rows, {len(arms)} arm(s) {arms}, observables {facts.get('observables', [])}"
    console.print(f"ok: {cohort}: {what}" + (f"; {len(model)} model file(s) fit the data" if model else ""),
                  markup=False)
    return 0
