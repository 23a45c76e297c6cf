"""Printing fits and candidates on the terminal."""

from __future__ import annotations

import pandas as pd
import typer

__all__ = ["print_fit", "print_candidate", "markdown_table"]


def print_fit(fit) -> None:
    """A fit's summary: MAP estimates, or the posterior summary and NUTS diagnostics."""
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        typer.echo(repr(fit))
        if fit.method == "map":
            typer.echo("\nMAP estimates (typical values, IIV SDs on the log scale, residual SDs):")
            typer.echo(fit.summary()[["map"]].round(4).to_string())
            return
        typer.echo("\nPosterior summary (typical values, IIV SDs on the log scale, residual SDs):")
        typer.echo(fit.summary().round(4).to_string())
        if fit.method == "nuts":
            d = fit.diagnostics
            typer.echo(f"\nDiagnostics: max R-hat {d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
                       f"min tail ESS {d['min_ess_tail']:.0f}, divergences {d['divergences']}"
                       + ("" if d["ok"] else "  <- " + "; ".join(d["problems"])))


def print_candidate(rank: int, c) -> None:
    """One candidate: rank, source, log prior, mechanism or equations (valid) or the reason (rejected)."""
    lp = "n/a" if c.log_prior is None else f"{c.log_prior:.2f}"
    if c.status != "valid" or c.model is None:
        typer.echo(f"  {rank:2d}. [{c.status}] {c.source}: {c.reason}")
        return
    what = " + ".join(c.mechanism) if getattr(c, "mechanism", None) else "equations written by the model"
    typer.echo(f"  {rank:2d}. [{c.source}, log prior {lp}] {what}")
    for line in c.model.equations():
        typer.echo(f"        {line}")


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub-flavoured Markdown table (no dependency on ``tabulate``)."""
    def cell(v) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"
