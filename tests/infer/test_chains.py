"""NUTS chains in worker processes and in this process."""

import numpy as np
import pytest

import cohortode as co
from cohortode.infer import BayesianProblem
from cohortode.infer._chains import NutsSettings, run_chains

ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
SHORT = NutsSettings(num_warmup=60, num_samples=40)


@pytest.fixture(scope="module")
def problem_and_start():
    lik = co.AggregateLikelihood(co.ODEModel(**ONECOMP), co.load_cohort("synthetic_onecomp_oral"),
                                 error="proportional")
    problem = BayesianProblem.build(lik)
    start = co.infer.find_map(problem, n_starts=1)
    return problem, start


@pytest.mark.slow
def test_worker_processes_return_every_chain_in_order(problem_and_start):
    problem, start = problem_and_start
    chains = run_chains(problem, SHORT, start.unconstrained, num_chains=3, seed=5, workers=2)
    assert len(chains) == 3
    for c in chains:
        assert c.z.shape == (40, problem.dimension)
        assert np.isfinite(c.z).all()
        assert c.diverging.shape == (40,)
    # distinct keys: the chains are not copies of each other
    assert not np.allclose(chains[0].z, chains[1].z)
    # same seed, same first chain (the key of chain i does not depend on how chains are run)
    again = run_chains(problem, SHORT, start.unconstrained, num_chains=1, seed=5, workers=1)
    draws = problem.constrain(np.stack([chains[0].z, again[0].z]))
    for name in ("ka", "ke", "V"):
        a, b = np.asarray(draws[name])
        assert abs(np.median(a) - np.median(b)) < 0.5 * (np.std(a) + np.std(b)) + 1e-9, name


def test_failing_worker_reports_its_output(problem_and_start):
    problem, start = problem_and_start
    bad = start.unconstrained[:-1]  # one site short: the worker refuses it
    with pytest.raises(RuntimeError, match=r"(?s)NUTS chain \d failed in its worker process.*initial point of shape"):
        run_chains(problem, SHORT, bad, num_chains=2, seed=0, workers=2)
