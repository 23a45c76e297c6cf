"""Validation of a count table (counts or fractions of one population per cohort, time and observable)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._columns import as_str_column, did_you_mean, first_row, rename_columns, to_numeric
from ._validate import _check_duplicates, _check_time, _require_finite

__all__ = ["COUNT_COLUMNS", "COUNT_CANONICAL_COLUMNS", "COUNT_MODELS", "validate_counts"]

COUNT_COLUMNS = ("cohort", "time", "observable", "count", "fraction", "population", "observation")
"""Column names a count table may map with ``columns=``."""
COUNT_CANONICAL_COLUMNS = ("cohort", "time", "observable", "count", "population", "fraction", "observation", "mean",
                           "source_row")
COUNT_MODELS = ("binomial", "poisson", "negative_binomial")
"""Observation models of count tables (``"cohort_mean"`` belongs to mean/SD/n tables)."""
DEFAULT_COHORT = "all"


def validate_counts(
    df: pd.DataFrame,
    *,
    file: str | None = None,
    columns: Mapping[str, str] | None = None,
    cohort: str | None = None,
    observable: str | None = None,
    observation: str | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Check a count table and return it in canonical form (see :class:`~cohortode.data.CountData`).

    The input is never modified. Columns ``mean`` and ``source_row`` are derived and replace input columns of those
    names.

    Raises
    ------
    CohortDataError
        With ``file``, 1-based ``row`` and ``column`` of the first problem found.
    """
    if not isinstance(df, pd.DataFrame):
        raise CohortDataError(f"expected a pandas DataFrame of counts, got {type(df).__name__}.", file=file)
    for key in columns or {}:
        if key not in COUNT_COLUMNS:
            raise CohortDataError(
                f"columns={{{key!r}: ...}}: {key!r} is not a canonical column{did_you_mean(key, COUNT_COLUMNS)}; "
                f"the keys of columns= are canonical names {list(COUNT_COLUMNS)}, the values are your columns.",
                file=file, column=key)
    out = rename_columns(df, columns, file=file).reset_index(drop=True)
    if len(out) == 0:
        raise CohortDataError("the count table has no data rows.", file=file)
    rows = np.arange(1, len(out) + 1)
    out = out.drop(columns=[c for c in ("mean", "source_row") if c in out.columns])
    if cohort is None and "cohort" not in out.columns:
        cohort = DEFAULT_COHORT
    for name, constant in (("cohort", cohort), ("observable", observable)):
        if constant is None:
            continue
        if name in out.columns:
            raise CohortDataError(f"{name}={constant!r} was given but the table already has a {name!r} column; "
                                  "pass one or the other.", file=file, column=name)
        out[name] = str(constant)
    for name in ("time", "observable"):
        if name not in out.columns:
            raise CohortDataError(
                f"required column {name!r} is missing{did_you_mean(name, out.columns)}; the table has columns "
                f"{list(map(str, out.columns))}." + (" For a single-observable table pass observable='<name>'."
                                                     if name == "observable" else ""), file=file, column=name)
    values = [c for c in ("count", "fraction") if c in out.columns]
    if not values:
        raise CohortDataError(
            "a count table needs a 'count' column (with 'population' for binomial counts) or a 'fraction' column "
            f"with 'population'{did_you_mean('count', out.columns)}; the table has columns "
            f"{list(map(str, out.columns))}. Tables of mean, SD and n go into cohortode.CohortData instead.",
            file=file, column="count")
    if len(values) == 2:
        raise CohortDataError("the table has both 'count' and 'fraction'; give exactly one of them per table.",
                              file=file, column="fraction")

    out["cohort"] = as_str_column(out, "cohort", file=file, rows=rows)
    out["observable"] = as_str_column(out, "observable", file=file, rows=rows)
    out["time"] = _check_time(out, file=file, rows=rows)
    population = _check_population(out, file=file, rows=rows, required=values[0] == "fraction")
    if values[0] == "count":
        count = _check_count(out, population, file=file, rows=rows)
        fraction = count / population
    else:
        fraction = _check_fraction(out, file=file, rows=rows)
        count = fraction * population
    out["count"] = count
    out["population"] = population
    out["fraction"] = fraction
    out["observation"] = _observation_models(out, observation, population, file=file, rows=rows)
    out["mean"] = np.where(np.isnan(population), count, fraction)
    _check_duplicates(out, file=file, rows=rows)
    out["source_row"] = rows
    out = out.sort_values(["cohort", "observable", "time"], kind="stable").reset_index(drop=True)
    extra = [c for c in out.columns if c not in COUNT_CANONICAL_COLUMNS]
    return out[list(COUNT_CANONICAL_COLUMNS) + extra]


def _whole(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) | (values == np.round(values))


def _check_population(df: pd.DataFrame, *, file: str | None, rows: np.ndarray, required: bool) -> np.ndarray:
    if "population" not in df.columns:
        if required:
            raise CohortDataError("a 'fraction' needs the size of its population: add a 'population' column.",
                                  file=file, column="population")
        return np.full(len(df), np.nan)
    pop = to_numeric(df, "population", file=file, rows=rows, allow_nan=not required,
                     what="A fraction needs the size of its population.")
    _require_finite(np.where(np.isnan(pop), 1.0, pop), "population", file=file, rows=rows)
    bad = ~np.isnan(pop) & (pop < 1)
    if bad.any():
        raise CohortDataError(f"population = {pop[bad][0]:g} is below 1; a population has at least one member.",
                              file=file, row=first_row(bad, rows), column="population")
    frac = ~_whole(pop)
    if frac.any():
        raise CohortDataError(f"population = {pop[frac][0]:g} is not a whole number of members.",
                              file=file, row=first_row(frac, rows), column="population")
    return pop


def _check_count(df: pd.DataFrame, population: np.ndarray, *, file: str | None, rows: np.ndarray) -> np.ndarray:
    count = to_numeric(df, "count", file=file, rows=rows)
    _require_finite(count, "count", file=file, rows=rows)
    negative = count < 0
    if negative.any():
        raise CohortDataError(f"count = {count[negative][0]:g} is negative; a count is at least 0.",
                              file=file, row=first_row(negative, rows), column="count")
    frac = ~_whole(count)
    if frac.any():
        raise CohortDataError(f"count = {count[frac][0]:g} is not a whole number; give counts as integers, or "
                              "give a 'fraction' column with 'population' instead.",
                              file=file, row=first_row(frac, rows), column="count")
    above = ~np.isnan(population) & (count > population)
    if above.any():
        i = int(np.flatnonzero(above)[0])
        raise CohortDataError(f"count = {count[i]:g} is above the population of {population[i]:g}.",
                              file=file, row=int(rows[i]), column="count")
    return count


def _check_fraction(df: pd.DataFrame, *, file: str | None, rows: np.ndarray) -> np.ndarray:
    fraction = to_numeric(df, "fraction", file=file, rows=rows)
    _require_finite(fraction, "fraction", file=file, rows=rows)
    outside = (fraction < 0) | (fraction > 1)
    if outside.any():
        raise CohortDataError(f"fraction = {fraction[outside][0]:g} is outside [0, 1]; give fractions, not "
                              "percentages.", file=file, row=first_row(outside, rows), column="fraction")
    return fraction


def _observation_models(df: pd.DataFrame, observation: str | Mapping[str, str] | None, population: np.ndarray, *,
                        file: str | None, rows: np.ndarray) -> pd.Series:
    """The observation model of each row: from the ``observation`` column, the argument, or the default."""
    has_pop = ~np.isnan(population)
    default = np.where(has_pop, "binomial", "negative_binomial")
    if "observation" in df.columns:
        if observation is not None:
            raise CohortDataError("observation= was given but the table already has an 'observation' column; pass "
                                  "one or the other.", file=file, column="observation")
        given = df["observation"]
        chosen = np.where(given.isna().to_numpy(), default, given.astype(str).to_numpy())
    elif isinstance(observation, Mapping):
        unknown = [k for k in observation if k not in set(df["observable"])]
        if unknown:
            raise CohortDataError(f"observation= names observable(s) {unknown} that the table does not have; its "
                                  f"observables are {sorted(set(df['observable']))}.", file=file, column="observable")
        chosen = np.array([observation.get(o, d) for o, d in zip(df["observable"], default)], dtype=object)
    else:
        chosen = default if observation is None else np.full(len(df), str(observation), dtype=object)
    chosen = np.asarray(chosen, dtype=object)
    unknown = ~np.isin(chosen, COUNT_MODELS)
    if unknown.any():
        name = chosen[unknown][0]
        hint = (" ('cohort_mean' is for tables of mean, SD and n: use cohortode.CohortData)"
                if name == "cohort_mean" else did_you_mean(str(name), COUNT_MODELS))
        raise CohortDataError(f"unknown observation model {name!r}{hint}; count tables take one of "
                              f"{list(COUNT_MODELS)}.", file=file, row=first_row(unknown, rows), column="observation")
    no_pop = (chosen == "binomial") & ~has_pop
    if no_pop.any():
        raise CohortDataError("a binomial row needs the size of its population: fill in the 'population' column "
                              "(or choose 'poisson' / 'negative_binomial').", file=file, row=first_row(no_pop, rows),
                              column="population")
    obs = df["observable"].to_numpy()
    for name in dict.fromkeys(obs):
        mine = obs == name
        models = set(chosen[mine])
        if len(models) > 1:
            first = chosen[mine][0]
            other = mine & (chosen != first)
            raise CohortDataError(f"observable {name!r} has rows with observation models {sorted(models)}; one "
                                  "observable takes one observation model.", file=file,
                                  row=first_row(other, rows), column="observation")
        pops = ~np.isnan(population[mine])
        if pops.any() and not pops.all():
            row = first_row(mine & np.isnan(population), rows)
            raise CohortDataError(f"observable {name!r} has a population in some rows but not in this one; give it "
                                  "in every row of the observable or in none.", file=file, row=row,
                                  column="population")
    return pd.Series(chosen.astype(str), index=df.index, name="observation")
