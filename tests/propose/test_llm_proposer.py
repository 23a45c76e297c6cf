"""The LLM proposer's loop logic, with a scripted fake backend (no language model is loaded)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cohortode.propose import Candidate, Feedback, LLMProposer, ScoredStructure
from cohortode.propose._benchmark_problems import benchmark_problem
from cohortode.propose._llm_proposer import gumbel_top_k
from cohortode.propose.backends import LLMBackend

ORAL_EXPERT = ("first_order_absorption", "one_compartment", "linear_elimination")
ONE_COMP = "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke*central"
MM = "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - Vmax*central/(Km + central)"
ONE_COMP_RENAMED = "d(depot)/dt = -k1*depot\nd(central)/dt = k1*depot - k2*central"
NO_FLOW = "d(depot)/dt = -ka*depot\nd(central)/dt = -ke*central"  # parses, fails validation (dose never observed)
SECOND_ORDER = "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - k*central^2"  # not a library structure
HOSTILE = "d(depot)/dt = -ka*depot\nd(central)/dt = __import__('os').system('touch pwned')"


class FakeBackend(LLMBackend):
    """Replies from a script; scores block names it likes higher when the prompt carries the data."""

    def __init__(self, replies=(), repairs=(), *, grammar=True, can_score=True, liked=ORAL_EXPERT):
        self.name = "fake"
        self.supports_grammar = grammar
        self.replies = list(replies)
        self.repairs = list(repairs)
        self.can_score = can_score
        self.liked = set(liked)
        self.generate_calls: list[dict] = []
        self.score_calls: list[tuple[list[dict], list[str]]] = []

    def generate(self, messages, *, n=1, grammar=None, temperature=0.8, top_p=0.95, max_new_tokens=256, seed=0):
        self.generate_calls.append(dict(messages=messages, n=n, grammar=grammar, seed=seed,
                                        max_new_tokens=max_new_tokens, temperature=temperature))
        is_repair = any("was rejected" in m["content"] for m in messages if m["role"] == "user")
        script = self.repairs if is_repair else self.replies
        if not script:
            return [""] * n
        return [script[(seed + i) % len(script)] for i in range(n)]

    def score(self, messages, continuations):
        if not self.can_score:
            raise NotImplementedError("this fake server cannot score")
        self.score_calls.append((messages, list(continuations)))
        with_data = "Study:" in messages[-1]["content"]
        out = []
        for text in continuations:
            liked = sum(name in text for name in self.liked)
            out.append(-len(text) / 10 + (3.0 * liked if with_data else 0.0))
        return np.array(out)


@pytest.fixture(scope="module")
def oral():
    return benchmark_problem("theophylline").problem


def _valid(cands):
    return [c for c in cands if c.status == "valid"]


# ------------------------------------------------------------------------------------------ mechanism level
def test_mechanism_prior_is_a_distribution_over_compositions_favouring_liked_blocks(oral):
    proposer = LLMProposer(FakeBackend(), level="mechanism")
    choices, log_prior = proposer.mechanism_prior(oral)
    assert len(choices) == len(set(choices)) > 10
    assert log_prior.shape == (len(choices),)
    assert np.isclose(np.exp(log_prior).sum(), 1.0)
    assert choices[int(np.argmax(log_prior))] == ORAL_EXPERT


def test_mechanism_candidates_are_seeded_draws_with_log_priors(oral):
    proposer = LLMProposer(FakeBackend(), level="mechanism", prior_temperature=0.8)
    first = proposer.propose(oral, k=8, seed=3)
    again = proposer.propose(oral, k=8, seed=3)
    other = proposer.propose(oral, k=8, seed=4)
    assert [c.mechanism for c in first] == [c.mechanism for c in again]
    assert len(_valid(first)) == 8
    for c in _valid(first):
        assert c.source == "llm-mechanism"
        assert c.log_prior is not None and c.log_prior < 0
        assert c.model is not None and c.description
        assert c.raw_text.startswith("absorption: ")
    assert [c.log_prior for c in _valid(first)] == sorted((c.log_prior for c in _valid(first)), reverse=True)
    assert len(_valid(other)) == 8
    orders = {tuple(c.mechanism for c in proposer.propose(oral, k=8, seed=s)) for s in range(5)}
    assert len(orders) > 1


def test_greedy_mechanism_level_returns_the_most_probable_first(oral):
    proposer = LLMProposer(FakeBackend(), level="mechanism", temperature=0.0, prior_temperature=0.0)
    cands = proposer.propose(oral, k=3, seed=0)
    assert cands[0].mechanism == ORAL_EXPERT


def test_feedback_excludes_tried_mechanisms_and_structures(oral):
    proposer = LLMProposer(FakeBackend(), level="mechanism", temperature=0.0, prior_temperature=0.0)
    expert_model = proposer.library.build(oral, ORAL_EXPERT)
    for tried in (", ".join(ORAL_EXPERT), "\n".join(expert_model.equations()), expert_model.structure_hash,
                  expert_model.canonical(), "d(depot)/dt = -k*depot; d(central)/dt = k*depot - q*central"):
        cands = proposer.propose(oral, Feedback(tried=(tried,)), k=5, seed=0)
        assert ORAL_EXPERT not in [c.mechanism for c in cands], tried
    best = Feedback(best=(ScoredStructure.from_model(expert_model, -10.0, mechanism=ORAL_EXPERT),))
    assert ORAL_EXPERT not in [c.mechanism for c in proposer.propose(oral, best, k=5, seed=0)]


def test_composition_prior_and_description_texts_also_work(oral):
    for kwargs in (dict(prior_unit="composition"), dict(prior_text="description"), dict(prior_orders=2),
                   dict(calibration=0.0), dict(calibration=1.0)):
        proposer = LLMProposer(FakeBackend(), level="mechanism", **kwargs)
        choices, log_prior = proposer.mechanism_prior(oral)
        assert np.isclose(np.exp(log_prior).sum(), 1.0), kwargs


def test_scores_are_cached_between_calls(oral):
    backend = FakeBackend()
    proposer = LLMProposer(backend, level="mechanism")
    proposer.propose(oral, k=4, seed=0)
    n = len(backend.score_calls)
    proposer.propose(oral, k=4, seed=1)
    assert len(backend.score_calls) == n


def test_gumbel_top_k_samples_in_proportion_to_the_weights():
    log_w = np.log(np.array([0.6, 0.3, 0.1]))
    firsts = [gumbel_top_k(log_w, 1, 1.0, np.random.default_rng(s))[0] for s in range(3000)]
    freq = np.bincount(firsts, minlength=3) / len(firsts)
    assert np.allclose(freq, [0.6, 0.3, 0.1], atol=0.04)
    assert list(gumbel_top_k(log_w, 3, 0.0, np.random.default_rng(0))) == [0, 1, 2]
    assert sorted(gumbel_top_k(log_w, 5, 1.0, np.random.default_rng(0))) == [0, 1, 2]


# ----------------------------------------------------------------------------------------- expression level
@pytest.mark.timeout(60)
def test_expression_level_parses_validates_repairs_and_rejects(oral, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = FakeBackend(replies=[ONE_COMP, MM, ONE_COMP_RENAMED, NO_FLOW, HOSTILE, "I think it is linear."],
                          repairs=[ONE_COMP.replace("ke*central", "CL*central")])
    proposer = LLMProposer(backend, level="expression", samples_per_call=6, max_repairs=1)
    cands = proposer.propose(oral, k=16, seed=0)
    assert not Path("pwned").exists() and os.listdir(tmp_path) == []
    # one batched call with the expression grammar, then one repair call
    first = backend.generate_calls[0]
    assert first["n"] == 6 and "root ::=" in first["grammar"] and 'd(depot)/dt = ' in first["grammar"]
    assert len(backend.generate_calls) == 2
    repair_prompt = backend.generate_calls[1]["messages"]
    assert repair_prompt[-2]["role"] == "assistant" and "was rejected" in repair_prompt[-1]["content"]
    valid = _valid(cands)
    sources = [c.source for c in valid]
    assert sources.count("llm-expression") == 2  # ONE_COMP and MM; the renamed copy is a duplicate
    assert all(c.log_prior is not None for c in valid)
    assert [c.log_prior for c in valid] == sorted((c.log_prior for c in valid), reverse=True)
    rejected = [c for c in cands if c.status == "rejected"]
    assert len(rejected) == 2  # the first failure was repaired (into a duplicate), two are left
    assert all(c.reason for c in rejected)
    assert any("not allowed" in c.reason for c in rejected)
    assert cands[: len(valid)] == valid  # valid first, then rejected
    stats = proposer.last_stats
    assert stats["samples"] == 6 and stats["repairs"] == 1 and not stats["fallback"]


def test_successful_repair_is_marked(oral):
    backend = FakeBackend(replies=[NO_FLOW], repairs=[MM])
    cands = LLMProposer(backend, level="expression", samples_per_call=4).propose(oral, k=4, seed=0)
    valid = _valid(cands)
    assert [c.source for c in valid] == ["repair"]
    assert "first attempt rejected" in valid[0].description


def test_failed_repair_keeps_both_reasons(oral):
    backend = FakeBackend(replies=[NO_FLOW], repairs=[HOSTILE])
    proposer = LLMProposer(backend, level="expression", samples_per_call=2, fallback=False)
    cands = proposer.propose(oral, k=4, seed=0)
    assert len(cands) == 1 and cands[0].status == "rejected"
    assert "repair also rejected" in cands[0].reason and "repair attempt" in cands[0].raw_text


def test_no_repair_when_disabled(oral):
    backend = FakeBackend(replies=[NO_FLOW], repairs=[MM])
    cands = LLMProposer(backend, level="expression", repair=False, fallback=False).propose(oral, k=4, seed=0)
    assert len(backend.generate_calls) == 1
    assert [c.status for c in cands] == ["rejected"]


def test_expression_prompt_shows_examples_and_feedback(oral):
    backend = FakeBackend(replies=[ONE_COMP])
    feedback = Feedback(best=(ScoredStructure(("d(depot)/dt = -ka*depot", "d(central)/dt = ka*depot"), -42.5,
                                              diagnostics=("ke not identified",)),),
                        rejected=(("d(central)/dt = 7", "doses never reach an observable"),))
    LLMProposer(backend, level="expression").propose(oral, feedback, k=4, seed=0)
    content = backend.generate_calls[0]["messages"][-1]["content"]
    assert "Example 1:" in content and "-42.5" in content and "ke not identified" in content
    assert "doses never reach an observable" in content


def test_both_levels_interleave_and_respect_k(oral):
    backend = FakeBackend(replies=[SECOND_ORDER, ONE_COMP_RENAMED])
    proposer = LLMProposer(backend, level="both", temperature=0.0, prior_temperature=0.0)
    cands = proposer.propose(oral, k=5, seed=0)
    valid = _valid(cands)
    assert len(valid) == 5
    assert valid[0].source == "llm-mechanism" and valid[0].mechanism == ORAL_EXPERT
    assert valid[1].source == "llm-expression" and "central**2" in repr(valid[1].model)
    assert [c.source for c in valid[2:]] == ["llm-mechanism"] * 3
    hashes = [c.structure_hash for c in valid]
    assert len(set(hashes)) == len(hashes)  # the renamed one-compartment copy duplicates the expert mechanism


# ------------------------------------------------------------------------------------ fallback and backends
def test_fallback_to_motif_proposer_is_marked(oral, caplog):
    backend = FakeBackend(replies=["no idea"], repairs=["still no idea"])
    proposer = LLMProposer(backend, level="expression", samples_per_call=2)
    cands = proposer.propose(oral, k=3, seed=0)
    valid = _valid(cands)
    assert 1 <= len(valid) <= 3
    assert all(c.source == "motif" and c.description.startswith("fallback") for c in valid)
    assert proposer.last_stats["fallback"]
    assert any(c.status == "rejected" for c in cands)


def test_http_like_backend_without_grammar_or_scores(oral):
    backend = FakeBackend(replies=["Sure! Here is my model:\n```\n" + MM + "\n```",
                                   "absorption: first_order_absorption; distribution: one_compartment; "
                                   "elimination: linear_elimination"],
                          grammar=False, can_score=False)
    proposer = LLMProposer(backend, level="both", samples_per_call=2)
    cands = proposer.propose(oral, k=8, seed=0)
    assert all(call["grammar"] is None for call in backend.generate_calls)
    valid = _valid(cands)
    assert {c.source for c in valid} == {"llm-mechanism", "llm-expression"}
    assert all(c.log_prior is None for c in valid)
    assert [c.mechanism for c in valid if c.source == "llm-mechanism"] == [ORAL_EXPERT]


def test_backend_is_resolved_lazily(monkeypatch):
    calls = []
    import cohortode.propose.backends as backends

    monkeypatch.setattr(backends, "resolve_backend", lambda spec=None: calls.append(spec) or FakeBackend())
    proposer = LLMProposer("some-model")
    assert calls == []
    assert isinstance(proposer.backend, FakeBackend) and calls == ["some-model"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(level="words"), "level"),
    (dict(temperature=-1), "temperature"),
    (dict(prior_temperature=float("nan")), "prior_temperature"),
    (dict(samples_per_call=0), "samples_per_call"),
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(calibration=2.0), "calibration"),
    (dict(prior_unit="block"), "prior_unit"),
    (dict(prior_text="poem"), "prior_text"),
    (dict(prior_orders=0), "prior_orders"),
    (dict(mechanism_sampling="beam"), "mechanism_sampling"),
    (dict(top_p=0.0), "top_p"),
    (dict(n_examples=-1), "n_examples"),
])
def test_constructor_checks_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LLMProposer(FakeBackend(), **kwargs)


def test_propose_checks_arguments(oral):
    proposer = LLMProposer(FakeBackend(), level="mechanism")
    with pytest.raises(ValueError, match="k"):
        proposer.propose(oral, k=0)
    with pytest.raises(ValueError, match="seed"):
        proposer.propose(oral, seed=-1)
    with pytest.raises(TypeError, match="problem"):
        proposer.propose("theophylline")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="feedback"):
        proposer.propose(oral, feedback={"best": []})  # type: ignore[arg-type]


def test_candidates_are_candidates(oral):
    cands = LLMProposer(FakeBackend(replies=[MM]), level="both").propose(oral, k=4, seed=1)
    assert all(isinstance(c, Candidate) for c in cands)
