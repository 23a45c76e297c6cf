"""Test-wide settings: float64 JAX, offline Hugging Face, an empty cohortode configuration file."""

import os

import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# an empty configuration file: the tests never see the developer's own ~/.config/cohortode/config.toml
_CONFIG = os.path.join(tempfile.mkdtemp(prefix="cohortode_test_config_"), "config.toml")
open(_CONFIG, "w").close()
os.environ["COHORTODE_CONFIG"] = _CONFIG

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)


# ------------------------------------------------------------------------------ one small real discovery, shared
TINY_ONECOMP = "d(depot)/dt = -ka*depot; d(central)/dt = ka*depot - ke*central; conc = central/V"
TINY_EQUAL_RATES = "d(depot)/dt = -k*depot; d(central)/dt = k*depot - k*central; conc = central/V"


@pytest.fixture(scope="session")
def tiny_discovery(tmp_path_factory):
    """A real discovery on the theophylline cohort, run once per test session and shared: a scripted proposer
    offers two linear structures (exact solutions, so no ODE solver), both are screened and fitted by NUTS with a
    tiny budget (2 chains of 30 + 30 draws) in this process, and weighed into an ensemble. Returns
    ``(Discovery, run_dir)``."""
    from cohortode.datasets import load_cohort
    from cohortode.discover import Budget, FitSettings, SerialExecutor, discover
    from cohortode.propose import Candidate, Proposer
    from cohortode.propose._feedback import model_from_equations

    class TwoStructures(Proposer):
        def propose(self, problem, feedback=None, k=16, *, seed=0):
            self.last_stats = {"samples": 2}
            return [Candidate(model_from_equations(t, problem.covariates), t, "llm-expression")
                    for t in (TINY_ONECOMP, TINY_EQUAL_RATES)][:k]

    run_dir = tmp_path_factory.mktemp("tiny_discovery") / "run"
    settings = FitSettings(screen_starts=1, screen_draws=50, num_warmup=30, num_samples=30, num_chains=2)
    # both structures are refitted (no Occam's window), so the ensemble and the report have two members
    budget = Budget(rounds=1, candidates_per_round=2, top_k=2, max_final=2, elpd_margin=0.0, occam=False)
    disc = discover(load_cohort("theophylline"), domain="pk", llm=TwoStructures(), motifs=False, budget=budget,
                    fit_settings=settings, seed=0, run_dir=run_dir, executor=SerialExecutor(), progress=False)
    return disc, run_dir
