"""The interface every structure proposer implements."""

from __future__ import annotations

import abc

from ._candidate import Candidate
from ._feedback import Feedback
from ._problem import Problem

__all__ = ["Proposer"]


class Proposer(abc.ABC):
    """Proposes candidate ODE structures for a :class:`Problem`, optionally guided by feedback on earlier rounds."""

    @abc.abstractmethod
    def propose(self, problem: Problem, feedback: Feedback | None = None, k: int = 16, *,
                seed: int = 0) -> list[Candidate]:
        """Propose up to ``k`` candidate structures.

        Parameters
        ----------
        problem
            What to explain.
        feedback
            Scores of structures tried so far, and what was tried or rejected; ``None`` in the first round.
        k
            Largest number of candidates to return.
        seed
            Seed of every random choice; the same inputs and seed give the same candidates.
        """
