"""The predictive band of a reported cohort mean: the band of the mean widened by the sampling noise sd/sqrt(n)."""

import numpy as np
import pytest

import cohortode as co
from cohortode.ensemble._mixture import cohort_size, observed_mean_draws

ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
TIMES = [1.0, 4.0, 12.0]


@pytest.fixture(scope="module")
def fit():
    data = co.load_cohort("synthetic_onecomp_oral")
    return co.fit(co.ODEModel(**ONECOMP), data, "laplace", error="proportional", laplace_draws_n=300, n_starts=2,
                  seed=0, warn=False)


def test_the_observed_mean_band_contains_the_mean_band_and_shrinks_with_n(fit):
    small, large = fit.predict(TIMES, n=2), fit.predict(TIMES, n=10_000)
    assert (small["observed_mean_lower"] < small["mean_lower"]).all()
    assert (small["observed_mean_upper"] > small["mean_upper"]).all()
    # a huge cohort reports its population mean: the predictive band is the band of the mean, up to MC noise
    width = large.eval("mean_upper - mean_lower")
    np.testing.assert_allclose(large.eval("observed_mean_upper - observed_mean_lower"), width, rtol=0.1)
    default = fit.predict(TIMES)
    n = cohort_size(fit.data, fit.data.cohorts[0], None)
    assert n == float(np.median(fit.data.observations["n"]))
    np.testing.assert_allclose(default["observed_mean_upper"], fit.predict(TIMES, n=n)["observed_mean_upper"])
    with pytest.raises(ValueError, match="cohort size of at least 1"):
        fit.predict(TIMES, n=0)


def test_draws_have_the_sampling_variance():
    mean, sd = np.full((200_000, 1, 1), 3.0), np.full((200_000, 1, 1), 2.0)
    draws = observed_mean_draws(mean, sd, 16, seed=1)
    assert draws.mean() == pytest.approx(3.0, abs=0.01)
    assert draws.std() == pytest.approx(0.5, rel=0.01)


def test_an_ensemble_of_one_member_gives_the_member_band(fit):
    ensemble = co.Ensemble.from_fits({"a": fit}, [1.0])
    got, expected = ensemble.predict(TIMES, n=5), fit.predict(TIMES, n=5)
    np.testing.assert_allclose(got["observed_mean_lower"], expected["observed_mean_lower"], rtol=1e-12)
    np.testing.assert_allclose(got["observed_mean_upper"], expected["observed_mean_upper"], rtol=1e-12)
