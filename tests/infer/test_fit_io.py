"""A Fit outlives its process: pickle, save/load (also in a fresh process), and clear errors for damaged files."""

import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import cohortode as co
from cohortode.propose._candidate import Candidate

ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
TIMES = [0.5, 2.0, 7.0, 24.0]


@pytest.fixture(scope="module")
def nuts_fit():
    data = co.load_cohort("synthetic_onecomp_oral")
    # extended once (100 -> 200 draws per chain), then out of budget: 400 ESS is out of reach of 2 x 200 draws
    return co.fit(co.ODEModel(**ONECOMP), data, "nuts", error="proportional", num_warmup=100, num_samples=100,
                  num_chains=2, workers=1, seed=3, warn=False, until_converged=True, target_ess=400,
                  max_samples=200)


@pytest.fixture(scope="module")
def saved(nuts_fit, tmp_path_factory):
    return nuts_fit.save(tmp_path_factory.mktemp("fits") / "onecomp")


def test_settings_and_sample_stats_recorded(nuts_fit):
    assert nuts_fit.settings == co.FitSettings(method="nuts", error="proportional", num_warmup=100, num_samples=100,
                                               num_chains=2, seed=3, until_converged=True, target_ess=400,
                                               max_samples=200, mass_matrix="identity")
    diverging = nuts_fit.idata.sample_stats["diverging"]
    assert diverging.shape == (2, 200) and diverging.dtype == bool
    assert int(diverging.sum()) == nuts_fit.diagnostics["divergences"]


def test_sampling_is_extended_until_the_budget_and_says_so(nuts_fit):
    d = nuts_fit.diagnostics
    assert nuts_fit.draws("ke").shape == (400,)
    assert d["convergence"] == "budget exhausted"
    assert d["min_ess_tail"] < 400 or d["min_ess_bulk"] < 400 or d["max_r_hat"] > co.infer.GOOD_RHAT


def test_pickle_round_trip_of_fit_model_data_candidate(nuts_fit):
    clone = pickle.loads(pickle.dumps(nuts_fit))
    pd.testing.assert_frame_equal(clone.predict(TIMES), nuts_fit.predict(TIMES), check_exact=True)
    assert clone.settings == nuts_fit.settings and clone.solver == nuts_fit.solver
    model = pickle.loads(pickle.dumps(nuts_fit.model))
    assert model == nuts_fit.model and model.structure_hash == nuts_fit.model.structure_hash
    data = pickle.loads(pickle.dumps(nuts_fit.data))
    assert co.data.data_hash(data) == co.data.data_hash(nuts_fit.data)
    candidate = pickle.loads(pickle.dumps(Candidate(nuts_fit.model, "text", "motif", ("a", "b"), log_prior=-1.5)))
    assert candidate.model == nuts_fit.model and candidate.mechanism == ("a", "b") and candidate.log_prior == -1.5
    # an unpickled fit that never built its InferenceData builds the same one
    fresh = pickle.loads(pickle.dumps(nuts_fit))
    fresh.idata = None
    fresh._idata = None
    np.testing.assert_array_equal(fresh.idata.log_likelihood["y"].values, nuts_fit.idata.log_likelihood["y"].values)


def test_loaded_fit_in_a_fresh_process_predicts_exactly_the_same(nuts_fit, saved, tmp_path):
    expected = nuts_fit.predict(TIMES, level=0.8)
    out = tmp_path / "pred.pkl"
    script = textwrap.dedent(f"""
        import cohortode as co
        fit = co.Fit.load({str(saved)!r})
        fit.predict({TIMES!r}, level=0.8).to_pickle({str(out)!r})
        print(fit.loo(warn=False).elpd_loo)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_pickle(out), expected, check_exact=True)
    assert float(run.stdout.split()[-1]) == pytest.approx(float(nuts_fit.loo(warn=False).elpd_loo), abs=1e-12)


def test_loaded_fit_keeps_everything(nuts_fit, saved):
    loaded = co.Fit.load(saved)
    assert loaded.settings == nuts_fit.settings and loaded.priors == nuts_fit.priors
    assert loaded.model == nuts_fit.model and loaded.diagnostics == nuts_fit.diagnostics
    pd.testing.assert_frame_equal(loaded.data.observations, nuts_fit.data.observations, check_exact=True)
    pd.testing.assert_frame_equal(loaded.diagnostics_table, nuts_fit.diagnostics_table, check_exact=True)
    np.testing.assert_array_equal(loaded.draws("ke"), nuts_fit.draws("ke"))


@pytest.mark.parametrize("damage, file", [
    ("truncate", "idata.nc"),
    ("truncate", "settings.json"),
    ("edit", "data/observations.csv"),
    ("edit", "model.toml"),
    ("delete", "diagnostics.json"),
])
def test_damaged_file_gives_an_error_naming_it(saved, tmp_path, damage, file):
    copy = tmp_path / "fit"
    shutil.copytree(saved, copy)
    target = copy / file
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "delete":
        target.unlink()
    elif file.endswith(".csv"):
        lines = target.read_text().splitlines()
        fields = lines[3].split(",")
        fields[3] = str(float(fields[3]) * 1.5)  # the mean of one row
        lines[3] = ",".join(fields)
        target.write_text("\n".join(lines) + "\n")
    else:
        target.write_text(target.read_text().replace("depot*ka - central*ke", "depot*ka - central*ke*central"))
    with pytest.raises(co.CohortodeError, match=file.split("/")[-1]):
        co.Fit.load(copy)
