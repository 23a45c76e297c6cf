#!/usr/bin/env python
"""Write the reproducible synthetic cohorts ``cohorts/synthetic_*/`` (fixed seeds; safe to re-run).

Each directory gets ``observations.csv``, ``dosing.csv``, ``cohort.toml``, ``truth.json`` (true typical parameters,
IIV SDs, residual error, equations, seed) and ``individuals.csv`` (the simulated subjects behind the aggregates).

Usage::

    python scripts/make_synthetic_cohorts.py [--out DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from cohortode.synthetic import Dose, SyntheticCohort, SyntheticModel, simulate_cohort

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "cohorts"


def onecomp_oral() -> SyntheticCohort:
    model = SyntheticModel(
        name="onecomp_oral",
        states=("depot", "central"),
        rhs=lambda t, y, p: {
            "depot": -p["ka"] * y["depot"],
            "central": p["ka"] * y["depot"] - p["ke"] * y["central"],
        },
        observables={"conc": lambda y, p: y["central"] / p["V"]},
        params={"ka": 1.5, "ke": 0.1, "V": 30.0},
        iiv={"ka": 0.3, "ke": 0.2, "V": 0.15},
        residual_proportional=0.10,
        equations={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
        observation_equations={"conc": "central/V"},
        units={"conc": "mg/L"},
        time_unit="h",
        amount_unit="mg",
        description=(
            "Synthetic study: 12 adults, single oral dose of 320 mg of a drug at time 0 (into the gut, state "
            "'depot'); plasma concentration (mg/L) measured at 10 times over 24 h. Reported per time point: cohort "
            "mean, SD and n."
        ),
    )
    return simulate_cohort(
        model,
        times=[0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24],
        n_subjects=12,
        doses=[Dose(time=0.0, amount=320.0, target="depot")],
        seed=20250101,
        cohort="synthetic_onecomp_oral",
    )


def twocomp_iv() -> SyntheticCohort:
    model = SyntheticModel(
        name="twocomp_iv",
        states=("central", "peripheral"),
        rhs=lambda t, y, p: {
            "central": -(p["CL"] / p["V1"]) * y["central"]
            - (p["Q"] / p["V1"]) * y["central"]
            + (p["Q"] / p["V2"]) * y["peripheral"],
            "peripheral": (p["Q"] / p["V1"]) * y["central"] - (p["Q"] / p["V2"]) * y["peripheral"],
        },
        observables={"conc": lambda y, p: y["central"] / p["V1"]},
        params={"CL": 5.0, "V1": 10.0, "Q": 8.0, "V2": 40.0},
        iiv={"CL": 0.25, "V1": 0.2, "Q": 0.2, "V2": 0.2},
        residual_proportional=0.10,
        equations={
            "central": "-(CL/V1)*central - (Q/V1)*central + (Q/V2)*peripheral",
            "peripheral": "(Q/V1)*central - (Q/V2)*peripheral",
        },
        observation_equations={"conc": "central/V1"},
        units={"conc": "mg/L"},
        time_unit="h",
        amount_unit="mg",
        description=(
            "Synthetic study: 12 adults, single intravenous bolus of 100 mg of a drug at time 0 (into the blood, state "
            "'central'); plasma concentration (mg/L) measured at 12 times over 48 h. Concentrations fall quickly at "
            "first and then more slowly. Reported per time point: cohort mean, SD and n."
        ),
    )
    return simulate_cohort(
        model,
        times=[0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 12, 24, 36, 48],
        n_subjects=12,
        doses=[Dose(time=0.0, amount=100.0, target="central")],
        seed=20250102,
        cohort="synthetic_twocomp_iv",
    )


def logistic_growth() -> SyntheticCohort:
    model = SyntheticModel(
        name="logistic_growth",
        states=("size",),
        rhs=lambda t, y, p: {"size": p["r"] * y["size"] * (1.0 - y["size"] / p["K"])},
        observables={"size": lambda y, p: y["size"]},
        params={"r": 0.25, "K": 1500.0, "size0": 60.0},
        initial={"size": "size0"},
        iiv={"r": 0.2, "K": 0.15, "size0": 0.3},
        residual_proportional=0.10,
        equations={"size": "r*size*(1 - size/K)"},
        observation_equations={"size": "size"},
        units={"size": "mm^3"},
        time_unit="day",
        description=(
            "Synthetic study: 10 mice with implanted tumours, no treatment; tumour volume (mm^3) measured by "
            "calipers at 11 times over 42 days, starting at implantation-size on day 0. Growth slows as tumours "
            "become large. Reported per time point: cohort mean, SD and n."
        ),
    )
    return simulate_cohort(
        model,
        times=[0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42],
        n_subjects=10,
        seed=20250103,
        cohort="synthetic_logistic_growth",
    )


def sir_outbreak() -> SyntheticCohort:
    model = SyntheticModel(
        name="sir_outbreak",
        states=("S", "I", "R"),
        rhs=lambda t, y, p: {
            "S": -p["beta"] * y["S"] * y["I"] / p["N"],
            "I": p["beta"] * y["S"] * y["I"] / p["N"] - p["gamma"] * y["I"],
            "R": p["gamma"] * y["I"],
        },
        observables={"infected": lambda y, p: y["I"]},
        params={"beta": 1.66, "gamma": 0.45, "N": 763.0},
        initial={"S": 762.0, "I": 1.0, "R": 0.0},
        iiv={"beta": 0.1, "gamma": 0.1},
        residual_proportional=0.10,
        equations={"S": "-beta*S*I/N", "I": "beta*S*I/N - gamma*I", "R": "gamma*I"},
        observation_equations={"infected": "I"},
        units={"infected": "pupils"},
        time_unit="day",
        description=(
            "Synthetic study: influenza-like outbreak in a boarding school of 763 pupils (N = 763, fixed), one pupil "
            "ill on day 0; the number of pupils currently ill is counted daily for 14 days. n is the number of "
            "independent simulated replicate outbreaks (8); reported per day: mean, SD and n of the count."
        ),
    )
    return simulate_cohort(
        model,
        times=list(range(15)),
        n_subjects=8,
        seed=20250104,
        cohort="synthetic_sir_outbreak",
    )


COHORTS: dict[str, Callable[[], SyntheticCohort]] = {
    "synthetic_onecomp_oral": onecomp_oral,
    "synthetic_twocomp_iv": twocomp_iv,
    "synthetic_logistic_growth": logistic_growth,
    "synthetic_sir_outbreak": sir_outbreak,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"parent directory (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="*", choices=sorted(COHORTS), help="write only these cohorts")
    args = parser.parse_args(argv)
    for name in args.only or COHORTS:
        cohort = COHORTS[name]()
        path = cohort.write(args.out / name)
        print(f"wrote {path}: {cohort.data!r}")


if __name__ == "__main__":
    main()
