"""Every problem in a cohort's files, not only the first: validate, drop the offending row, validate again."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._errors import CohortDataError, CohortDataWarning

__all__ = ["Problem", "check_cohort", "MAX_PROBLEMS"]

#: At most this many problems are reported per file.
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, 1-based data row, column) and what; ``level`` is ``"error"`` or ``"warning"``."""

    file: str | None
    row: int | None
    column: str | None
    message: str
    level: str = "error"

    @classmethod
    def from_error(cls, exc: Exception, *, row: int | None = None, file: str | None = None) -> Problem:
        if isinstance(exc, CohortDataError):
            return cls(exc.file if file is None else file, exc.row if row is None else row, exc.column, exc.reason)
        return cls(file, row, None, " ".join(str(exc).split()))

    def __str__(self) -> str:
        where = [f"file {self.file!r}" if self.file else "input"]
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1} of the file)")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"


def _all_row_problems(check: Callable[[pd.DataFrame], object], table: pd.DataFrame, file: str | None
                      ) -> tuple[list[Problem], object]:
    """Run ``check`` on ``table``; after each row-level error drop that row and check again."""
    current = table.reset_index(drop=True)
    rows = list(range(1, len(current) + 1))
    problems: list[Problem] = []
    while len(problems) < MAX_PROBLEMS:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CohortDataWarning)
                result = check(current)
        except CohortDataError as exc:
            if exc.row is None or not 1 <= exc.row <= len(rows):
                problems.append(Problem.from_error(exc))
                return problems, None
            problems.append(Problem.from_error(exc, row=rows[exc.row - 1]))
            if len(current) == 1:
                return problems, None
            current = current.drop(index=exc.row - 1).reset_index(drop=True)
            del rows[exc.row - 1]
            continue
        for w in caught:
            if issubclass(w.category, CohortDataWarning):
                problems.append(Problem(file, None, None, " ".join(str(w.message).split()), "warning"))
        return problems, (None if any(p.level == "error" for p in problems) else result)
    return problems, None


def check_cohort(cohort: str, *, dosing: str | None = None, covariates: str | None = None, arm: str | None = None,
                 observable: str | None = None) -> tuple[list[Problem], list[str], dict]:
    """Check a cohort's observation, dosing and covariate files; returns (problems, arm names, facts)."""
    from ..data._covariates import validate_covariates
    from ..data._directory import read_cohort_toml
    from ..data._dosing import validate_dosing
    from ..data._io import read_csv
    from ..data._validate import validate_observations
    from ..datasets import cohorts_dir, load_cohort

    path = Path(cohort).expanduser()
    if not path.exists() and (cohorts_dir() / cohort).is_dir():
        path = cohorts_dir() / cohort
    if not path.exists():
        try:
            load_cohort(cohort)  # the same message (with "did you mean") as every other command
        except CohortDataError as exc:
            return [Problem.from_error(exc)], [], {}
    files: dict[str, str | None] = {"observations": None, "dosing": dosing, "covariates": covariates}
    opts: dict = {"columns": None, "cohort": arm, "observable": observable}
    if path.is_dir() or path.name == "cohort.toml":
        try:
            doc = read_cohort_toml(path if path.is_dir() else path.parent)
        except CohortDataError as exc:
            return [Problem.from_error(exc)], [], {}
        files = {k: doc["files"].get(k) for k in files}
        opts = {"columns": doc.get("columns"), "cohort": doc.get("cohort"), "observable": doc.get("observable")}
    else:
        files["observations"] = str(path)

    problems: list[Problem] = []
    facts: dict = {"files": {k: v for k, v in files.items() if v}}
    arms: list[str] = []
    obs_file = files["observations"]
    try:
        raw = read_csv(obs_file, text_columns=("cohort", "observable"))
    except CohortDataError as exc:
        return [Problem.from_error(exc)], [], facts
    found, obs = _all_row_problems(
        lambda df: validate_observations(df, file=obs_file, **opts), raw, obs_file)
    problems += found
    if obs is not None:
        arms = list(dict.fromkeys(obs["cohort"]))
        facts.update(rows=len(obs), observables=sorted(set(obs["observable"])), times=sorted(set(obs["time"])))
    elif opts["cohort"] is not None:
        arms = [opts["cohort"]]
    elif "cohort" in raw.columns:
        arms = [str(a) for a in dict.fromkeys(raw["cohort"].dropna())]
    for key, validator in (("dosing", validate_dosing), ("covariates", validate_covariates)):
        file = files.get(key)
        if not file:
            continue
        try:
            table = read_csv(file, text_columns=("cohort", "target"))
        except CohortDataError as exc:
            problems.append(Problem.from_error(exc))
            continue
        found, result = _all_row_problems(
            lambda df, v=validator, f=file: v(df, cohorts=arms, file=f, default_cohort=opts["cohort"]), table, file)
        problems += found
        if key == "dosing":
            targets = result["target"] if result is not None else table.get("target")
            if targets is not None:
                facts["dose_targets"] = sorted({str(t) for t in targets.dropna()})
    return problems, arms, facts


def check_model(model_file: str, facts: dict) -> list[Problem]:
    """Check a model file, and that it fits the data: observables and dose targets."""
    from ..spec import ODEModel

    if not Path(model_file).is_file():
        return [Problem(model_file, None, None, "no such file; check the path.")]
    try:
        model = ODEModel.from_toml(Path(model_file))
    except Exception as exc:  # noqa: BLE001 - the parser's message is the problem to show
        return [Problem(model_file, None, None, " ".join(str(exc).split()))]
    problems = []
    for name in facts.get("observables", []):
        if name not in model.observable_names:
            problems.append(Problem(model_file, None, "observables",
                                    f"the data have observable {name!r} but the model defines only "
                                    f"{list(model.observable_names)}; add [observables] {name} = \"...\"."))
    for target in facts.get("dose_targets", []):
        if target not in model.states:
            problems.append(Problem(model_file, None, "states",
                                    f"the dosing table doses state {target!r} but the model's states are "
                                    f"{list(model.states)}."))
    return problems


__all__ += ["check_model"]
