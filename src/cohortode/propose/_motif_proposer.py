"""A proposer without a language model: library compositions not yet tried, then mutations of the best structures."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np

from .._errors import CandidateRejected, ModelSpecError
from ..spec import ODEModel
from ._candidate import Candidate
from ._feedback import Feedback, model_from_equations
from ._problem import Problem
from ._validate import deduplicate, validate_model
from .base import Proposer
from .motifs import MotifLibrary, default_library, mutate

__all__ = ["MotifProposer"]

_EQUATIONS = re.compile(r"d\(\s*[A-Za-z][A-Za-z0-9_]*\s*\)\s*/\s*dt\s*=")


def _problem_key(problem: Problem) -> tuple:
    return (problem.name, problem.state_names, tuple(problem.observables.items()), tuple(problem.initial.items()),
            problem.covariates, problem.domain, problem.dose_targets, problem.bolus_targets,
            problem.infused_targets)


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
        How many of the best feedback structures to mutate.
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
        self._compositions: dict[tuple, list[Candidate]] = {}
        self._parsed: dict[tuple[str, tuple[str, ...]], str | None] = {}

    # ----------------------------------------------------------------------------------------------- helpers
    def _valid_compositions(self, problem: Problem) -> list[Candidate]:
        key = _problem_key(problem)
        if key not in self._compositions:
            out = []
            for cand in self.library.candidates(problem):
                if cand.model is None:
                    continue
                try:
                    validate_model(cand.model, problem, max_parameters=self.max_parameters,
                                   max_complexity=self.max_complexity)
                except CandidateRejected:
                    continue
                out.append(cand)
            self._compositions[key] = deduplicate(out)
        return [c for c in self._compositions[key] if c.status == "valid"]

    def _hash_of_text(self, text: str, covariates: tuple[str, ...]) -> str | None:
        key = (text, covariates)
        if key not in self._parsed:
            try:
                self._parsed[key] = model_from_equations(text, covariates).structure_hash
            except (ModelSpecError, ValueError):
                self._parsed[key] = None
        return self._parsed[key]

    def _seen(self, problem: Problem, feedback: Feedback | None) -> tuple[set[str], set[str]]:
        """(structure hashes, raw texts) already tried."""
        hashes: set[str] = set()
        texts: set[str] = set()
        if feedback is None:
            return hashes, texts
        items = [*feedback.tried, *(t for t, _ in feedback.rejected)]
        items += ["\n".join(s.equations) for s in feedback.best]
        for text in items:
            texts.add(text.strip())
            if _EQUATIONS.search(text):
                h = self._hash_of_text(text, problem.covariates)
                if h is not None:
                    hashes.add(h)
        return hashes, texts

    @staticmethod
    def _known(model: ODEModel, hashes: set[str], texts: set[str]) -> bool:
        if model.structure_hash in hashes:
            return True
        if not texts:
            return False
        eq = model.equations()
        return bool({model.structure_hash, model.canonical().strip(), "\n".join(eq), "; ".join(eq)} & texts)

    def _mutants(self, problem: Problem, feedback: Feedback, want: int, rng: np.random.Generator,
                 hashes: set[str]) -> list[Candidate]:
        out: list[Candidate] = []
        parents = []
        for scored in feedback.ranked()[: self.n_best]:
            try:
                parents.append((scored, model_from_equations(scored.equations, problem.covariates)))
            except (ModelSpecError, ValueError):
                continue
        if not parents or want <= 0:
            return out
        for _ in range(3):  # a few passes: mutants can collide with known structures
            for rank, (scored, parent) in enumerate(parents):
                if len(out) >= want:
                    return out
                share = max(1, math.ceil((want - len(out)) / (len(parents) - rank)))
                for model in mutate(parent, problem, rng, n=share, max_parameters=self.max_parameters,
                                    max_complexity=self.max_complexity):
                    if model.structure_hash in hashes or len(out) >= want:
                        continue
                    hashes.add(model.structure_hash)
                    out.append(Candidate(
                        model, "\n".join(model.equations()), "mutation", mechanism=(),
                        description=f"{model.description} (mutation of the structure with {scored.score_name} "
                                    f"{scored.score:.4g})"))
        return out

    # -------------------------------------------------------------------------------------------------- API
    def propose(self, problem: Problem, feedback: Feedback | None = None, k: int = 16, *,
                seed: int = 0) -> list[Candidate]:
        """Up to ``k`` valid, new candidates: untried compositions (fewest parameters first, ties in a seeded
        random order), then mutations of the best structures of ``feedback``.

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
        hashes, texts = self._seen(problem, feedback)
        pool = [c for c in self._valid_compositions(problem) if not self._known(c.model, hashes, texts)]
        ties = rng.permutation(len(pool))
        order = sorted(range(len(pool)), key=lambda i: (len(pool[i].model.parameters), pool[i].model.complexity,
                                                        int(ties[i])))
        pool = [pool[i] for i in order]
        has_best = feedback is not None and bool(feedback.best)
        reserved = int(round(self.mutation_share * k)) if has_best else 0
        chosen = [replace(c) for c in pool[: k - reserved]]
        for c in chosen:
            hashes.add(c.structure_hash)
        if has_best and len(chosen) < k:
            assert feedback is not None
            chosen += self._mutants(problem, feedback, k - len(chosen), rng, hashes)
        if len(chosen) < k and reserved:
            extra = [c for c in pool[k - reserved:] if c.structure_hash not in hashes]
            chosen += [replace(c) for c in extra[: k - len(chosen)]]
        return chosen
