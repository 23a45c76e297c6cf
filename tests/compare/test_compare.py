"""compare(): the table, the exact-refit fallback for high Pareto k, and the true structure winning."""

import contextlib
import pickle

import numpy as np
import pytest

import cohortode as co
from cohortode.compare import TABLE_COLUMNS, data_without_row

ONECOMP = dict(name="onecomp", states=["depot", "central"],
               rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"}, observables={"conc": "central/V"})
TWOCOMP = dict(name="twocomp", states=["depot", "central", "periph"],
               rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central - k12*central + k21*periph",
                    "periph": "k12*central - k21*periph"}, observables={"conc": "central/V"})
MICHAELIS_MENTEN = dict(name="mm", states=["depot", "central"],
                        rhs={"depot": "-ka*depot", "central": "ka*depot - vmax*central/(km + central)"},
                        observables={"conc": "central/V"})
OUTLIER_ROW = 6
OUTLIER_FACTOR = 2.5


def _nothing():
    return contextlib.nullcontext()


def laplace(spec, data):
    return co.fit(co.ODEModel(**spec), data, "laplace", error="proportional", laplace_draws_n=400, n_starts=2,
                  seed=0, warn=False, screening=True)


@pytest.fixture(scope="module")
def data():
    return co.load_cohort("synthetic_onecomp_oral")


@pytest.fixture(scope="module")
def comparison(data):
    # Laplace fits, so R-hat and ESS are NaN here. A NUTS variant (2 chains x 200, workers=1) took 674 s on two
    # shared cores (Michaelis-Menten alone 572 s; two-compartment at R-hat 1.36 with 23 divergences, and its
    # posterior probability 0.41 against the true structure's 0.43): too slow and too noisy for this test.
    fits = {spec["name"]: laplace(spec, data) for spec in (ONECOMP, TWOCOMP, MICHAELIS_MENTEN)}
    return co.compare(fits, refit=False, seed=0)


def test_true_structure_wins_and_every_column_is_there(comparison):
    table = comparison.table
    assert tuple(table.columns) == TABLE_COLUMNS
    best_stacking = table.loc[table["weight_stacking"].idxmax(), "name"]
    best_bma = table.loc[table["posterior_probability"].idxmax(), "name"]
    assert best_stacking == "onecomp" and best_bma == "onecomp"
    numeric = table.drop(columns=["name", "equations", "refitted_rows", "elpd_method", "max_r_hat",
                                  "min_ess_bulk"])
    assert np.isfinite(numeric.to_numpy(float)).all()
    assert table["weight_stacking"].sum() == pytest.approx(1.0) and table["posterior_probability"].sum() == (
        pytest.approx(1.0))
    assert (table["log_marginal_likelihood_error"] > 0).all()
    assert table["max_r_hat"].isna().all()  # Laplace fits have no R-hat
    assert (table["elpd_method"] == "psis-loo").all()


def test_structure_prior_enters_the_posterior_probabilities_only(comparison):
    fits = comparison.fits
    log_prior = {"onecomp": 0.0, "twocomp": 0.0, "mm": 50.0}  # an overwhelming prior for MM
    tilted = co.compare(fits, refit=False, structure_log_prior=log_prior, seed=0).table.set_index("name")
    plain = comparison.table.set_index("name")
    assert tilted.loc["mm", "posterior_probability"] > 0.99
    np.testing.assert_allclose(tilted["weight_stacking"], plain.loc[tilted.index, "weight_stacking"])


def test_comparison_pickles_and_makes_an_ensemble(comparison):
    clone = pickle.loads(pickle.dumps(comparison))
    assert clone.table.equals(comparison.table)
    ensemble = comparison.to_ensemble("stacking")
    assert ensemble.weights == pytest.approx(comparison.weights("stacking"))


@pytest.fixture(scope="module")
def outlier(data):
    obs = data.observations.drop(columns=["sd_used", "source_row"]).copy()
    obs.loc[obs.index[OUTLIER_ROW], "mean"] *= OUTLIER_FACTOR
    return co.CohortData(obs, dosing=data.dosing.drop(columns=["source_row"]))


def test_outlying_row_is_refitted_exactly(outlier):
    fit = laplace(ONECOMP, outlier)
    psis = fit.loo(warn=False)
    k = np.asarray(psis.pareto_k)
    threshold = 0.5
    assert k[OUTLIER_ROW] > threshold and k[OUTLIER_ROW] == k.max()
    n_high = int(np.sum(k > threshold))
    with pytest.warns(co.DiagnosticsWarning, match="max_refits=1") if n_high > 1 else _nothing():
        # one refit (the worst row) keeps the test cheap; the other rows above the threshold are named
        result = co.compare({"onecomp": fit}, pareto_k_threshold=threshold, max_refits=1, seed=0,
                            marginal_likelihood=False)
    row = result.table.iloc[0]
    assert row["refitted_rows"] == (OUTLIER_ROW,) and row["n_high_k"] == n_high
    assert row["elpd_method"] == "psis-loo + exact refits"
    exact = float(result.loo["onecomp"]["loo_i"].values[OUTLIER_ROW])
    assert exact != pytest.approx(float(psis["loo_i"].values[OUTLIER_ROW]), abs=0.05)
    assert row["elpd_loo"] == pytest.approx(float(np.sum(result.loo["onecomp"]["loo_i"].values)))


@pytest.mark.slow
def test_outlying_row_is_refitted_exactly_by_warm_started_nuts(outlier):
    """The NUTS path of the exact refit: chains start at draws of the full posterior (about 45 s on 2 cores)."""
    fit = co.fit(co.ODEModel(**ONECOMP), outlier, "nuts", error="proportional", num_chains=2, num_warmup=200,
                 num_samples=200, workers=1, seed=0, warn=False)
    psis = fit.loo(warn=False)
    k = np.asarray(psis.pareto_k)
    threshold = float(psis.good_k)  # arviz's threshold for 400 draws
    assert k[OUTLIER_ROW] > threshold and k[OUTLIER_ROW] == k.max()
    n_high = int(np.sum(k > threshold))
    with pytest.warns(co.DiagnosticsWarning, match="max_refits=1") if n_high > 1 else _nothing():
        result = co.compare({"onecomp": fit}, max_refits=1, seed=0, marginal_likelihood=False)
    row = result.table.iloc[0]
    assert row["refitted_rows"] == (OUTLIER_ROW,) and row["n_high_k"] == n_high
    assert row["elpd_method"] == "psis-loo + exact refits"
    terms = np.asarray(result.loo["onecomp"]["loo_i"].values)
    psis_terms = np.asarray(psis["loo_i"].values)
    assert np.isfinite(terms[OUTLIER_ROW])
    # PSIS overstates how well the posterior that saw the outlier predicts it (observed: -41 against -139)
    assert terms[OUTLIER_ROW] < psis_terms[OUTLIER_ROW] - 1.0
    others = np.arange(terms.size) != OUTLIER_ROW
    np.testing.assert_array_equal(terms[others], psis_terms[others])
    assert row["elpd_loo"] == pytest.approx(float(terms.sum()))


def test_data_without_row(data):
    smaller = data_without_row(data, 3)
    assert len(smaller.observations) == len(data.observations) - 1
    assert data.observations["time"].iloc[3] not in set(smaller.observations["time"])


@pytest.mark.heavy
def test_true_structure_wins_with_nuts_posteriors(data):
    """The issue's test with the posteriors it asks for: NUTS fits (the exact adaptive solver), PSIS-LOO on their
    draws, bridge sampling from them for the posterior model probabilities, and R-hat, ESS and divergences in the
    table (about 4 minutes on 2 cores: ``pytest -m heavy``).

    The alternatives nest the truth and predict as well: on 2 x (300 + 300) draws, Michaelis-Menten elimination had
    elpd_loo -9.83 against the truth's -10.30 (difference 0.47, standard error 0.55), and plain stacking gave it all
    the weight. The truth has the highest posterior probability (0.47 against 0.20 and 0.33), and the stacking weights
    after the parsimony rule that a discovery applies (:func:`cohortode.compare.parsimony_exclusions`: a richer
    structure must beat a simpler one by more than the standard error and more than 2) give it all the weight."""
    from cohortode.compare import parsimony_exclusions

    fits = {spec["name"]: co.fit(co.ODEModel(**spec), data, "nuts", error="proportional", num_chains=2,
                                 num_warmup=300, num_samples=300, workers=2, seed=0, warn=False)
            for spec in (ONECOMP, TWOCOMP, MICHAELIS_MENTEN)}
    comparison = co.compare(fits, refit=False, seed=0)
    table = comparison.table
    assert tuple(table.columns) == TABLE_COLUMNS
    numeric = table.drop(columns=["name", "equations", "refitted_rows", "elpd_method"])
    assert np.isfinite(numeric.to_numpy(float)).all()
    assert (table["log_marginal_likelihood_error"] > 0).all()
    assert table["posterior_probability"].sum() == pytest.approx(1.0)
    assert table.loc[table["posterior_probability"].idxmax(), "name"] == "onecomp"
    assert table.set_index("name").loc["onecomp", "max_r_hat"] < 1.05
    left_out = parsimony_exclusions(comparison)
    assert set(left_out) == {"twocomp", "mm"}
    kept = co.compare({k: f for k, f in fits.items() if k not in left_out}, refit=False, seed=0,
                      marginal_likelihood=False)
    assert kept.weights("stacking") == {"onecomp": pytest.approx(1.0)}
