"""The :class:`CohortData` container: validated aggregate observations, dosing and covariates of one study."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._covariates import empty_covariates, validate_covariates
from ._directory import read_cohort_toml
from ._dosing import empty_dosing, validate_dosing
from ._individuals import aggregate_individuals
from ._io import TableLike, as_table, read_csv
from ._validate import SD_FLOOR_FRACTION, SD_FLOOR_MIN, validate_observations

__all__ = ["CohortData"]


class CohortData:
    """Aggregate cohort observations (mean, SD, n per time point), with dosing and covariates.

    Build one with :meth:`from_csv`, :meth:`from_dataframe`, :meth:`from_directory` or :meth:`from_individuals`
    (the constructor takes the same arguments as :meth:`from_dataframe`). All inputs are validated and copied;
    nothing passed in is modified.

    Attributes
    ----------
    observations : pandas.DataFrame
        One row per (cohort, time, observable), sorted by cohort, observable, time. Columns: ``cohort`` (str),
        ``time`` (float), ``observable`` (str), ``mean`` (float), ``sd`` (float; NaN when no spread was given or
        ``n == 1``), ``n`` (int), ``sd_used`` (float, see below), ``source_row`` (int, 1-based data row of the input),
        then every other input column unchanged. A spread given as ``var`` becomes ``sd = sqrt(var)``, one given as
        ``se`` (standard error of the mean) becomes ``sd = se * sqrt(n)``; the given column is kept as well.
    dosing : pandas.DataFrame
        Columns ``cohort`` (str), ``time`` (float), ``amount`` (float), ``target`` (str, the ODE state dosed),
        ``duration`` (float; 0.0 = bolus, > 0 = zero-order infusion), ``source_row`` (int), then extra input columns.
        Sorted by cohort and time; may be empty.
    covariates : pandas.DataFrame
        Indexed by ``cohort`` (str), one row per cohort of the observations (NaN where not given), numeric columns;
        may have no columns.
    source : str or None
        The observation file, or ``None`` for in-memory data.
    description : str
        Free text describing the study (e.g. for a language-model prompt); may be ``""``.
    time_unit : str
        Unit of ``time`` (e.g. ``"h"``); ``""`` when unknown.
    units : dict[str, str]
        Observable -> unit.
    metadata : dict
        Everything read from ``cohort.toml`` (empty otherwise).

    Notes
    -----
    **Zero-SD floor.** A reported SD of exactly 0 (e.g. rounded, or all subjects below the detection limit) would
    make a Gaussian likelihood degenerate. Such rows trigger a :class:`~cohortode.CohortDataWarning` naming them, and
    their ``sd_used`` is set to 1% of the mean absolute observed mean of that observable in that cohort (``1e-8`` if
    all those means are 0). Elsewhere ``sd_used == sd`` (NaN where ``sd`` is NaN). The ``sd`` column itself is never
    altered. Input columns named ``sd_used`` or ``source_row`` are recomputed.

    **Errors.** Malformed input raises :class:`~cohortode.CohortDataError` whose ``file``, ``row`` (1-based data row,
    header not counted) and ``column`` locate the problem.
    """

    SD_FLOOR_FRACTION = SD_FLOOR_FRACTION
    SD_FLOOR_MIN = SD_FLOOR_MIN

    observations: pd.DataFrame
    dosing: pd.DataFrame
    covariates: pd.DataFrame
    source: str | None
    description: str
    time_unit: str
    units: dict[str, str]
    metadata: dict[str, Any]

    def __init__(
        self,
        observations: pd.DataFrame,
        *,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        columns: Mapping[str, str] | None = None,
        cohort: str | None = None,
        observable: str | None = None,
        source: str | os.PathLike | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        file = None if source is None else str(source)
        obs = validate_observations(observations, file=file, columns=columns, cohort=cohort, observable=observable)
        cohorts = list(dict.fromkeys(obs["cohort"]))
        dosing_file = None
        if dosing is None:
            dose_table = empty_dosing()
        else:
            raw, dosing_file = as_table(dosing, text_columns=("cohort", "target"))
            dose_table = validate_dosing(raw, cohorts=cohorts, file=dosing_file, default_cohort=cohort)
        if covariates is None:
            cov_table = empty_covariates(cohorts)
        else:
            raw, cov_file = as_table(covariates, text_columns=("cohort",))
            cov_table = validate_covariates(raw, cohorts=cohorts, file=cov_file, default_cohort=cohort)
        self._set(
            observations=obs,
            dosing=dose_table,
            covariates=cov_table,
            source=file,
            description=_text(description, "description"),
            time_unit=_text(time_unit, "time_unit"),
            units=_units(units),
            metadata=copy.deepcopy(dict(metadata or {})),
            dosing_file=dosing_file,
        )

    def _set(self, **parts: Any) -> None:
        self.observations = parts["observations"]
        self.dosing = parts["dosing"]
        self.covariates = parts["covariates"]
        self.source = parts["source"]
        self.description = parts["description"]
        self.time_unit = parts["time_unit"]
        self.units = parts["units"]
        self.metadata = parts["metadata"]
        self._dosing_file = parts["dosing_file"]

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        *,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        columns: Mapping[str, str] | None = None,
        cohort: str | None = None,
        observable: str | None = None,
        source: str | os.PathLike | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
    ) -> CohortData:
        """Build from an observation DataFrame.

        Parameters
        ----------
        df
            Columns ``cohort, time, observable, mean, n`` and at most one of ``sd`` / ``var`` / ``se`` (none: no
            spreads known); other columns are kept. Not modified.
        dosing, covariates
            CSV path, DataFrame or ``None`` (see the class attributes for the columns).
        columns
            Canonical name -> column in ``df``, e.g. ``{"mean": "conc_mean_mg_per_L"}``.
        cohort, observable
            Constant values for tables without such a column (single-arm / single-observable tables).
        source
            Where ``df`` came from (used in error messages and kept as ``source``).
        description, time_unit, units
            See the class attributes.
        """
        return cls(
            df,
            dosing=dosing,
            covariates=covariates,
            columns=columns,
            cohort=cohort,
            observable=observable,
            source=source,
            description=description,
            time_unit=time_unit,
            units=units,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        *,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        columns: Mapping[str, str] | None = None,
        cohort: str | None = None,
        observable: str | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
    ) -> CohortData:
        """Build from an observation CSV file; see :meth:`from_dataframe` for the arguments."""
        names = {**{"cohort": "cohort", "observable": "observable"}, **dict(columns or {})}
        df = read_csv(path, text_columns=(names["cohort"], names["observable"]))
        return cls.from_dataframe(
            df,
            dosing=dosing,
            covariates=covariates,
            columns=columns,
            cohort=cohort,
            observable=observable,
            source=str(path),
            description=description,
            time_unit=time_unit,
            units=units,
        )

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> CohortData:
        """Build from a cohort directory holding ``cohort.toml`` and its CSV files.

        See :mod:`cohortode.data._directory` for the ``cohort.toml`` layout.
        """
        doc = read_cohort_toml(path)
        files = doc["files"]
        obs = cls.from_csv(
            files["observations"],
            dosing=files.get("dosing"),
            covariates=files.get("covariates"),
            columns=doc.get("columns"),
            cohort=doc.get("cohort"),
            observable=doc.get("observable"),
            description=doc.get("description", ""),
            time_unit=doc.get("time_unit", ""),
            units=doc.get("units"),
        )
        obs.metadata = {**doc, "directory": str(Path(path).resolve())}
        return obs

    @classmethod
    def from_individuals(
        cls,
        df: pd.DataFrame,
        *,
        subject: str,
        time: str,
        value: str,
        observable: str = "y",
        cohort: str | None = None,
        nominal_times: Sequence[float] | None = None,
        nominal_time_column: str | None = None,
        cohort_column: str | None = None,
        observable_column: str | None = None,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
    ) -> CohortData:
        """Aggregate individual samples to mean, SD (ddof=1) and n per (cohort, nominal time, observable).

        Each sample is binned to its nominal time: the value in ``nominal_time_column``, or the nearest of
        ``nominal_times`` (exactly one of the two must be given). A subject with two samples in one bin is an error.
        The observations also get ``time_actual_mean/min/max``, the spread of actual times in each bin.

        Parameters
        ----------
        df
            One row per sample. Not modified.
        subject, time, value
            Columns of the subject id, actual time and measured value.
        observable
            Observable name (unless ``observable_column`` is given).
        cohort
            Cohort name. ``None``: the ``cohort`` column if the table has one, else ``"all"``.
        nominal_times, nominal_time_column
            The binning rule.
        cohort_column, observable_column
            Columns holding each sample's cohort / observable, for long tables with several.
        dosing, covariates, description, time_unit, units
            As in :meth:`from_dataframe`.
        """
        table = aggregate_individuals(
            df,
            subject=subject,
            time=time,
            value=value,
            observable=observable,
            cohort=cohort,
            cohort_column=cohort_column,
            observable_column=observable_column,
            nominal_times=nominal_times,
            nominal_time_column=nominal_time_column,
        )
        return cls.from_dataframe(
            table, dosing=dosing, covariates=covariates, description=description, time_unit=time_unit, units=units
        )

    # ------------------------------------------------------------------ views

    @property
    def cohorts(self) -> list[str]:
        """Cohort names, sorted."""
        return list(dict.fromkeys(self.observations["cohort"]))

    @property
    def observables(self) -> list[str]:
        """Observable names, sorted."""
        return sorted(set(self.observations["observable"]))

    @property
    def time_span(self) -> tuple[float, float]:
        """``(first, last)`` observation time over all cohorts and observables."""
        t = self.observations["time"]
        return float(t.min()), float(t.max())

    def for_cohort(self, cohort: str) -> CohortData:
        """A new :class:`CohortData` with only ``cohort``'s observations, doses and covariates."""
        if cohort not in self.cohorts:
            raise CohortDataError(
                f"no cohort named {cohort!r}; available cohorts: {self.cohorts}.", file=self.source, column="cohort"
            )
        new = object.__new__(type(self))
        new._set(
            observations=self.observations[self.observations["cohort"] == cohort].reset_index(drop=True),
            dosing=self.dosing[self.dosing["cohort"] == cohort].reset_index(drop=True),
            covariates=self.covariates.loc[[cohort]].copy(),
            source=self.source,
            description=self.description,
            time_unit=self.time_unit,
            units=dict(self.units),
            metadata=copy.deepcopy(self.metadata),
            dosing_file=self._dosing_file,
        )
        return new

    def check_observables(self, known: Iterable[str]) -> None:
        """Raise :class:`CohortDataError` at the first row whose observable is not in ``known``."""
        known = list(known)
        self._check_names(self.observations, "observable", known, self.source, "observables the model defines")

    def check_dose_targets(self, states: Iterable[str]) -> None:
        """Raise :class:`CohortDataError` at the first dose whose target is not one of ``states``."""
        states = list(states)
        self._check_names(self.dosing, "target", states, self._dosing_file, "states of the model")

    @staticmethod
    def _check_names(table: pd.DataFrame, column: str, known: list[str], file: str | None, what: str) -> None:
        unknown = ~table[column].isin(known).to_numpy()
        if not unknown.any():
            return
        bad = table[unknown].sort_values("source_row").iloc[0]
        raise CohortDataError(
            f"{column} {bad[column]!r} is not among the {what}: {known}. Rename it in the data or in the model.",
            file=file,
            row=int(bad["source_row"]),
            column=column,
        )

    def summary(self) -> pd.DataFrame:
        """Per cohort and observable: ``n_times, t_first, t_last, peak_time, peak_mean, min, max, first_mean,
        last_mean, n_min, n_max`` (``min`` / ``max`` are of the means)."""
        records = []
        for (cohort, observable), g in self.observations.groupby(["cohort", "observable"], sort=True):
            g = g.sort_values("time")
            peak = int(np.argmax(g["mean"].to_numpy()))
            records.append(
                {
                    "cohort": cohort,
                    "observable": observable,
                    "n_times": len(g),
                    "t_first": float(g["time"].iloc[0]),
                    "t_last": float(g["time"].iloc[-1]),
                    "peak_time": float(g["time"].iloc[peak]),
                    "peak_mean": float(g["mean"].iloc[peak]),
                    "min": float(g["mean"].min()),
                    "max": float(g["mean"].max()),
                    "first_mean": float(g["mean"].iloc[0]),
                    "last_mean": float(g["mean"].iloc[-1]),
                    "n_min": int(g["n"].min()),
                    "n_max": int(g["n"].max()),
                }
            )
        return pd.DataFrame.from_records(records)

    def to_dataframe(self) -> pd.DataFrame:
        """A copy of :attr:`observations`."""
        return self.observations.copy()

    def __repr__(self) -> str:
        t0, t1 = self.time_span
        unit = f" {self.time_unit}" if self.time_unit else ""
        return (
            f"CohortData(source={self.source!r}, cohorts={self.cohorts}, observables={self.observables}, "
            f"rows={len(self.observations)}, time_span=({t0:g}, {t1:g}){unit}, doses={len(self.dosing)}, "
            f"covariates={list(map(str, self.covariates.columns))})"
        )


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise CohortDataError(f"{name} must be a string, got {type(value).__name__}.")
    return value


def _units(units: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(units or {})
    for key, value in out.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise CohortDataError(f"units must map observable names to unit strings, got {key!r}: {value!r}.")
    return out
