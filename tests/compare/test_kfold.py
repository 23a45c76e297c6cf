"""K-fold cross-validation over blocks of time points: blocks, per-block terms, and a wrong structure losing."""

import numpy as np
import pytest

import cohortode as co
from cohortode.compare import data_without_rows, heldout_terms, time_blocks
from cohortode.compare._refit import RowMaskedPosterior

ONECOMP = dict(name="onecomp", states=["depot", "central"],
               rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"}, observables={"conc": "central/V"})
NO_ELIMINATION = dict(name="noelim", states=["depot", "central"],  # clearly wrong: the concentration never falls
                      rhs={"depot": "-ka*depot", "central": "ka*depot"}, observables={"conc": "central/V"})
FOLDS = 4
CLEAR_MARGIN = 20.0
"""The wrong structure's K-fold elpd is lower by at least this much (observed: about 100)."""
MODE_RTOL = 1e-3
"""Two L-BFGS-B runs to the same mode agree to this relative tolerance."""


def laplace(spec, data):
    return co.fit(co.ODEModel(**spec), data, "laplace", error="proportional", laplace_draws_n=400, n_starts=2,
                  seed=0, warn=False)


@pytest.fixture(scope="module")
def data():
    return co.load_cohort("synthetic_onecomp_oral")


@pytest.fixture(scope="module")
def comparison(data):
    fits = {spec["name"]: laplace(spec, data) for spec in (ONECOMP, NO_ELIMINATION)}
    return co.compare(fits, cv="kfold", folds=FOLDS, marginal_likelihood=False, seed=0)


def test_time_blocks_are_consecutive_times_covering_every_row_once(data):
    blocks = time_blocks(data, FOLDS)
    times = data.observations["time"].to_numpy(float)
    assert len(blocks) == FOLDS
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(len(times)))
    for earlier, later in zip(blocks, blocks[1:]):
        assert times[earlier].max() < times[later].min()
    with pytest.raises(co.CohortodeError, match="folds must be an integer between 2 and"):
        time_blocks(data, len(np.unique(times)) + 1)
    with pytest.raises(co.CohortodeError, match="folds"):
        time_blocks(data, 1)


def test_kfold_elpd_is_finite_and_the_blocks_sum_to_it(comparison):
    kf = comparison.kfold["onecomp"]
    assert kf.folds == FOLDS and kf.method == "laplace"
    assert np.isfinite(kf.pointwise).all() and np.isfinite(kf.elpd) and kf.se > 0
    assert kf.block_elpd.sum() == pytest.approx(kf.elpd, rel=1e-12)
    assert kf.block_elpd.size == FOLDS


def test_the_table_uses_and_names_kfold(comparison):
    table = comparison.table.set_index("name")
    for name, kf in comparison.kfold.items():
        assert table.loc[name, "elpd_method"] == f"kfold({FOLDS}) over time blocks"
        assert table.loc[name, "elpd_loo"] == pytest.approx(kf.elpd)
        assert table.loc[name, "se"] == pytest.approx(kf.se)
        assert table.loc[name, "refitted_rows"] == ()
    assert np.isfinite(table["weight_stacking"]).all() and table["weight_stacking"].sum() == pytest.approx(1.0)


def test_a_clearly_wrong_structure_scores_lower(comparison):
    right, wrong = comparison.kfold["onecomp"].elpd, comparison.kfold["noelim"].elpd
    assert wrong < right - CLEAR_MARGIN
    assert comparison.table["name"].iloc[0] == "onecomp"
    assert comparison.weights("stacking")["onecomp"] > 0.9


def test_a_block_refit_matches_a_fit_to_the_reduced_data(comparison, data):
    """The masked refit (one compiled objective per fit) finds the mode of a fresh fit to the table without the
    block, with the same priors."""
    fit = comparison.fits["onecomp"]
    block = time_blocks(data, FOLDS)[1]
    fresh = co.fit(fit.model, data_without_rows(data, block), "map", error="proportional", priors=fit.priors,
                   n_starts=2, seed=1, warn=False)
    masked = RowMaskedPosterior(fit).find_map(block).values
    for name, value in fresh.map.values.items():
        assert masked[name] == pytest.approx(value, rel=MODE_RTOL), name
    terms = heldout_terms(fit, block, seed=1)
    assert np.isfinite(terms).all() and terms.shape == (len(block),)
