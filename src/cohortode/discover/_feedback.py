"""Feedback from screening results to the proposers: the only module that knows both screening results and
:class:`~cohortode.propose.Feedback`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..propose import Feedback, ScoredStructure
from ._screen import ScreenResult

__all__ = ["build_feedback", "N_BEST"]

N_BEST = 5
"""Best structures passed back to the proposers."""


def build_feedback(records: Sequence[Mapping[str, Any]], screens: Mapping[str, ScreenResult],
                   models: Mapping[str, Any]) -> Feedback:
    """Feedback from every candidate record so far.

    Parameters
    ----------
    records
        Candidate records (``structure_hash``, ``equations``, ``status``, ``reason``, ``mechanism``).
    screens
        Screening results by structure hash.
    models
        Models by structure hash.
    """
    scored = sorted((s for s in screens.values() if s.scored), key=lambda s: (-s.elpd_loo, s.structure_hash))
    best = []
    for s in scored[:N_BEST]:
        model = models.get(s.structure_hash)
        if model is None:
            continue
        mechanism = next((tuple(r.get("mechanism") or ()) for r in records
                          if r.get("structure_hash") == s.structure_hash), ())
        best.append(ScoredStructure.from_model(model, s.elpd_loo, score_name="approximate elpd_loo",
                                               diagnostics=s.diagnostics(), mechanism=mechanism,
                                               structure_hash=s.structure_hash))
    tried = tuple(dict.fromkeys(r["structure_hash"] for r in records if r.get("structure_hash")))
    rejected = []
    for r in records:
        if r.get("status") == "rejected":
            rejected.append((r.get("equations") or r.get("raw_text") or "", r.get("reason", "")))
    for s in screens.values():
        if not s.scored and s.structure_hash in models:
            rejected.append(("\n".join(models[s.structure_hash].equations()), s.reason))
    return Feedback(best=tuple(best), tried=tried, rejected=tuple(rejected[-20:]))
