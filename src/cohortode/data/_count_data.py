"""The :class:`CountData` container: counts or fractions of one population per cohort, time and observable."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortDataError
from ._cohort_data import CohortData, _text, _units
from ._covariates import empty_covariates, validate_covariates
from ._dosing import empty_dosing, validate_dosing
from ._io import TableLike, as_table, read_csv
from ._validate_counts import validate_counts

__all__ = ["CountData"]


class CountData(CohortData):
    """Counts (or fractions) of one population in a state over time: outbreak, registry or retention data.

    Each cohort is one population (no between-subject variability); the model's observables are the expected
    fraction of the population in a state where a ``population`` is given, else the expected count itself. Each
    observable has one observation model: ``"binomial"`` (the default where a population is given),
    ``"poisson"`` or ``"negative_binomial"`` (the default for counts without a population).

    Attributes
    ----------
    observations : pandas.DataFrame
        One row per (cohort, time, observable), sorted by cohort, observable, time. Columns ``cohort`` (str; ``"all"``
        when the table has none), ``time``, ``observable``, ``count`` (float; ``fraction * population`` where a
        fraction was given, so possibly not whole), ``population`` (float; NaN where not given), ``fraction``
        (float; ``count / population``, NaN without a population), ``observation`` (the observation model),
        ``reporting`` (bool: a reporting fraction is estimated for this observable), ``mean`` (the observed value on
        the model's scale: the fraction where a population is given, else the count), ``source_row`` (1-based data
        row), then every other input column unchanged.
    dosing, covariates, source, description, time_unit, units, metadata
        As in :class:`~cohortode.CohortData`.
    """

    def __init__(
        self,
        observations: pd.DataFrame,
        *,
        observation: str | Mapping[str, str] | None = None,
        reporting: bool | Sequence[str] = False,
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
        obs = validate_counts(observations, file=file, columns=columns, cohort=cohort, observable=observable,
                              observation=observation)
        obs.insert(list(obs.columns).index("mean"), "reporting", _reporting(reporting, obs, file))
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
        self._set(observations=obs, dosing=dose_table, covariates=cov_table, source=file,
                  description=_text(description, "description"), time_unit=_text(time_unit, "time_unit"),
                  units=_units(units), metadata=copy.deepcopy(dict(metadata or {})), dosing_file=dosing_file)

    @classmethod
    def from_dataframe(  # type: ignore[override]
        cls,
        df: pd.DataFrame,
        *,
        observation: str | Mapping[str, str] | None = None,
        reporting: bool | Sequence[str] = False,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        columns: Mapping[str, str] | None = None,
        cohort: str | None = None,
        observable: str | None = None,
        source: str | os.PathLike | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
    ) -> CountData:
        """Build from a count table.

        Parameters
        ----------
        df
            Columns ``time``, ``observable``, either ``count`` (whole numbers >= 0; with ``population`` for binomial
            rows) or ``fraction`` (in [0, 1]) with ``population``, and optionally ``cohort`` (one population each;
            ``"all"`` when absent) and ``observation`` (the observation model of each row; one per observable).
            Other columns are kept. Not modified.
        observation
            Observation model of every observable (``"binomial"``, ``"poisson"``, ``"negative_binomial"``), or
            observable -> model. Default: binomial where a population is given, negative binomial otherwise.
        reporting
            ``True`` (every observable) or the observables whose reporting fraction ``reporting_<observable>`` is
            estimated; otherwise the whole state is observed.
        dosing, covariates, columns, cohort, observable, source, description, time_unit, units
            As in :meth:`cohortode.CohortData.from_dataframe` (``columns`` maps the canonical names ``cohort, time,
            observable, count, fraction, population, observation``).
        """
        return cls(df, observation=observation, reporting=reporting, dosing=dosing, covariates=covariates,
                   columns=columns, cohort=cohort, observable=observable, source=source, description=description,
                   time_unit=time_unit, units=units)

    @classmethod
    def from_csv(  # type: ignore[override]
        cls,
        path: str | os.PathLike,
        *,
        observation: str | Mapping[str, str] | None = None,
        reporting: bool | Sequence[str] = False,
        dosing: TableLike | None = None,
        covariates: TableLike | None = None,
        columns: Mapping[str, str] | None = None,
        cohort: str | None = None,
        observable: str | None = None,
        description: str = "",
        time_unit: str = "",
        units: Mapping[str, str] | None = None,
    ) -> CountData:
        """Build from a CSV file; see :meth:`from_dataframe` for the arguments."""
        names = {"cohort": "cohort", "observable": "observable", **dict(columns or {})}
        df = read_csv(path, text_columns=(names["cohort"], names["observable"]))
        return cls.from_dataframe(df, observation=observation, reporting=reporting, dosing=dosing,
                                  covariates=covariates, columns=columns, cohort=cohort, observable=observable,
                                  source=str(path), description=description, time_unit=time_unit, units=units)

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> CountData:  # type: ignore[override]
        """Not supported yet for count tables (raises :class:`NotImplementedError`)."""
        raise NotImplementedError("CountData.from_directory is not supported yet; use CountData.from_csv")

    @classmethod
    def from_individuals(cls, *args: Any, **kwargs: Any) -> CountData:  # type: ignore[override]
        """Not meaningful for counts of one population (raises :class:`NotImplementedError`)."""
        raise NotImplementedError("CountData holds counts of one population; individual samples are aggregated "
                                  "to mean, SD and n by cohortode.CohortData.from_individuals")

    def observation_models(self) -> dict[str, str]:
        """Observable -> observation model name."""
        obs = self.observations
        return {str(o): str(m) for o, m in zip(obs["observable"], obs["observation"])}

    def summary(self) -> pd.DataFrame:
        """Per cohort and observable: ``observation, n_times, t_first, t_last, peak_time, peak_count, total_count,
        population`` (the largest population of the rows; NaN when none is given)."""
        records = []
        for (cohort, observable), g in self.observations.groupby(["cohort", "observable"], sort=True):
            g = g.sort_values("time")
            peak = int(np.argmax(g["count"].to_numpy()))
            records.append({"cohort": cohort, "observable": observable, "observation": g["observation"].iloc[0],
                            "n_times": len(g), "t_first": float(g["time"].iloc[0]),
                            "t_last": float(g["time"].iloc[-1]), "peak_time": float(g["time"].iloc[peak]),
                            "peak_count": float(g["count"].iloc[peak]), "total_count": float(g["count"].sum()),
                            "population": float(g["population"].max())})
        return pd.DataFrame.from_records(records)

    def __repr__(self) -> str:
        return "CountData" + super().__repr__().removeprefix("CohortData").replace(", doses=0", "").replace(
            ", covariates=[]", "")


def _reporting(reporting: bool | Sequence[str], obs: pd.DataFrame, file: str | None) -> np.ndarray:
    names = set(obs["observable"])
    if isinstance(reporting, bool):
        return np.full(len(obs), reporting)
    if isinstance(reporting, str):
        reporting = [reporting]
    unknown = [r for r in reporting if r not in names]
    if unknown:
        raise CohortDataError(f"reporting= names observable(s) {unknown} that the table does not have; its "
                              f"observables are {sorted(names)}.", file=file, column="observable")
    return obs["observable"].isin(list(reporting)).to_numpy()
