"""Four reference problems for proposer benchmarks and tests, each with its expert mechanism.

* ``theophylline`` -- oral one-compartment PK (the classic theophylline cohort, 12 adults);
* ``twocomp_iv`` -- IV bolus with a bi-exponential decline (two-compartment PK; synthetic);
* ``logistic_growth`` -- saturating tumour growth (logistic; synthetic);
* ``sir_outbreak`` -- a boarding-school influenza outbreak (SIR; synthetic).

The data come from the bundled cohorts (``cohorts/theophylline`` and ``cohorts/synthetic_*``) when they can be
found; otherwise (an installed package without the repository's ``cohorts/`` folder) the problems are built without
data, with the same states, observables, context and domain, so prompts and grammars still work.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import CohortDataError
from ._problem import Problem, StateInfo

__all__ = ["BenchmarkProblem", "BENCHMARK_NAMES", "benchmark_problem", "benchmark_problems"]


@dataclass(frozen=True)
class BenchmarkProblem:
    """A reference problem and the mechanism an expert would choose.

    Attributes
    ----------
    name
        Short identifier.
    problem
        The problem (with data when the bundled cohort was found).
    expert
        The expert's library composition (one block name per category, in category order).
    description
        One line saying what the problem is.
    """

    name: str
    problem: Problem
    expert: tuple[str, ...]
    description: str

    @property
    def has_data(self) -> bool:
        """Whether the problem carries the cohort data."""
        return self.problem.data is not None


_SPECS: dict[str, dict] = {
    "theophylline": dict(
        cohort="theophylline",
        description="oral theophylline, one-compartment PK with first-order absorption (12 adults)",
        states=(StateInfo("depot", "drug amount in the gut, where the oral dose goes", "mg/kg"),
                StateInfo("central", "drug amount in the body (plasma and well-perfused tissue)", "mg/kg")),
        observables={"conc": "central/V"},
        domain="pk",
        initial={},
        expert=("first_order_absorption", "one_compartment", "linear_elimination"),
        context=("12 adults, single oral dose of theophylline (about 4.6 mg/kg) into the gut; serum concentration "
                 "(mg/L) measured 11 times from 0 to 24 h. Concentrations rise to a peak near 1-2 h, then decline "
                 "slowly."),
    ),
    "twocomp_iv": dict(
        cohort="synthetic_twocomp_iv",
        description="IV bolus with a bi-exponential decline, two-compartment PK (synthetic)",
        states=(StateInfo("central", "drug amount in the blood, where the IV dose goes", "mg"),),
        observables={"conc": "central/V"},
        domain="pk",
        initial={},
        expert=("iv_bolus", "two_compartment", "linear_elimination"),
        context=("12 adults, single intravenous bolus of 100 mg at time 0 into the blood; plasma concentration "
                 "(mg/L) measured 12 times over 48 h. Concentrations fall quickly at first and then more slowly."),
    ),
    "logistic_growth": dict(
        cohort="synthetic_logistic_growth",
        description="untreated tumour growth that saturates, logistic (synthetic)",
        states=(StateInfo("size", "tumour volume", "mm^3"),),
        observables={"size": "size"},
        domain="growth",
        initial={},
        expert=("logistic_growth", "no_loss"),
        context=("10 mice with implanted tumours, no treatment; tumour volume (mm^3) measured 11 times over 42 days. "
                 "Growth slows as tumours become large."),
    ),
    "sir_outbreak": dict(
        cohort="synthetic_sir_outbreak",
        description="influenza outbreak in a boarding school of 763 pupils, SIR (synthetic)",
        states=(StateInfo("S", "susceptible pupils", "pupils"), StateInfo("I", "infectious (ill) pupils", "pupils"),
                StateInfo("R", "recovered, immune pupils", "pupils")),
        observables={"infected": "I"},
        domain="epidemic",
        initial={"S": "N - 1", "I": "1"},
        expert=("sir", "frequency_dependent", "constant_contact"),
        context=("Influenza-like outbreak in a boarding school of N = 763 pupils, one pupil ill on day 0; the number "
                 "of pupils currently ill is counted daily for 14 days."),
    ),
}

BENCHMARK_NAMES: tuple[str, ...] = tuple(_SPECS)
"""Names of the reference problems, in benchmark order."""


def _load(cohort: str):
    try:
        from ..datasets import load_cohort
    except ImportError:  # pragma: no cover - the datasets module ships with the package
        return None
    try:
        return load_cohort(cohort)
    except (CohortDataError, OSError):
        return None


def benchmark_problem(name: str, *, with_data: bool = True) -> BenchmarkProblem:
    """One reference problem.

    Parameters
    ----------
    name
        One of :data:`BENCHMARK_NAMES`.
    with_data
        Load the bundled cohort (if it can be found); ``False`` builds the problem without data.

    Raises
    ------
    KeyError
        For an unknown name (the message lists the known ones).
    """
    if name not in _SPECS:
        raise KeyError(f"unknown benchmark problem {name!r}; known: {', '.join(BENCHMARK_NAMES)}")
    spec = _SPECS[name]
    data = _load(spec["cohort"]) if with_data else None
    common = dict(states=spec["states"], observables=spec["observables"], context=spec["context"],
                  domain=spec["domain"], initial=spec["initial"])
    if data is not None:
        problem = Problem.from_cohort(data, name=name, **common)
    else:
        problem = Problem(name=name, time_unit="h" if spec["domain"] == "pk" else "day", **common)
    return BenchmarkProblem(name, problem, spec["expert"], spec["description"])


def benchmark_problems(*, with_data: bool = True) -> list[BenchmarkProblem]:
    """All four reference problems, in :data:`BENCHMARK_NAMES` order."""
    return [benchmark_problem(n, with_data=with_data) for n in BENCHMARK_NAMES]
