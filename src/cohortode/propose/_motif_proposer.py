"""A proposer without a language model: library compositions not yet tried, then mutations of the best structures."""

from __future__ import annotations

import math
import re
import weakref
from dataclasses import replace

import numpy as np

from .._errors import CandidateRejected, ModelSpecError
from ..spec import ODEModel
from ._candidate import Candidate
from ._feedback import Feedback, model_from_equations
from ._problem import Problem
from ._validate import validate_model
from .base import Proposer
from .motifs import MotifLibrary, default_library, mutate
from .motifs._library import problem_key

__all__ = ["MotifProposer"]

# valid compositions per library, shared by the proposers that use it
_POOLS: weakref.WeakKeyDictionary[MotifLibrary, dict[tuple, list[tuple[Candidate, str]]]] = (
    weakref.WeakKeyDictionary())

_EQUATIONS = re.compile(r"d\(\s*[A-Za-z][A-Za-z0-9_]*\s*\)\s*/\s*dt\s*=")


class MotifProposer(Proposer):
    """Proposes library compositions (simplest first), then mutations of the best structures in the feedback.

    Every candidate is validated (:func:`validate_model`) and deduplicated by structure against the feedback's
    ``tried`` and ``rejected`` texts and the best structures; only valid, new candidates are returned.

    Parameters
    ----------
    library
        The motif library (default :func:`default_library`).
    max_parameters, max_complexity
        Validation limits.
    n_best
        How many of the best feedback structures to mutate (best score first, except that a structure scored within
        :data:`PARSIMONY_MARGIN` of a structure with fewer parameters comes after the others).
    mutation_share
        Fraction of ``k`` reserved for mutations when the feedback has scored structures (0: mutations only fill
        what untried compositions leave).
    """

    def __init__(self, library: MotifLibrary | None = None, *, max_parameters: int = 12, max_complexity: int = 200,
                 n_best: int = 3, mutation_share: float = 0.0):
        if not 0.0 <= mutation_share <= 1.0:
            raise ValueError(f"mutation_share must be in [0, 1], got {mutation_share}")
        if n_best < 1:
            raise ValueError(f"n_best must be >= 1, got {n_best}")
        self.library = library if library is not None else default_library()
        self.max_parameters = max_parameters
        self.max_complexity = max_complexity
        self.n_best = n_best
        self.mutation_share = mutation_share
        self._texts: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._models: dict[tuple[str, tuple[str, ...]], ODEModel] = {}
        self._canonical_done: set[tuple[str, tuple[str, ...]]] = set()
        self._registered: set[tuple] = set()

    # ----------------------------------------------------------------------------------------------- helpers
    def _remember(self, model: ODEModel, covariates: tuple[str, ...], h: str | None = None) -> str:
        """Register the equation texts that name ``model``'s structure; returns its hash."""
        h = model.structure_hash if h is None else h
        eq = model.equations()
        for text in ("\n".join(eq), "; ".join(eq), h):
            self._texts[(text.strip(), covariates)] = h
        self._models.setdefault((h, covariates), model)
        return h

    def _valid_compositions(self, problem: Problem) -> list[tuple[Candidate, str]]:
        """The valid, distinct compositions of the problem with their structure hashes.

        Cached per library, problem structure and limits, so that proposers sharing a library share the work.
        """
        key = (problem_key(problem), self.max_parameters, self.max_complexity)
        pools = _POOLS.setdefault(self.library, {})
        if key not in pools:
            out: list[tuple[Candidate, str]] = []
            seen: set[str] = set()
            for cand in self.library.candidates(problem):
                if cand.model is None:
                    continue
                try:
                    validate_model(cand.model, problem, max_parameters=self.max_parameters,
                                   max_complexity=self.max_complexity)
                except CandidateRejected:
                    continue
                h = cand.model.structure_hash
                if h not in seen:
                    seen.add(h)
                    out.append((cand, h))
            pools[key] = out
        if key not in self._registered:
            self._registered.add(key)
            for cand, h in pools[key]:
                self._remember(cand.model, problem.covariates, h)  # type: ignore[arg-type]
        return pools[key]

    def _hash_of_text(self, text: str, covariates: tuple[str, ...]) -> str | None:
        key = (text.strip(), covariates)
        if key not in self._texts and _EQUATIONS.search(text):
            try:
                self._texts[key] = model_from_equations(text, covariates).structure_hash
            except (ModelSpecError, ValueError):
                self._texts[key] = None
        return self._texts.get(key)

    def _register_canonical_texts(self) -> None:
        """Map canonical texts of every structure met so far to their hashes (done lazily: canonical is costly)."""
        for (h, covariates), model in self._models.items():
            if (h, covariates) not in self._canonical_done:
                self._canonical_done.add((h, covariates))
                self._texts[(model.canonical().strip(), covariates)] = h

    def _seen(self, problem: Problem, feedback: Feedback | None) -> set[str]:
        """Structure hashes of everything the feedback names as tried, rejected or scored."""
        hashes: set[str] = set()
        if feedback is None:
            return hashes
        items = [*feedback.tried, *(t for t, _ in feedback.rejected)]
        items += ["\n".join(s.equations) for s in feedback.best]
        pending = []
        for text in items:
            h = self._hash_of_text(text, problem.covariates)
            if h is None:
                pending.append(text)
            else:
                hashes.add(h)
        if pending:  # canonical texts (or unknown ones): compare with the canonical texts of known structures
            self._register_canonical_texts()
            hashes |= {h for t in pending if (h := self._texts.get((t.strip(), problem.covariates))) is not None}
        return hashes

    def _mutants(self, problem: Problem, feedback: Feedback, want: int, rng: np.random.Generator,
                 hashes: set[str]) -> list[Candidate]:
        out: list[Candidate] = []
        parents = []
        for scored in feedback.ranked():
            try:
                model = model_from_equations(scored.equations, problem.covariates)
            except (ModelSpecError, ValueError):
                continue
            parents.append((scored, model, "", scored.structure_hash or model.structure_hash))
        parents = _parsimonious_order(parents)[: self.n_best]
        if not parents or want <= 0:
            return out
        for _ in range(4):  # later passes also mutate earlier mutants
            produced = []
            for rank, (scored, parent, history, origin) in enumerate(parents):
                if len(out) >= want:
                    return out
                # the best structure gets half of what is left, the next half of the rest, ...: when the caller
                # takes only the first few, they are the best structure's most plausible extensions
                left = want - len(out)
                share = left if rank == len(parents) - 1 else max(1, math.ceil(left / 2))
                for model in mutate(parent, problem, rng, n=share, exclude=hashes,
                                    max_parameters=self.max_parameters, max_complexity=self.max_complexity):
                    if len(out) >= want:
                        break
                    hashes.add(self._remember(model, problem.covariates))
                    steps = f"{history}; then {model.description}" if history else model.description
                    produced.append((scored, model, steps, origin))
                    out.append(Candidate(
                        model, "\n".join(model.equations()), "mutation", mechanism=(),
                        description=f"{steps} (mutation of the structure with {scored.score_name} "
                                    f"{scored.score:.4g})", parent=origin))
            if len(out) >= want or not produced:
                break
            parents = parents + produced
        return out

    def _best_composition(self, pool: list[tuple[Candidate, str]], feedback: Feedback | None,
                          problem: Problem) -> tuple[str, ...] | None:
        """The blocks of the best-scored structure of ``feedback`` that is a library composition (``None``: none)."""
        if feedback is None or not feedback.best:
            return None
        mechanisms = {h: c.mechanism for c, h in pool}
        for scored in feedback.ranked():
            h = scored.structure_hash or self._hash_of_text("\n".join(scored.equations), problem.covariates)
            if h in mechanisms:
                return mechanisms[h]
        return None

    # -------------------------------------------------------------------------------------------------- API
    def propose(self, problem: Problem, feedback: Feedback | None = None, k: int = 16, *,
                seed: int = 0) -> list[Candidate]:
        """Up to ``k`` valid, new candidates: untried compositions (once a composition is scored, those nearest the
        best-scored composition first, in blocks; then fewest parameters first; ties in a seeded random order) and
        mutations of the best structures of ``feedback``, alternating (a mutation first), so that a
        caller who takes only the first few (the discovery loop, when the language model fills the rest of a round)
        gets both.

        Parameters
        ----------
        problem
            What to explain.
        feedback
            Earlier rounds; ``None`` proposes compositions only.
        k
            Largest number of candidates.
        seed
            Seed of the tie-breaking order and of the mutations.
        """
        if k <= 0:
            return []
        rng = np.random.default_rng(seed)
        pool = self._valid_compositions(problem)
        hashes = self._seen(problem, feedback)
        anchor = self._best_composition(pool, feedback, problem)
        pool = [(c, h) for c, h in pool if h not in hashes]
        ties = rng.permutation(len(pool))
        order = sorted(range(len(pool)), key=lambda i: (_distance(pool[i][0].mechanism, anchor),
                                                        len(pool[i][0].model.parameters), int(ties[i])))
        pool = [pool[i] for i in order]
        has_best = feedback is not None and bool(feedback.best)
        reserved = int(round(self.mutation_share * k)) if has_best else 0
        chosen = [replace(c) for c, _ in pool[: k - reserved]]
        hashes |= {h for _, h in pool[: k - reserved]}
        mutants: list[Candidate] = []
        if has_best and len(chosen) < k:
            assert feedback is not None
            mutants = self._mutants(problem, feedback, k - len(chosen), rng, hashes)
        if len(chosen) + len(mutants) < k and reserved:
            extra = [c for c, h in pool[k - reserved:] if h not in hashes]
            chosen += [replace(c) for c in extra[: k - len(chosen) - len(mutants)]]
        return _alternate(mutants, chosen)


PARSIMONY_MARGIN = 2.0
"""A structure leads the mutations only when it beats every simpler scored structure by more than this (in score, the
approximate elpd): the floor of :func:`cohortode.compare.parsimony_exclusions` (``PARSIMONY_FLOOR``; written out
here, since proposing comes before comparing in the layers, and a test keeps the two equal), so the structures
mutated first are those the ensemble would keep. On the recovery suite's growth cohort with a saturable kill, a power law
(``r*size**alpha``) beat exponential growth by 1.89 in the first round; with a margin of 1 it took the mutations, the
truth (exponential growth with a saturable kill, a mutation of the exponential) was never screened, and the run
stopped after two rounds."""


def _parsimonious_order(parents: list[tuple]) -> list[tuple]:
    """``(scored, model, ...)`` tuples in score order, but those that a structure with fewer parameters scores within
    :data:`PARSIMONY_MARGIN` of after the rest: the structures mutated first are those the ensemble would keep."""
    size = [len(p[1].parameters) for p in parents]
    score = [p[0].score for p in parents]
    dominated = [any(size[j] < size[i] and score[j] >= score[i] - PARSIMONY_MARGIN for j in range(len(parents)))
                 for i in range(len(parents))]
    order = sorted(range(len(parents)), key=lambda i: (dominated[i], -score[i]))
    return [parents[i] for i in order]


def _distance(mechanism: tuple[str, ...], anchor: tuple[str, ...] | None) -> int:
    """Blocks in one composition and not in the other (0 without an anchor): compositions one block away from the best
    so far (SEIR next to SIR, two compartments next to one) come before the rest."""
    if anchor is None:
        return 0
    return len(set(mechanism) ^ set(anchor))


def _alternate(first: list[Candidate], second: list[Candidate]) -> list[Candidate]:
    """``first[0], second[0], first[1], second[1], ...``, then what is left of the longer list."""
    out: list[Candidate] = []
    for i in range(max(len(first), len(second))):
        out += first[i:i + 1] + second[i:i + 1]
    return out
