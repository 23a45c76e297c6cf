"""Cheap stand-ins for screening and NUTS fits, and a scripted language-model proposer, for tests of the loop logic.

Scores are a deterministic function of the structure (fewer parameters and a hash-derived offset), so runs are
reproducible and cost no JAX compilation.
"""

from __future__ import annotations

import numpy as np

from cohortode.discover import ScreenResult
from cohortode.discover._finalize import FinalResult
from cohortode.propose import Candidate, Proposer
from cohortode.propose._feedback import model_from_equations

CALLS = {"screen": 0, "nuts": 0}
INITS: dict = {}
"""Structure hash -> the ``init`` starts its last fake screen was given."""


def fake_screen(model, data, *, settings, seed, init=None):
    CALLS["screen"] += 1
    h = model.structure_hash
    n = len(model.parameters)
    if n > 5:
        return ScreenResult(h, "rejected", reason="fake: too slow to solve")
    offset = (int(h[:6], 16) % 1000) / 100.0
    INITS[h] = init
    return ScreenResult(h, "scored", elpd_loo=-10.0 * n - offset, elpd_se=1.0, p_loo=float(n), bic=20.0 * n,
                        n_parameters=n, misfit=[("conc", 1.0, "too low", -3.0)],
                        map_values={p: 1.0 + 0.1 * i for i, p in enumerate(model.parameter_names)},
                        at_bound=[(model.parameter_names[-1], "lower", 1e-6)] if n == 4 else [])


def fake_nuts(model, data, *, settings, seed, init=None, split_chains=False):
    import arviz as az

    CALLS["nuts"] += 1
    h = model.structure_hash
    rng = np.random.default_rng(int(h[:8], 16))
    n = len(model.parameters)
    y = rng.normal(-1.0 - 0.1 * n, 0.05, size=(1, 60, 20))
    # stands in for a Fit: an InferenceData (saved as posterior.nc, compared by fake_compare)
    return FinalResult(h, "fitted", fit=az.from_dict(posterior={"a": rng.normal(size=(1, 60))},
                                                     log_likelihood={"y": y}))


COMPARE_CALLS: list[dict] = []
"""The parsimony settings of each :func:`fake_compare` call, newest last."""


def fake_compare(fits, log_priors=None, *, seed=0, parsimony=False, min_difference=None):
    """``arviz.compare`` (stacking) on the fake fits' InferenceData; no ensemble. Records its parsimony settings
    in :data:`COMPARE_CALLS`."""
    import warnings

    import arviz as az
    import pandas as pd

    COMPARE_CALLS.append({"parsimony": parsimony, "min_difference": min_difference})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(fits) == 1:
            return pd.DataFrame([{"rank": 0, "name": next(iter(fits)), "weight_stacking": 1.0}]), None
        table = az.compare(dict(fits), ic="loo", method="stacking")
    table = table.rename(columns={"weight": "weight_stacking"}).rename_axis("name").reset_index()
    table = table.sort_values(["weight_stacking", "name"], ascending=[False, True]).reset_index(drop=True)
    return table[["rank", "name", "elpd_loo", "weight_stacking"]], None


class ScriptedLLM(Proposer):
    """Proposes fixed equation sets, one set per round, then nothing. Like the real proposer, what it proposes
    depends only on its inputs (the round is read from the seed), not on earlier calls."""

    def __init__(self, rounds, run_seed=3):
        self.rounds = list(rounds)
        self.run_seed = run_seed
        self.last_stats = {}

    def propose(self, problem, feedback=None, k=16, *, seed=0):
        from cohortode.discover._loop import round_seed

        round_ = next((r for r in range(50) if round_seed(self.run_seed, r, 0) == seed), None)
        texts = self.rounds[round_] if round_ is not None and round_ < len(self.rounds) else []
        out = []
        for text in texts:
            try:
                model = model_from_equations(text, problem.covariates)
            except ValueError as exc:
                out.append(Candidate(None, text, "llm-expression", status="rejected", reason=str(exc)))
                continue
            out.append(Candidate(model, text, "llm-expression"))
        self.last_stats = {"samples": len(texts)}
        return out[:k]


ONECOMP = "d(depot)/dt = -ka*depot; d(central)/dt = ka*depot - k*central; conc = central/V"
ZERO_ORDER = "d(depot)/dt = -ka*depot; d(central)/dt = ka*depot - k*central - c; conc = central/V"
GARBAGE = "d(depot)/dt = ka*"


def patch(monkeypatch):
    """Route the loop's screening and NUTS fits to the fakes."""
    from cohortode.discover import _finalize, _screen

    monkeypatch.setattr(_screen, "screen_structure", fake_screen)
    monkeypatch.setattr(_finalize, "nuts_structure", fake_nuts)
    monkeypatch.setattr(_finalize, "compare_final", fake_compare)
