"""Fits to counts of one population: NUTS recovers a negative-binomial SIR outbreak, binomial fractions of a
two-state model, and stacking weights pick the true epidemic structure."""

from __future__ import annotations

import pickle
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import cohortode as co
from cohortode.synthetic import SyntheticModel
from cohortode.synthetic_counts import epidemic_model, simulate_counts

MAX_RHAT = 1.01
LEVEL = 0.9
POPULATION = 500
TIMES = tuple(float(t) for t in range(1, 29))
SIR_TRUTH = {"beta": 1.2, "gamma": 0.35}
SEIR_TRUTH = {"beta": 1.5, "gamma": 0.35, "sigma": 0.3}  # a mean latent period of 3.3 days
OVERDISPERSION = 0.05
START = {"S": 0.99, "I": 0.01}
STRUCTURES = {
    "sir": dict(states=["S", "I", "R"], rhs={"S": "-beta*S*I", "I": "beta*S*I - gamma*I", "R": "gamma*I"}),
    "seir": dict(states=["S", "E", "I", "R"], rhs={"S": "-beta*S*I", "E": "beta*S*I - sigma*E",
                                                   "I": "sigma*E - gamma*I", "R": "gamma*I"}),
    "sirs": dict(states=["S", "I", "R"], rhs={"S": "-beta*S*I + omega*R", "I": "beta*S*I - gamma*I",
                                              "R": "gamma*I - omega*R"}),
}
NUTS = dict(num_warmup=400, num_samples=400, num_chains=4, workers=1, warn=False)
COMPARE_NUTS = dict(num_warmup=250, num_samples=250, num_chains=2, workers=1, warn=False, n_starts=2)


def structure(name: str) -> co.ODEModel:
    return co.ODEModel(**STRUCTURES[name], observables={"I": "I"}, initial=START, name=name)


def outbreak(kind: str, seed: int = 1) -> co.CountData:
    truth = epidemic_model(kind, **(SIR_TRUTH if kind == "sir" else SEIR_TRUTH), initial_infectious=START["I"])
    df = simulate_counts(truth, TIMES, population=POPULATION, overdispersion=OVERDISPERSION, seed=seed)
    return co.CountData(df, observation="negative_binomial")


def stacking_weights(fits: dict[str, co.Fit]) -> pd.Series:
    """Stacking weight of each fit (arviz on the fits' ``idata``; PSIS warnings are not what is tested here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.compare({k: f.idata for k, f in fits.items()}, method="stacking")["weight"]


@pytest.fixture(scope="module")
def sir_nuts():
    return co.fit(structure("sir"), outbreak("sir"), "nuts", seed=0, **NUTS)


@pytest.mark.slow
def test_nuts_recovers_negative_binomial_sir(sir_nuts):
    summary = sir_nuts.summary(level=LEVEL)
    truth = {**SIR_TRUTH, "overdispersion_I": OVERDISPERSION}
    for name, value in truth.items():
        lo, hi = summary.loc[name, "q0.05"], summary.loc[name, "q0.95"]
        assert lo <= value <= hi, f"{name}: true {value} outside 90% interval [{lo:.3g}, {hi:.3g}]"
    assert not any(s.startswith(("omega_", "sigma_")) for s in summary.index)
    assert sir_nuts.diagnostics["max_r_hat"] <= MAX_RHAT
    assert sir_nuts.diagnostics["divergences"] == 0


@pytest.mark.slow
def test_count_fit_outputs(sir_nuts):
    n_rows = len(TIMES)
    idata = sir_nuts.idata
    assert isinstance(sir_nuts, co.infer.CountFit)
    assert idata.log_likelihood["y"].shape == (4, 400, n_rows)
    assert np.isfinite(idata.log_likelihood["y"].values).all()
    assert idata.posterior_predictive["count"].shape == (4, 400, n_rows)
    pred = sir_nuts.predict(TIMES)
    assert (pred["expected_lower"] <= pred["expected"]).all() and (pred["expected"] <= pred["expected_upper"]).all()
    assert (pred["observed_lower"] <= pred["expected_lower"] + 1).all()
    np.testing.assert_allclose(pred["expected"], POPULATION * pred["fraction"])
    counts = sir_nuts.data.observations["count"].to_numpy()
    inside = (pred["observed_lower"].to_numpy() <= counts) & (counts <= pred["observed_upper"].to_numpy())
    assert inside.mean() >= 0.8, f"only {inside.mean():.0%} of the counts inside their 90% predictive interval"
    loo = sir_nuts.loo(warn=False)
    assert np.isfinite(loo.elpd_loo) and np.asarray(loo.pareto_k).shape == (n_rows,)
    first = {k: v[0, :5] for k, v in sir_nuts._draws.items()}  # what cohortode.compare's exact refits call
    np.testing.assert_allclose(sir_nuts.pointwise_loglik(first), idata.log_likelihood["y"].values[0, :5])
    again = pickle.loads(pickle.dumps(sir_nuts))
    assert isinstance(again, co.infer.CountFit)
    # the same draws and the same solver; the saved times differ, so the adaptive steps may differ slightly
    np.testing.assert_allclose(again.predict(TIMES[:3])["expected"], pred["expected"][:3], rtol=1e-4)


@pytest.mark.slow
def test_binomial_fraction_of_two_state_model_within_interval():
    """Fraction of a cohort still on treatment (leaving at rate k), given as fractions of 200 patients."""
    k = 0.15
    truth = SyntheticModel(name="retention", states=("on", "off"),
                           rhs=lambda t, x, p: {"on": -p["k"] * x["on"], "off": p["k"] * x["on"]},
                           observables={"on": lambda x, p: x["on"]}, params={"k": k}, initial={"on": 1.0})
    times = tuple(float(t) for t in range(1, 13))
    df = simulate_counts(truth, times, population=200, observation="binomial", as_fraction=True, seed=3)
    data = co.CountData(df)
    model = co.ODEModel(states=["on", "off"], rhs={"on": "-k*on", "off": "k*on"}, observables={"on": "on"},
                        initial={"on": 1.0})
    # two worker processes: the count likelihood is rebuilt in each
    fit = co.fit(model, data, "nuts", num_warmup=300, num_samples=300, num_chains=2, workers=2, seed=0, warn=False)
    pred = fit.predict(times, level=LEVEL)
    f_true = np.exp(-k * np.asarray(times))
    assert ((pred["fraction_lower"] <= f_true) & (f_true <= pred["fraction_upper"])).all()
    lo, hi = fit.summary(level=LEVEL).loc["k", ["q0.05", "q0.95"]]
    assert lo <= k <= hi


@pytest.mark.slow
@pytest.mark.parametrize("truth", ["sir", "seir"])
def test_stacking_picks_the_true_epidemic_structure(truth, sir_nuts):
    data = outbreak(truth)
    fits = {name: sir_nuts if (truth, name) == ("sir", "sir") else
            co.fit(structure(name), data, "nuts", seed=0, **COMPARE_NUTS) for name in STRUCTURES}
    weights = stacking_weights(fits)
    others = [name for name in STRUCTURES if name != truth]
    assert all(weights[truth] > weights[o] for o in others), f"truth {truth}: stacking weights {weights.to_dict()}"
