"""A NUTS fit in parts (start, chains, assembly), as a discovery runs it over a pool, equals ``fit``."""

import pickle
from concurrent.futures import ProcessPoolExecutor
import multiprocessing

import numpy as np
import pytest

import cohortode as co
from cohortode.infer import NutsStart, fit_from_chains, start_nuts

ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
MM = dict(states=["depot", "central"],
          rhs={"depot": "-ka*depot", "central": "ka*depot - vmax*central/(km + central)"},
          observables={"conc": "central/V"})
SHORT = dict(num_warmup=40, num_samples=30, num_chains=3, n_starts=1, seed=3, error="proportional")


def _chain(start: NutsStart, index: int):
    return start.chain(index)


@pytest.fixture(scope="module")
def data():
    return co.load_cohort("synthetic_onecomp_oral")


def test_parts_in_this_process_equal_fit(data):
    model = co.ODEModel(**ONECOMP)
    whole = co.fit(model, data, method="nuts", workers=1, warn=False, **SHORT)
    start = start_nuts(model, data, warn=False, **SHORT)
    parts = fit_from_chains(start, [start.chain(i) for i in range(start.num_chains)])
    assert parts.settings == whole.settings
    for name in ("ka", "ke", "V"):
        np.testing.assert_array_equal(parts.draws(name), whole.draws(name))
    assert parts.diagnostics["max_r_hat"] == whole.diagnostics["max_r_hat"]
    assert parts.diagnostics["convergence"] == "not extended"
    assert parts.map.log_likelihood == whole.map.log_likelihood


def test_a_start_pickles_and_its_chains_run_in_worker_processes(data):
    """The ODE path (Michaelis-Menten through Tsit5, Laplace metric): chains computed in two fresh interpreters,
    two per worker, assemble into the same fit as in this process, up to floating-point differences."""
    model = co.ODEModel(**MM)
    settings = dict(SHORT, num_chains=4, num_warmup=30, num_samples=20)
    start = start_nuts(model, data, warn=False, **settings)
    assert start.settings.mass_matrix == "laplace" and start.metric is not None
    back = pickle.loads(pickle.dumps(start))
    assert back.token == start.token and back.settings == start.settings
    np.testing.assert_array_equal(back.map.unconstrained, start.map.unconstrained)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        chains = list(pool.map(_chain, [start] * 4, range(4)))
    remote = fit_from_chains(start, chains)
    local = fit_from_chains(start, [start.chain(i) for i in range(4)])
    for name in ("ka", "vmax", "km", "V"):
        np.testing.assert_allclose(remote.draws(name), local.draws(name), rtol=1e-6)
    assert remote.seconds > start.seconds


def test_wrong_chain_index_and_count_are_refused(data):
    start = start_nuts(co.ODEModel(**ONECOMP), data, warn=False, **SHORT)
    with pytest.raises(ValueError, match="chain index 3 outside 0..2"):
        start.chain(3)
    with pytest.raises(ValueError, match="2 chains for a fit of 3"):
        fit_from_chains(start, [start.chain(0), start.chain(1)])
