"""Ensembles of fits to counts: compare -> to_ensemble, mixture bands of the expected and observed counts, a contact
rate halved from day 5 (checked against SciPy), save/load."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

import cohortode as co
from cohortode.synthetic_counts import epidemic_model, simulate_counts

POPULATION = 500
TIMES = tuple(float(t) for t in range(1, 29))
START = {"S": 0.99, "I": 0.01}
STRUCTURES = {
    "sir": dict(states=["S", "I", "R"], rhs={"S": "-beta*S*I", "I": "beta*S*I - gamma*I", "R": "gamma*I"}),
    "seir": dict(states=["S", "E", "I", "R"], rhs={"S": "-beta*S*I", "E": "beta*S*I - sigma*E",
                                                   "I": "sigma*E - gamma*I", "R": "gamma*I"}),
}
CHANGE_DAY = 5.0
SCIPY_RTOL = 1e-4  # diffrax at rtol 1e-6 against solve_ivp at 1e-10, on counts of order 10-200
MIN_COVERAGE = 0.8  # of the observed counts inside their 90% predictive interval


@pytest.fixture(scope="module")
def data():
    truth = epidemic_model("sir", beta=1.2, gamma=0.35, initial_infectious=START["I"])
    df = simulate_counts(truth, TIMES, population=POPULATION, overdispersion=0.05, seed=1)
    return co.CountData(df, observation="negative_binomial")


@pytest.fixture(scope="module")
def fits(data):
    return {name: co.fit(co.ODEModel(**rhs, observables={"I": "I"}, initial=START, name=name), data, "laplace",
                         laplace_draws_n=200, n_starts=2, seed=0, warn=False)
            for name, rhs in STRUCTURES.items()}


@pytest.fixture(scope="module")
def comparison(fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PSIS warnings of Laplace draws are not what is tested here
        return co.compare(fits, refit=False)


@pytest.fixture(scope="module")
def map_member(fits):
    """The SIR fit with one draw (its MAP): the reported median is then that draw's trajectory."""
    clone = pickle.loads(pickle.dumps(fits["sir"]))
    clone._draws = {k: np.full((1, 1), v) for k, v in fits["sir"].map.values.items()}
    clone._idata = None
    return clone


def sir_infectious(beta, gamma, times, change=None):
    """Fraction infectious at ``times`` (solve_ivp), ``beta`` multiplied by ``change[1]`` from ``change[0]``."""
    def rhs(b):
        return lambda t, x: [-b * x[0] * x[1], b * x[0] * x[1] - gamma * x[1]]
    cut = change[0] if change else times[-1]
    first = solve_ivp(rhs(beta), (0, cut), [START["S"], START["I"]], dense_output=True, rtol=1e-10, atol=1e-12)
    if change is None:
        return first.sol(times)[1]
    second = solve_ivp(rhs(beta * change[1]), (cut, times[-1]), first.y[:, -1], dense_output=True, rtol=1e-10,
                       atol=1e-12)
    return np.array([first.sol(t)[1] if t < cut else second.sol(t)[1] for t in times])


def test_comparison_of_count_fits_gives_an_ensemble_with_count_bands(comparison, data):
    ensemble = comparison.to_ensemble()
    assert ensemble.counts and set(ensemble.weights) == set(STRUCTURES)
    assert ensemble.weights["sir"] > ensemble.weights["seir"], comparison.table
    pred = ensemble.predict(TIMES)
    assert list(pred.columns) == ["cohort", "observable", "time", "population", "fraction", "fraction_lower",
                                  "fraction_upper", "expected", "expected_lower", "expected_upper", "observed_lower",
                                  "observed_upper"]
    assert ((pred["expected_lower"] <= pred["expected"]) & (pred["expected"] <= pred["expected_upper"])).all()
    assert (pred["observed_upper"] >= pred["expected_upper"] - 1).all()
    np.testing.assert_allclose(pred["expected"], POPULATION * pred["fraction"], rtol=1e-12)
    counts = data.observations["count"].to_numpy()
    inside = (pred["observed_lower"].to_numpy() <= counts) & (counts <= pred["observed_upper"].to_numpy())
    assert inside.mean() >= MIN_COVERAGE, f"{inside.mean():.0%} of the counts inside their predictive interval"


def test_weight_one_member_predicts_what_the_fit_predicts(fits):
    ensemble = co.Ensemble.from_fits(fits, {"sir": 1.0, "seir": 0.0})
    got, expected = ensemble.predict(TIMES[::4], level=0.8), fits["sir"].predict(TIMES[::4], level=0.8)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_contact_rate_halved_from_day_five_matches_scipy(map_member):
    ensemble = co.Ensemble.from_fits({"sir": map_member}, [1.0])
    values = map_member.map.values
    halved = ensemble.simulate(TIMES, changes={"beta": 0.5}, changes_from=CHANGE_DAY)
    reference = POPULATION * sir_infectious(values["beta"], values["gamma"], TIMES, change=(CHANGE_DAY, 0.5))
    np.testing.assert_allclose(halved["expected"], reference, rtol=SCIPY_RTOL)
    fitted = POPULATION * sir_infectious(values["beta"], values["gamma"], TIMES)
    early = np.asarray(TIMES) < CHANGE_DAY
    np.testing.assert_allclose(halved["expected"][early], fitted[early], rtol=SCIPY_RTOL)
    assert halved["expected"].max() < 0.9 * fitted.max()  # the peak is cut
    # halved from the start instead: already lower before day 5
    from_start = ensemble.simulate(TIMES[:4], changes={"beta": 0.5})
    reference = POPULATION * sir_infectious(0.5 * values["beta"], values["gamma"], TIMES[:4])
    np.testing.assert_allclose(from_start["expected"], reference, rtol=SCIPY_RTOL)


def test_changes_from_needs_changes(fits):
    with pytest.raises(ValueError, match="changes_from needs changes"):
        co.Ensemble.from_fits(fits, [0.5, 0.5]).simulate(TIMES, changes_from=CHANGE_DAY)


def test_count_ensemble_saves_and_loads(comparison, tmp_path):
    ensemble = comparison.to_ensemble()
    loaded = co.Ensemble.load(ensemble.save(tmp_path / "ensemble"))
    assert loaded.counts and loaded.weights == pytest.approx(ensemble.weights, abs=1e-15)
    pd.testing.assert_frame_equal(loaded.predict(TIMES[::5]), ensemble.predict(TIMES[::5]), check_exact=True)


def test_fits_to_counts_and_to_a_cohort_table_do_not_mix(fits):
    onecomp = co.fit(co.ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot",
                                                                   "central": "ka*depot - ke*central"},
                                 observables={"conc": "central/V"}),
                     co.load_cohort("synthetic_onecomp_oral"), "map", n_starts=1, error="proportional", warn=False)
    with pytest.raises(ValueError, match="cannot be mixed"):
        co.Ensemble.from_fits({"sir": fits["sir"], "onecomp": onecomp}, [0.5, 0.5]).predict(TIMES)
