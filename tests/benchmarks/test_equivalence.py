"""The numerical structural-equivalence check of the recovery benchmarks (``benchmarks/_equivalence.py``).

Reparameterisations of one structure are equivalent (a clearance for a rate constant, a Michaelis constant in amount
for one in concentration, clearances for the rate constants of a two-compartment model); near-misses are not
(logistic against Gompertz growth, linear against Michaelis-Menten elimination), on the cohorts of the recovery
suite. The benchmark helper :func:`_recovery.truth_row` matches by hash first, then by equivalence.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _recovery  # noqa: E402
from _equivalence import TOLERANCE, check_equivalence, structurally_equivalent  # noqa: E402

from cohortode import ODEModel  # noqa: E402

MM_IV = "pk_michaelis_menten_iv_two_doses"


def _model(rhs: dict[str, str], observables: dict[str, str], initial: dict[str, str] | None = None) -> ODEModel:
    return ODEModel(list(rhs), rhs, observables, initial=initial)


ONECOMP_KE = _model({"central": "-ke*central"}, {"conc": "central/V"})
ONECOMP_CL = _model({"central": "-(CL/V)*central"}, {"conc": "central/V"})
MM_AMOUNT = _model({"central": "-Vmax*central/(Km + central)"}, {"conc": "central/V"})
TWOCOMP_RATES = _model({"depot": "-ka*depot", "central": "ka*depot - ke*central - k12*central + k21*peripheral",
                        "peripheral": "k12*central - k21*peripheral"}, {"conc": "central/V"})
LOGISTIC = _model({"size": "r*size*(1 - size/K)"}, {"size": "size"}, {"size": "size0"})


@pytest.fixture(scope="module")
def cohorts() -> dict[str, tuple]:
    """Data and true structure of the recovery cohorts the tests use."""
    out = {}
    for name in (MM_IV, "pk_twocomp_oral", "growth_gompertz"):
        data, _, truth = _recovery.load(name)
        out[name] = (data, _recovery.truth_model(truth))
    return out


def test_rate_constant_and_clearance_are_equivalent(cohorts):
    data, _ = cohorts[MM_IV]
    equivalent, worst = structurally_equivalent(ONECOMP_KE, ONECOMP_CL, data)
    assert ONECOMP_KE.structure_hash != ONECOMP_CL.structure_hash
    assert equivalent and worst < TOLERANCE / 100


def test_michaelis_constant_in_amount_or_concentration_is_equivalent(cohorts):
    data, truth = cohorts[MM_IV]
    assert truth.structure_hash != MM_AMOUNT.structure_hash
    equivalent, worst = structurally_equivalent(truth, MM_AMOUNT, data)
    assert equivalent and worst < TOLERANCE / 100


def test_two_compartments_with_rate_constants_or_clearances_are_equivalent(cohorts):
    data, truth = cohorts["pk_twocomp_oral"]
    assert truth.structure_hash != TWOCOMP_RATES.structure_hash
    check = check_equivalence(truth, TWOCOMP_RATES, data)
    assert check.equivalent and check.worst < TOLERANCE / 10, check.errors
    assert len(check.errors) == 8  # four draws each way, every one within the tolerance


def test_logistic_is_not_gompertz(cohorts):
    data, truth = cohorts["growth_gompertz"]
    equivalent, worst = structurally_equivalent(truth, LOGISTIC, data)
    assert not equivalent and worst > 10 * TOLERANCE


def test_linear_elimination_is_not_michaelis_menten(cohorts):
    data, truth = cohorts[MM_IV]
    equivalent, worst = structurally_equivalent(truth, ONECOMP_KE, data)
    assert not equivalent and worst > 10 * TOLERANCE


def test_different_observables_are_rejected_without_a_fit(cohorts):
    data, truth = cohorts[MM_IV]
    other = _model({"central": "-ke*central"}, {"amount": "central"})
    check = check_equivalence(truth, other, data)
    assert not check.equivalent and check.errors == () and "observables differ" in check.reason


class _Result:
    """The two parts of a :class:`~cohortode.discover.Discovery` that ``truth_row`` reads."""

    def __init__(self, models: list[ODEModel]):
        self.models = {m.structure_hash: m for m in models}
        self._names = [m.structure_hash for m in models]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"name": self._names, "weight_stacking": [0.6, 0.3, 0.1][:len(self._names)]})


def test_truth_row_matches_by_hash_first_then_by_equivalence(cohorts):
    data, truth = cohorts[MM_IV]
    renamed = _model({"central": "-Vm*(central/Vc)/(K + central/Vc)"}, {"conc": "central/Vc"})
    amount = _model({"central": "-ke*central"}, {"amount": "central"})  # rejected without a fit: cheap
    assert _recovery.truth_row(_Result([amount, MM_AMOUNT, renamed]), truth, data) == (2, "hash")
    assert _recovery.truth_row(_Result([amount, MM_AMOUNT]), truth, data) == (1, "equivalence")
    assert _recovery.truth_row(_Result([amount, MM_AMOUNT]), truth, data, top=1) == (None, "")
