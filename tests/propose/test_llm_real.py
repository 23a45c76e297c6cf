"""The LLM proposer with the real embedded model (SmolLM2-135M-Instruct); marked ``llm``.

One backend is loaded for the whole session (the ``embedded_backend`` fixture of ``conftest.py``, shared with the
backend tests). Kept short: one batch of 16
equation samples, a three-seed check of the mechanism prior on two problems, and equivalence checks of the fast
scoring and generation paths against the backend's own methods.

torch runs with one thread in this module: on a small shared machine two spinning OpenMP threads competing with
other processes made these tests several times slower (170 s against 65 s measured on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from cohortode.propose import LLMProposer
from cohortode.propose._benchmark_problems import benchmark_problem
from cohortode.propose._llm_proposer import _LocalModel, gumbel_top_k

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def backend(embedded_backend):
    """The session's embedded model (``conftest.embedded_backend``: loaded once, networking disabled)."""
    pytest.importorskip("xgrammar")
    return embedded_backend


@pytest.mark.timeout(300)
def test_theophylline_equations_parse_and_rejections_have_reasons(backend):
    """Free equations from the 135M model: the grammar makes them parse, and validation sorts them.

    Since the plausibility checks (mass balance of flows in PK compartment models), most of this model's free
    equations for theophylline are rejected: it writes a flow into a peripheral compartment without the matching
    outflow from the central one (1 of 16 samples plausible at seed 0; 15 of 16 valid before the check). The
    mechanism level, which composes library blocks, is not affected; bigger models write balanced flows.
    """
    problem = benchmark_problem("theophylline").problem
    proposer = LLMProposer(backend, level="expression", samples_per_call=16, repair=False, score_prior=False,
                           fallback=False)
    cands = proposer.propose(problem, k=16, seed=0)
    stats = proposer.last_stats
    assert stats["samples"] == 16
    assert stats["parsed"] >= 0.75 * 16, (stats, [(c.raw_text, c.reason) for c in cands])
    assert all(c.reason for c in cands if c.status == "rejected")
    valid = [c for c in cands if c.status == "valid"]
    assert valid and all(c.source == "llm-expression" and c.model is not None for c in valid)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["theophylline", "twocomp_iv"])
def test_mechanism_prior_finds_the_expert(backend, name):
    bp = benchmark_problem(name)
    proposer = LLMProposer(backend, level="mechanism")
    choices, log_prior = proposer.mechanism_prior(bp.problem)
    expert = choices.index(bp.expert)
    rank = 1 + int(np.sum(log_prior > log_prior[expert]))
    assert rank <= 5, (rank, len(choices))
    for seed in range(3):
        draws = list(gumbel_top_k(log_prior, 32, proposer.prior_temperature, np.random.default_rng(seed)))
        assert expert in draws
    cands = proposer.propose(bp.problem, k=32, seed=0)  # the prior is cached: no new scoring
    assert bp.expert in [c.mechanism for c in cands if c.status == "valid"]


@pytest.mark.timeout(120)
def test_fast_scoring_matches_backend_score(backend):
    messages = [{"role": "user", "content": "Name a model of drug elimination."}]
    texts = ["linear elimination", "Michaelis-Menten elimination", "d(x)/dt = -k*x"]
    fast = _LocalModel(backend).score(messages, texts)
    slow = backend.score(messages, texts)
    assert np.allclose(fast, slow, atol=1e-3), (fast, slow)


@pytest.mark.timeout(120)
def test_group_scoring_shares_the_prompts_beginning_and_matches_one_by_one(backend):
    head = "A cohort of 12 adults received an oral dose; the concentration rises to a peak near 1 h, then falls. "
    requests = [([{"role": "user", "content": head + f"Which {c} mechanism fits best?"}], texts)
                for c, texts in (("absorption", ["first-order absorption", "transit absorption"]),
                                 ("elimination", ["linear elimination", "Michaelis-Menten elimination",
                                                  "parallel elimination"]))]
    local = _LocalModel(backend)
    grouped = local.score_group(requests)
    one_by_one = [backend.score(messages, texts) for messages, texts in requests]
    for g, o in zip(grouped, one_by_one):
        assert np.allclose(g, o, atol=1e-3), (g, o)
    # the same requests give the same numbers, whatever was encoded before (a fresh local model, another order)
    fresh = _LocalModel(backend)
    fresh.score(*requests[1])
    again = fresh.score_group(requests)
    assert all(np.array_equal(a, b) for a, b in zip(grouped, again))


@pytest.mark.timeout(120)
def test_fast_generation_follows_the_grammar_is_seeded_and_greedy_matches_backend(backend):
    local = _LocalModel(backend)
    messages = [{"role": "user", "content": "Write an ODE for drug elimination."}]
    grammar = 'root ::= "d(x)/dt = -" [a-z]{1,3} "*x" (" - " [a-z]{1,4} "*x")?'
    greedy = dict(n=3, grammar=grammar, temperature=0.0, top_p=1.0, max_new_tokens=16, seed=5)
    assert local.generate(messages, **greedy) == backend.generate(messages, **greedy)
    free = dict(n=2, grammar=None, temperature=0.0, top_p=1.0, max_new_tokens=10, seed=5)
    assert local.generate(messages, **free) == backend.generate(messages, **free)
    sampled = dict(n=6, grammar=grammar, temperature=0.9, top_p=0.9, max_new_tokens=16, seed=5)
    first = local.generate(messages, **sampled)
    assert first == local.generate(messages, **sampled)
    assert len(set(first)) > 1
    assert all(t.startswith("d(x)/dt = -") and "*x" in t for t in first)

