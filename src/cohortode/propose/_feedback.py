"""What a proposer learns from earlier rounds: the best scored structures, everything tried, and what was rejected."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .._errors import ModelSpecError
from ..spec import ODEModel

__all__ = ["ScoredStructure", "Feedback", "model_from_equations"]


@dataclass(frozen=True)
class ScoredStructure:
    """A fitted structure and how well it did.

    Attributes
    ----------
    equations
        ``model.equations()`` of the structure.
    score
        Higher is better (e.g. ``elpd_loo`` or a log-likelihood).
    score_name
        What ``score`` is.
    diagnostics
        Plain-language findings, e.g. ``"parameter Km at its upper bound"``.
    mechanism
        Library block names, when the structure was composed from blocks.
    structure_hash
        The structure's hash in the caller's run (``""`` when unknown); a mutation of this structure records it as
        its ``parent``.
    """

    equations: tuple[str, ...]
    score: float
    score_name: str = "elpd_loo"
    diagnostics: tuple[str, ...] = ()
    mechanism: tuple[str, ...] = ()
    structure_hash: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "equations", tuple(self.equations))
        object.__setattr__(self, "diagnostics", tuple(self.diagnostics))
        object.__setattr__(self, "mechanism", tuple(self.mechanism))

    @classmethod
    def from_model(cls, model: ODEModel, score: float, **kwargs) -> ScoredStructure:
        """A scored structure from a model (its :meth:`~cohortode.spec.ODEModel.equations`)."""
        return cls(tuple(model.equations()), float(score), **kwargs)

    def model(self, covariates: Sequence[str] = ()) -> ODEModel:
        """The structure as an :class:`~cohortode.spec.ODEModel` (see :func:`model_from_equations`)."""
        return model_from_equations(self.equations, covariates=covariates)


@dataclass(frozen=True)
class Feedback:
    """Feedback on earlier rounds.

    Attributes
    ----------
    best
        The best structures so far with their scores (any order).
    tried
        Canonical texts, structure hashes or equation texts of every structure already tried.
    rejected
        ``(text, reason)`` pairs of proposals that failed validation.
    """

    best: tuple[ScoredStructure, ...] = ()
    tried: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "best", tuple(self.best))
        object.__setattr__(self, "tried", tuple(self.tried))
        object.__setattr__(self, "rejected", tuple((str(a), str(b)) for a, b in self.rejected))

    def ranked(self) -> tuple[ScoredStructure, ...]:
        """``best`` sorted by score, best first."""
        return tuple(sorted(self.best, key=lambda s: -s.score))


_DERIV = re.compile(r"^d\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*/\s*dt$")
_INIT = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*\(\s*0\s*\)$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# sympy's printer spells some whitelisted functions with capitals
_SPELLING = (("Abs(", "abs("), ("Min(", "min("), ("Max(", "max("))


def _fix(text: str) -> str:
    for a, b in _SPELLING:
        text = text.replace(a, b)
    return text


def model_from_equations(equations: Iterable[str], covariates: Sequence[str] = ()) -> ODEModel:
    """Rebuild a model from the lines of :meth:`ODEModel.equations` (the inverse of it, up to parameter priors).

    Parameters
    ----------
    equations
        Lines ``d(state)/dt = expr``, ``observable = expr`` and ``state(0) = expr``; a single string with one line per
        equation (newline- or ``;``-separated) is split.
    covariates
        Covariate names the expressions may use (every other non-state name becomes a parameter).

    Raises
    ------
    ModelSpecError
        For a line that is none of the three forms, or an invalid model.
    """
    if isinstance(equations, str):
        equations = re.split(r"[\n;]", equations)
    rhs: dict[str, str] = {}
    observables: dict[str, str] = {}
    initial: dict[str, str] = {}
    for number, line in enumerate(equations, start=1):
        line = line.strip()
        if not line:
            continue
        if "=" not in line:
            raise ModelSpecError(f"equation {number} ({line!r}) has no '='; expected 'd(state)/dt = ...', "
                                 "'observable = ...' or 'state(0) = ...'")
        left, right = (part.strip() for part in line.split("=", 1))
        right = _fix(right)
        if (m := _DERIV.match(left)) is not None:
            rhs[m.group(1)] = right
        elif (m := _INIT.match(left)) is not None:
            initial[m.group(1)] = right
        elif _NAME.match(left):
            observables[left] = right
        else:
            raise ModelSpecError(f"equation {number}: left-hand side {left!r} is not 'd(state)/dt', an observable "
                                 "name or 'state(0)'")
    if not rhs:
        raise ModelSpecError("no 'd(state)/dt = ...' line among the equations")
    states = list(rhs)
    names: set[str] = set()
    from ..spec import parse_expression

    for text in (*rhs.values(), *observables.values(), *initial.values()):
        names |= {s.name for s in parse_expression(text).free_symbols}
    used_covariates = [c for c in covariates if c in names and c not in states]
    return ODEModel(states, rhs, observables, initial=initial, covariates=used_covariates)
