"""Ensemble: mixture predictions, counterfactual regimens and parameter changes, save/load in a fresh process."""

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import simpson

import cohortode as co

ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
TIMES = [0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0]
LINEAR_RTOL = 1e-6  # dose scaling and superposition hold exactly for a linear member, up to the solver
AUC_RTOL = 1e-3


@pytest.fixture(scope="module")
def data():
    return co.load_cohort("synthetic_onecomp_oral")


@pytest.fixture(scope="module")
def laplace_fit(data):
    return co.fit(co.ODEModel(**ONECOMP), data, "laplace", error="proportional", laplace_draws_n=300, n_starts=2,
                  seed=0, warn=False)


@pytest.fixture(scope="module")
def map_fit(laplace_fit):
    """A one-draw posterior (the MAP) of the same fit: per-draw identities then hold for the reported median."""
    clone = pickle.loads(pickle.dumps(laplace_fit))
    clone._draws = {k: np.full((1, 1), v) for k, v in laplace_fit.map.values.items()}
    clone._idata = None
    return clone


def shifted(fit, factor, site="V"):
    """A copy of ``fit`` whose posterior draws of ``site`` are multiplied by ``factor`` (a member that disagrees)."""
    clone = pickle.loads(pickle.dumps(fit))
    clone._draws = {**clone._draws, site: clone._draws[site] * factor}
    clone._idata = None
    return clone


def test_weights_one_and_zero_predict_exactly_member_one(laplace_fit):
    ensemble = co.Ensemble.from_fits({"a": laplace_fit, "b": shifted(laplace_fit, 2.0)}, [1.0, 0.0])
    got, expected = ensemble.predict(TIMES, level=0.8), laplace_fit.predict(TIMES, level=0.8)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_mixing_members_that_disagree_widens_the_band(laplace_fit):
    other = shifted(laplace_fit, 1.6)
    mixed = co.Ensemble.from_fits({"a": laplace_fit, "b": other}, {"a": 0.5, "b": 0.5}).predict(TIMES)
    widths = [f.predict(TIMES).eval("mean_upper - mean_lower").to_numpy() for f in (laplace_fit, other)]
    mixed_width = mixed.eval("mean_upper - mean_lower").to_numpy()
    assert np.all(mixed_width > np.maximum(*widths))


def test_doubling_the_dose_doubles_the_mean(map_fit):
    ensemble = co.Ensemble.from_fits({"one": map_fit}, [1.0])
    single = ensemble.simulate(TIMES, regimen=co.Regimen(amount=320.0, target="depot"))
    double = ensemble.simulate(TIMES, regimen=co.Regimen(amount=640.0, target="depot"))
    np.testing.assert_allclose(double["mean"], 2 * single["mean"], rtol=LINEAR_RTOL)
    observed = ensemble.predict(TIMES)  # the data's own regimen is 320 into depot at 0
    np.testing.assert_allclose(single["mean"], observed["mean"], rtol=LINEAR_RTOL)


def test_five_doses_equal_the_superposition_of_shifted_single_doses(map_fit):
    ensemble = co.Ensemble.from_fits({"one": map_fit}, [1.0])
    step, interval = 1.5, 12.0
    times = np.arange(0.0, 72.0, step)  # the dose times are on the grid, so shifted grids are the same grid
    multi = ensemble.simulate(times, regimen=co.Regimen(amount=100.0, target="depot", interval=interval, n_doses=5))
    single = ensemble.simulate(times, regimen=co.Regimen(amount=100.0, target="depot"))["mean"].to_numpy()
    total = np.zeros(times.size)
    for k in range(5):
        shift = int(round(k * interval / step))
        total[shift:] += single[: times.size - shift]
    np.testing.assert_allclose(multi["mean"], total, rtol=LINEAR_RTOL, atol=1e-12)


def test_halving_ke_of_an_iv_bolus_doubles_the_auc(map_fit):
    ensemble = co.Ensemble.from_fits({"one": map_fit}, [1.0])
    ke = map_fit.map.values["ke"]
    horizon = 40.0 / (0.5 * ke)  # exp(-40) of the dose is left at the end
    times = np.linspace(0.0, horizon, 801)
    bolus = co.Regimen(amount=100.0, target="central")

    def auc(changes):
        mean = ensemble.simulate(times, regimen=bolus, changes=changes)["mean"].to_numpy()
        return simpson(mean, x=times)
    assert auc({"ke": 0.5}) / auc(None) == pytest.approx(2.0, rel=AUC_RTOL)
    assert auc({"ke": co.Absolute(0.5 * ke)}) == pytest.approx(auc({"ke": 0.5}), rel=1e-12)


def test_ke_halved_from_a_time_matches_the_closed_form(map_fit):
    """Without between-subject variability the cohort mean is the typical individual's, in closed form."""
    clone = pickle.loads(pickle.dumps(map_fit))
    clone._draws = {k: v * 0 if k.startswith("omega_") else v for k, v in map_fit._draws.items()}
    ensemble = co.Ensemble.from_fits({"one": clone}, [1.0])
    ke, v = map_fit.map.values["ke"], map_fit.map.values["V"]
    times = np.array([1.0, 3.0, 6.0, 12.0])
    bolus = co.Regimen(amount=100.0, target="central")
    got = ensemble.simulate(times, regimen=bolus, changes={"ke": 0.5}, changes_from=4.0)["mean"].to_numpy()
    exponent = np.where(times < 4.0, ke * times, ke * 4.0 + 0.5 * ke * (times - 4.0))
    np.testing.assert_allclose(got, 100.0 / v * np.exp(-exponent), rtol=LINEAR_RTOL)
    # from the start, it is the plain change
    start = ensemble.simulate(times, regimen=bolus, changes={"ke": 0.5}, changes_from=0.0)
    plain = ensemble.simulate(times, regimen=bolus, changes={"ke": 0.5})
    pd.testing.assert_frame_equal(start, plain, check_exact=False, rtol=LINEAR_RTOL)


def test_table_and_summary(laplace_fit):
    ensemble = co.Ensemble.from_fits({"a": laplace_fit, "b": shifted(laplace_fit, 1.6)}, [0.25, 0.75])
    table = ensemble.table()
    assert list(table["name"]) == ["a", "b"] and table["weight"].tolist() == [0.25, 0.75]
    summary = ensemble.summary()
    assert set(summary["member"]) == {"a", "b"}
    v = summary.set_index(["member", "parameter"])["median"]
    assert v["b", "V"] == pytest.approx(1.6 * v["a", "V"])
    with pytest.raises(ValueError, match="sum to 1"):
        co.Ensemble.from_fits({"a": laplace_fit}, [0.5])
    with pytest.raises(ValueError, match="unknown parameter"):
        ensemble.simulate(TIMES, changes={"kel": 0.5})


def test_save_and_load_in_a_fresh_process(laplace_fit, tmp_path):
    ensemble = co.Ensemble.from_fits({"a": laplace_fit, "b": shifted(laplace_fit, 1.6)}, [0.3, 0.7],
                                     provenance={"llm": "none (motifs)"})
    folder = ensemble.save(tmp_path / "ens")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [m["weight"] for m in manifest["members"]] == [0.3, 0.7]
    prov = manifest["provenance"]
    assert prov["data_hash"] == co.data.data_hash(laplace_fit.data) and prov["llm"] == "none (motifs)"
    assert prov["seeds"] == {"a": 0, "b": 0} and prov["packages"]["jax"] and prov["created"]
    expected = ensemble.predict(TIMES)
    out = tmp_path / "pred.pkl"
    script = textwrap.dedent(f"""
        import cohortode as co
        co.Ensemble.load({str(folder)!r}).predict({TIMES!r}).to_pickle({str(out)!r})
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_pickle(out), expected, check_exact=True)
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text()[:100])
    with pytest.raises(co.CohortodeError, match="manifest.json"):
        co.Ensemble.load(folder)
