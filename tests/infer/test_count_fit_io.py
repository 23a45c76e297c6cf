"""A fit to counts outlives its process: pickle, save/load (also in a fresh process, through Fit.load), and clear
errors for damaged files."""

import json
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import cohortode as co
from cohortode.synthetic import SyntheticModel
from cohortode.synthetic_counts import simulate_counts

K, REPORTING, POPULATION = 0.15, 0.8, 300
TIMES = (1.0, 3.0, 6.0, 10.0)


@pytest.fixture(scope="module")
def count_fit():
    """Still on treatment of 300 patients, 80% reported, negative-binomial noise: reporting and overdispersion sites,
    the exact linear path (cheap to compile), Laplace draws."""
    truth = SyntheticModel(name="retention", states=("on", "off"),
                           rhs=lambda t, x, p: {"on": -p["k"] * x["on"], "off": p["k"] * x["on"]},
                           observables={"on": lambda x, p: x["on"]}, params={"k": K}, initial={"on": 1.0})
    df = simulate_counts(truth, tuple(float(t) for t in range(1, 13)), population=POPULATION, reporting=REPORTING,
                         overdispersion=0.05, seed=5)
    data = co.CountData(df, observation="negative_binomial", reporting=True, description="retention")
    model = co.ODEModel(states=["on", "off"], rhs={"on": "-k*on", "off": "k*on"}, observables={"on": "on"},
                        initial={"on": 1.0})
    return co.fit(model, data, "laplace", laplace_draws_n=200, n_starts=2, seed=0, warn=False)


@pytest.fixture(scope="module")
def saved(count_fit, tmp_path_factory):
    return count_fit.save(tmp_path_factory.mktemp("fits") / "retention")


def test_count_data_pickles(count_fit):
    data = pickle.loads(pickle.dumps(count_fit.data))
    assert isinstance(data, co.CountData)
    assert co.data.data_hash(data) == co.data.data_hash(count_fit.data)
    assert data.observation_models() == {"on": "negative_binomial"}


def test_pickled_count_fit_predicts_exactly_the_same(count_fit):
    clone = pickle.loads(pickle.dumps(count_fit))
    assert isinstance(clone, co.infer.CountFit)
    pd.testing.assert_frame_equal(clone.predict(TIMES), count_fit.predict(TIMES), check_exact=True)


def test_loaded_count_fit_keeps_everything(count_fit, saved):
    loaded = co.infer.CountFit.load(saved)
    assert isinstance(loaded, co.infer.CountFit) and isinstance(loaded.data, co.CountData)
    assert loaded.settings == count_fit.settings and loaded.priors == count_fit.priors
    assert {"overdispersion_on", "reporting_on"} <= set(loaded.priors)
    assert loaded.model == count_fit.model and loaded.diagnostics == count_fit.diagnostics
    # the text column (observation model) and the boolean one (reporting) come back with their types
    pd.testing.assert_frame_equal(loaded.data.observations, count_fit.data.observations, check_exact=True)
    assert loaded.data.description == "retention"
    np.testing.assert_array_equal(loaded.draws("reporting_on"), count_fit.draws("reporting_on"))
    np.testing.assert_array_equal(loaded.idata.posterior_predictive["count"].values,
                                  count_fit.idata.posterior_predictive["count"].values)


def test_fit_load_in_a_fresh_process_gives_a_count_fit_that_predicts_exactly_the_same(count_fit, saved, tmp_path):
    expected = count_fit.predict(TIMES, level=0.8)
    out = tmp_path / "pred.pkl"
    script = textwrap.dedent(f"""
        import cohortode as co
        fit = co.Fit.load({str(saved)!r})
        assert type(fit).__name__ == "CountFit", type(fit)
        fit.predict({TIMES!r}, level=0.8).to_pickle({str(out)!r})
        print(fit.loo(warn=False).elpd_loo)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_pickle(out), expected, check_exact=True)
    assert float(run.stdout.split()[-1]) == pytest.approx(float(count_fit.loo(warn=False).elpd_loo), abs=1e-12)


def _edit_count(file):
    table = pd.read_csv(file)
    table.loc[2, "count"] += 1
    table.to_csv(file, index=False)


def _set_kind(file, kind):
    meta = json.loads(file.read_text())
    meta["kind"] = kind
    file.write_text(json.dumps(meta))


@pytest.mark.parametrize("damage, file, message", [
    (lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]), "idata.nc", "idata.nc"),
    (_edit_count, "data/observations.csv", "observations.csv"),
    (lambda f: f.unlink(), "data/data.json", "data.json"),
    (lambda f: _set_kind(f, "survival"), "data/data.json", "unknown data kind 'survival'"),
    # a count table read as a mean/SD/n table: its hash no longer matches
    (lambda f: _set_kind(f, "cohort"), "data/data.json", "data.json"),
])
def test_damaged_count_fit_gives_an_error_naming_the_file(saved, tmp_path, damage, file, message):
    copy = tmp_path / "fit"
    shutil.copytree(saved, copy)
    damage(copy / file)
    with pytest.raises(co.CohortodeError, match=message):
        co.Fit.load(copy)


def test_count_fit_load_refuses_a_fit_to_a_cohort_table(tmp_path):
    data = co.load_cohort("synthetic_onecomp_oral")
    model = co.ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                        observables={"conc": "central/V"})
    folder = co.fit(model, data, "map", n_starts=1, error="proportional", warn=False).save(tmp_path / "onecomp")
    with pytest.raises(co.CohortodeError, match="not to counts"):
        co.infer.CountFit.load(folder)
    assert type(co.Fit.load(folder)) is co.Fit
