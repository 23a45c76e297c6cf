#!/usr/bin/env python
"""Write the synthetic recovery suite ``cohorts/recovery/<name>/`` (fixed seeds; safe to re-run).

Twelve cohorts simulated from known structures across pharmacokinetics, pharmacodynamics, epidemics, growth and
disease progression: 8 to 30 subjects, 6 to 12 time points, log-normal between-subject variability, some with two
dose levels (two cohorts in one table). Five structures are not in the motif library (``in_library: false`` in
``truth.json``), so only the expression level and mutations can find them.

Each directory gets ``observations.csv``, ``dosing.csv``, ``cohort.toml`` and ``truth.json``: the true equations,
typical parameters, IIV SDs, residual error, seeds, and the problem to pose (states, observables, domain, initial
values) so that a benchmark can run ``cohortode.discover`` on it and find the truth's rank.

Usage::

    python scripts/make_recovery_suite.py [--out DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy
import tomli_w

from cohortode.synthetic import Dose, SyntheticModel, simulate_cohort

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "cohorts" / "recovery"


@dataclass(frozen=True)
class Spec:
    """One known structure and how its cohort is simulated."""

    name: str
    domain: str
    states: tuple[str, ...]
    rhs: dict[str, str]
    observables: dict[str, str]
    params: dict[str, float]
    iiv: dict[str, float]
    times: tuple[float, ...]
    n: int
    seed: int
    in_library: bool
    context: str
    arms: tuple[tuple[str, tuple[Dose, ...]], ...] = (("all", ()),)
    initial: dict[str, Any] = field(default_factory=dict)
    problem_states: tuple[str, ...] | None = None
    problem_initial: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = "h"
    residual: float = 0.1


def _oral(amount: float) -> tuple[Dose, ...]:
    return (Dose(time=0.0, amount=amount, target="depot"),)


def _iv(amount: float) -> tuple[Dose, ...]:
    return (Dose(time=0.0, amount=amount, target="central"),)


PK_TIMES = (0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24)
SPECS: tuple[Spec, ...] = (
    Spec("pk_onecomp_oral_two_doses", "pk", ("depot", "central"),
         {"depot": "-ka*depot", "central": "ka*depot - ke*central"}, {"conc": "central/V"},
         {"ka": 1.2, "ke": 0.12, "V": 25.0}, {"ka": 0.3, "ke": 0.2, "V": 0.15}, PK_TIMES, 10, 101, True,
         "Two dose levels (100 and 300 mg orally at time 0, into the gut); plasma concentration (mg/L) over 24 h.",
         arms=(("low", _oral(100.0)), ("high", _oral(300.0))), units={"conc": "mg/L"}),
    Spec("pk_twocomp_oral", "pk", ("depot", "central", "peripheral"),
         {"depot": "-ka*depot", "central": "ka*depot - (CL/V1)*central - (Q/V1)*central + (Q/V2)*peripheral",
          "peripheral": "(Q/V1)*central - (Q/V2)*peripheral"},
         {"conc": "central/V1"}, {"ka": 1.0, "CL": 4.0, "V1": 20.0, "Q": 6.0, "V2": 60.0},
         {"ka": 0.3, "CL": 0.25, "V1": 0.2}, (0.25, 0.5, 1, 2, 4, 6, 8, 12, 24, 36, 48, 72), 16, 102, True,
         "Single oral dose of 200 mg into the gut; plasma concentration (mg/L) over 72 h, with a slow terminal phase.",
         arms=(("all", _oral(200.0)),), problem_states=("depot", "central"), units={"conc": "mg/L"}),
    Spec("pk_michaelis_menten_iv_two_doses", "pk", ("central",),
         {"central": "-Vmax*(central/V)/(Km + central/V)"}, {"conc": "central/V"},
         {"Vmax": 30.0, "Km": 4.0, "V": 15.0}, {"Vmax": 0.2, "Km": 0.25, "V": 0.1}, (0.5, 1, 2, 4, 6, 8, 12, 24), 12,
         103, True, "IV bolus of 50 or 400 mg into the blood; plasma concentration (mg/L); elimination saturates.",
         arms=(("low", _iv(50.0)), ("high", _iv(400.0))), units={"conc": "mg/L"}),
    Spec("pk_saturable_absorption", "pk", ("depot", "central"),
         {"depot": "-Vabs*depot/(Kabs + depot)", "central": "Vabs*depot/(Kabs + depot) - ke*central"},
         {"conc": "central/V"}, {"Vabs": 80.0, "Kabs": 150.0, "ke": 0.15, "V": 30.0},
         {"Vabs": 0.25, "ke": 0.2, "V": 0.15}, PK_TIMES, 14, 104, False,
         "Single oral dose of 600 mg into the gut; plasma concentration (mg/L) over 24 h; absorption looks slow.",
         arms=(("all", _oral(600.0)),), units={"conc": "mg/L"}),
    Spec("pd_indirect_response_inhibition_two_doses", "pd", ("depot", "central", "response"),
         {"depot": "-ka*depot", "central": "ka*depot - ke*central",
          "response": "kout*R0*(1 - Imax*(central/V)/(IC50 + central/V)) - kout*response"},
         {"conc": "central/V", "response": "response"},
         {"ka": 1.0, "ke": 0.2, "V": 20.0, "R0": 100.0, "kout": 0.1, "Imax": 0.8, "IC50": 2.0},
         {"ke": 0.2, "IC50": 0.3, "R0": 0.15}, (0.5, 1, 2, 4, 8, 12, 24, 36, 48), 20, 105, True,
         "Oral doses of 50 or 200 mg; plasma concentration (mg/L) and a biomarker that the drug lowers by inhibiting "
         "its production (baseline about 100).", arms=(("low", _oral(50.0)), ("high", _oral(200.0))),
         initial={"response": "R0"}, units={"conc": "mg/L", "response": "units"}),
    Spec("epidemic_seir", "epidemic", ("S", "E", "I", "R"),
         {"S": "-beta*S*I/N", "E": "beta*S*I/N - sigma*E", "I": "sigma*E - gamma*I", "R": "gamma*I"},
         {"infected": "I"}, {"beta": 1.2, "sigma": 0.5, "gamma": 0.3, "N": 1000.0}, {"beta": 0.1, "gamma": 0.1},
         tuple(float(d) for d in range(0, 42, 4)), 8, 106, True,
         "Outbreak in a closed community of 1000 people, 2 infectious on day 0; currently infectious people counted "
         "every 4 days (replicate outbreaks).", initial={"S": 998.0, "E": 0.0, "I": 2.0, "R": 0.0},
         problem_states=("S", "I", "R"), problem_initial={"S": "N - 2", "I": "2"}, units={"infected": "people"},
         time_unit="day"),
    Spec("epidemic_sir_saturating_incidence", "epidemic", ("S", "I", "R"),
         {"S": "-beta*S*I/(N*(1 + a*I))", "I": "beta*S*I/(N*(1 + a*I)) - gamma*I", "R": "gamma*I"},
         {"infected": "I"}, {"beta": 1.5, "a": 0.02, "gamma": 0.4, "N": 800.0}, {"beta": 0.1, "gamma": 0.1},
         tuple(float(d) for d in range(0, 33, 3)), 10, 107, False,
         "Outbreak among 800 people, 1 ill on day 0; ill people counted every 3 days; spread slows as cases mount.",
         initial={"S": 799.0, "I": 1.0, "R": 0.0}, problem_states=("S", "I", "R"),
         problem_initial={"S": "N - 1", "I": "1"},
         units={"infected": "people"}, time_unit="day"),
    Spec("growth_gompertz", "growth", ("size",), {"size": "r*size*log(K/size)"}, {"size": "size"},
         {"r": 0.08, "K": 2000.0, "size0": 50.0}, {"r": 0.2, "K": 0.15, "size0": 0.3},
         (0, 7, 14, 21, 28, 35, 42, 49, 56), 12, 108, True,
         "Tumour volume (mm^3) in untreated mice, measured weekly for 8 weeks; growth decelerates.",
         initial={"size": "size0"}, units={"size": "mm^3"}, time_unit="day"),
    Spec("growth_saturable_kill", "growth", ("size",), {"size": "r*size - kmax*size/(k50 + size)"},
         {"size": "size"}, {"r": 0.12, "kmax": 20.0, "k50": 100.0, "size0": 60.0},
         {"r": 0.15, "kmax": 0.2, "size0": 0.3}, (0, 4, 8, 12, 16, 20, 24, 28), 18, 109, False,
         "Tumour volume (mm^3) under a continuous immune pressure that saturates as tumours grow; measured every "
         "4 days.", initial={"size": "size0"}, units={"size": "mm^3"}, time_unit="day"),
    Spec("growth_logistic_bsv_large", "growth", ("size",), {"size": "r*size*(1 - size/K)"}, {"size": "size"},
         {"r": 0.25, "K": 1500.0, "size0": 20.0}, {"r": 0.35, "K": 0.25, "size0": 0.4}, (0, 5, 10, 15, 20, 30, 40),
         30, 110, True, "Bacterial colony area (mm^2) in 30 plates, measured over 40 hours; growth saturates.",
         initial={"size": "size0"}, units={"size": "mm^2"}),
    Spec("progression_asymptotic", "progression", ("score",), {"score": "kp*(smax - score)"}, {"score": "score"},
         {"kp": 0.05, "smax": 60.0, "score0": 10.0}, {"kp": 0.3, "smax": 0.1, "score0": 0.3},
         (0, 6, 12, 18, 24, 36, 48), 25, 111, True,
         "Disability score of untreated patients rising towards a plateau, assessed over 48 months.",
         initial={"score": "score0"}, units={"score": "points"}, time_unit="month"),
    Spec("progression_logistic", "progression", ("score",), {"score": "a*score*(1 - score/smax)"},
         {"score": "score"}, {"a": 0.15, "smax": 80.0, "score0": 5.0}, {"a": 0.25, "smax": 0.1, "score0": 0.3},
         (0, 6, 12, 18, 24, 30, 36, 48), 22, 112, False,
         "Disease burden score that accelerates and then saturates, assessed every 6 months for 4 years.",
         initial={"score": "score0"}, units={"score": "points"}, time_unit="month"),
)
"""The suite (12 structures; 4 PK, 1 PD, 2 epidemic, 3 growth, 2 progression; 4 not in the motif library: saturable absorption, saturating incidence, saturable kill, logistic progression)."""


def _functions(spec: Spec) -> tuple[Any, dict[str, Any]]:
    names = [*spec.states, *spec.params]
    symbols = [sympy.Symbol(n) for n in names]
    rhs = [sympy.lambdify(symbols, sympy.sympify(spec.rhs[s], locals={n: sympy.Symbol(n) for n in names}), "numpy")
           for s in spec.states]

    def f(t, y, p):
        args = [y[s] for s in spec.states] + [p[k] for k in spec.params]
        return {s: fn(*args) + 0 * y[s] for s, fn in zip(spec.states, rhs)}

    obs = {}
    for o, text in spec.observables.items():
        fn = sympy.lambdify(symbols, sympy.sympify(text, locals={n: sympy.Symbol(n) for n in names}), "numpy")
        obs[o] = (lambda fn: lambda y, p: fn(*([y[s] for s in spec.states] + [p[k] for k in spec.params])))(fn)
    return f, obs


def simulate(spec: Spec) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Observations, dosing and truth of one cohort (every arm)."""
    rhs, observables = _functions(spec)
    model = SyntheticModel(name=spec.name, states=spec.states, rhs=rhs, observables=observables,
                           params=spec.params, initial=spec.initial, iiv=spec.iiv,
                           residual_proportional=spec.residual, equations=dict(spec.rhs),
                           observation_equations=dict(spec.observables), units=dict(spec.units),
                           time_unit=spec.time_unit, description=spec.context)
    obs, dosing, arms = [], [], []
    for i, (arm, doses) in enumerate(spec.arms):
        cohort = spec.name if len(spec.arms) == 1 else f"{spec.name}_{arm}"
        sim = simulate_cohort(model, times=spec.times, n_subjects=spec.n, doses=doses, seed=spec.seed * 10 + i,
                              cohort=cohort)
        obs.append(sim.data.observations.drop(columns=["sd_used", "source_row"], errors="ignore"))
        dosing.append(sim.data.dosing[["cohort", "time", "amount", "target", "duration"]])
        arms.append({"cohort": cohort, "seed": spec.seed * 10 + i,
                     "doses": [{"time": d.time, "amount": d.amount, "target": d.target} for d in doses]})
    truth = {
        "name": spec.name, "domain": spec.domain, "in_library": spec.in_library, "n_subjects": spec.n,
        "times": list(spec.times), "states": list(spec.states),
        "equations": {s: f"d({s})/dt = {spec.rhs[s]}" for s in spec.states},
        "observables": dict(spec.observables), "initial": {k: v for k, v in spec.initial.items()},
        "typical_parameters": dict(spec.params), "iiv_sd": dict(spec.iiv),
        "iiv_model": "theta_i = theta * exp(omega * eta_i), eta_i ~ N(0, 1)",
        "residual_error": {"proportional": spec.residual}, "arms": arms,
        "problem": {"states": list(spec.problem_states or [s for s in spec.states if s in spec.rhs and (
            s in spec.observables or any(s in e for e in spec.observables.values())
            or any(d.target == s for _, ds in spec.arms for d in ds))] or list(spec.states)),
            "observables": dict(spec.observables), "domain": spec.domain,
            "initial": dict(spec.problem_initial), "context": spec.context},
        "generator": "scripts/make_recovery_suite.py (cohortode.synthetic.simulate_cohort)",
    }
    return pd.concat(obs, ignore_index=True), pd.concat(dosing, ignore_index=True), truth


def write(spec: Spec, root: Path) -> Path:
    """Write one cohort directory."""
    obs, dosing, truth = simulate(spec)
    root.mkdir(parents=True, exist_ok=True)
    obs.to_csv(root / "observations.csv", index=False, float_format="%.6g")
    dosing.to_csv(root / "dosing.csv", index=False, float_format="%.6g")
    doc = {"name": spec.name, "description": spec.context, "time_unit": spec.time_unit,
           "files": {"observations": "observations.csv", "dosing": "dosing.csv"}, "units": dict(spec.units)}
    with open(root / "cohort.toml", "wb") as fh:
        tomli_w.dump(doc, fh, multiline_strings=True)
    (root / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"parent directory (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="*", choices=[s.name for s in SPECS], help="write only these cohorts")
    args = parser.parse_args(argv)
    for spec in SPECS:
        if args.only and spec.name not in args.only:
            continue
        path = write(spec, args.out / spec.name)
        print(f"wrote {path} ({'in' if spec.in_library else 'NOT in'} the motif library)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
