"""Per-cohort jobs of a batch: picklable callables ``job(cohort, run_dir) -> dict`` that write a report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FitJob", "DiscoverJob", "cohort_name"]


def cohort_name(cohort: str) -> str:
    """A cohort's display name from its path: the directory name, or the CSV file's stem."""
    p = Path(cohort)
    if p.name == "cohort.toml":
        return p.parent.name
    return p.stem if p.suffix else p.name


@dataclass(frozen=True)
class FitJob:
    """Fit given structures to the cohort, compare them, and write the report.

    Parameters
    ----------
    models
        Model TOML files (paths: the job is shipped to workers as text, so workers need no shared state).
    method
        ``"map"``, ``"laplace"`` or ``"nuts"``.
    seed, options
        Seed and further keyword arguments of :func:`cohortode.fit`.
    pdf
        Also print each report to PDF (needs Chromium).
    """

    models: tuple[str, ...]
    method: str = "laplace"
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    pdf: bool = False

    def __call__(self, cohort: str, run_dir: Path) -> dict[str, Any]:
        from ..datasets import load_cohort
        from ..infer import fit
        from ..report import print_pdf
        from ..report._discovery import report_from_fits
        from ..spec import ODEModel

        t0 = time.perf_counter()
        data = load_cohort(cohort)
        models = [ODEModel.from_toml(Path(m)) for m in self.models]
        fits = {}
        for i, (path, model) in enumerate(zip(self.models, models, strict=True)):
            name = model.name or Path(path).stem
            if name in fits:
                name = f"{name} ({i + 1})"
            fits[name] = fit(model, data, self.method, seed=self.seed, warn=False, **self.options)
        report, table = report_from_fits(data, fits, Path(run_dir) / "report.html", seed=self.seed,
                                         provenance={"job": "fit", "method": self.method, "seed": self.seed,
                                                     "models": ", ".join(self.models), "cohort": cohort})
        if self.pdf:
            print_pdf(report)
        best = next(iter(fits)) if table is None else str(table.sort_values("weight_stacking").iloc[-1]["name"])
        return {"report": str(report), "best": best, "seconds": time.perf_counter() - t0}


@dataclass(frozen=True)
class DiscoverJob:
    """Run :func:`cohortode.discover` on the cohort and write its report.

    The discovery records everything in ``<run_dir>/run`` (a :class:`~cohortode.discover.RunDirectory`), so a
    cohort interrupted part-way resumes from what it finished. Its screening and NUTS fits run one after another in
    the worker that runs the cohort (the batch's parallelism is across cohorts).

    Parameters
    ----------
    context, domain
        As in :func:`cohortode.discover` (an empty ``context`` uses each cohort's description).
    llm
        The language model (``None``: the embedded one; ``False``: the motif library only).
    budget, fit_settings
        :class:`cohortode.discover.Budget` and :class:`cohortode.discover.FitSettings` (``None``: the defaults).
    seed
        Seed of every discovery.
    pdf
        Also print each report to PDF (needs Chromium).
    """

    context: str = ""
    domain: str | None = None
    llm: str | bool | None = None
    budget: Any = None
    fit_settings: Any = None
    seed: int = 0
    pdf: bool = False

    def __call__(self, cohort: str, run_dir: Path) -> dict[str, Any]:
        import cohortode

        from ..datasets import load_cohort
        from ..discover import SerialExecutor
        from ..report import print_pdf
        from ..report._discovery import report_from_discovery

        t0 = time.perf_counter()
        data = load_cohort(cohort)
        disc = cohortode.discover(data, context=self.context or data.description, domain=self.domain, llm=self.llm,
                                  budget=self.budget, fit_settings=self.fit_settings, seed=self.seed,
                                  run_dir=Path(run_dir) / "run", resume=True, executor=SerialExecutor(),
                                  progress=False)
        report = report_from_discovery(disc, disc.data, Path(run_dir) / "report.html",
                                       provenance={"job": "discover", "seed": self.seed,
                                                   "llm": "none" if self.llm is False else self.llm or "embedded",
                                                   "domain": self.domain, "budget": self.budget,
                                                   "fit settings": self.fit_settings, "cohort": cohort})
        if self.pdf:
            print_pdf(report)
        table = disc.table()
        return {"report": str(report), "best": str(table["equations"].iloc[0]), "run_dir": str(disc.run_dir),
                "candidates": len(disc.candidates()), "fitted": len(table),
                "seconds": time.perf_counter() - t0}
