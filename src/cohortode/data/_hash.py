"""A content hash of a :class:`~cohortode.CohortData`: what a saved fit or ensemble was fitted to."""

from __future__ import annotations

import hashlib

from ._cohort_data import CohortData

__all__ = ["data_hash"]


def data_hash(data: CohortData) -> str:
    """SHA-256 (hex) of the observations, dosing and covariate tables, as CSV text with full float precision.

    Two tables with the same values give the same hash whatever file they came from; the source path, description
    and units do not enter.
    """
    h = hashlib.sha256()
    for name, table in (("observations", data.observations), ("dosing", data.dosing),
                        ("covariates", data.covariates)):
        h.update(name.encode())
        h.update(table.to_csv(index=True, float_format="%.17g", lineterminator="\n").encode())
    return h.hexdigest()
