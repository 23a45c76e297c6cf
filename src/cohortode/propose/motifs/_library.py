"""The motif library: named mechanism blocks of several domains that compose into candidate structures."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ..._errors import ModelSpecError
from ...spec import ODEModel
from .._candidate import Candidate
from .._problem import Problem
from ._block import Block, Family
from ._epidemic import EpidemicFamily
from ._growth import GrowthFamily
from ._pd import PDFamily
from ._pk import PKFamily
from ._progression import ProgressionFamily

__all__ = ["MotifLibrary", "default_library", "problem_key"]


def problem_key(problem: Problem) -> tuple:
    """What a build depends on: states, observables, initial values, covariates, domain and dosing."""
    return (tuple((s.name, s.meaning) for s in problem.states), tuple(problem.observables.items()),
            tuple(problem.initial.items()), problem.covariates, problem.domain, problem.dose_targets,
            problem.bolus_targets, problem.infused_targets)


class MotifLibrary:
    """Mechanism blocks grouped in families (PK, PD, epidemic, growth, progression).

    For a problem, each family whose state roles fit (see the family modules) offers one list of blocks per
    category; a composition takes one block per category of one family, in category order. When the problem names no
    domain, several families can fit (a single-state problem fits growth and progression): :meth:`categories` then
    merges their categories and :meth:`compositions` lists each family's combinations in turn.

    Parameters
    ----------
    families
        The families; default all five.
    """

    def __init__(self, families: Sequence[Family] | None = None):
        self.families: tuple[Family, ...] = tuple(families) if families is not None else (
            PKFamily(), PDFamily(), EpidemicFamily(), GrowthFamily(), ProgressionFamily())
        self._blocks: dict[str, Block] = {}
        for family in self.families:
            for b in family.blocks():
                if b.name in self._blocks and self._blocks[b.name] != b:
                    raise ValueError(f"block name {b.name!r} is defined twice with different meanings")
                self._blocks[b.name] = b
        self._built: dict[tuple, ODEModel] = {}

    # ------------------------------------------------------------------------------------------------ lookups
    def mechanisms(self) -> list[str]:
        """Names of every mechanism block of the library."""
        return list(self._blocks)

    def block(self, name: str) -> Block:
        """The block called ``name``."""
        try:
            return self._blocks[name]
        except KeyError:
            raise KeyError(f"no mechanism block {name!r}; known blocks: {', '.join(self._blocks)}") from None

    def families_for(self, problem: Problem) -> list[Family]:
        """The families that fit ``problem``."""
        return [f for f in self.families if f.categories(problem)]

    def categories(self, problem: Problem) -> dict[str, list[Block]]:
        """Block choices that fit the problem, per category (merged over fitting families, in family order)."""
        out: dict[str, list[Block]] = {}
        for family in self.families:
            for cat, blocks in family.categories(problem).items():
                merged = out.setdefault(cat, [])
                merged.extend(b for b in blocks if b not in merged)
        return out

    def family_categories(self, problem: Problem) -> list[tuple[Family, dict[str, list[Block]]]]:
        """``(family, categories)`` for every fitting family."""
        return [(f, c) for f in self.families if (c := f.categories(problem))]

    # ------------------------------------------------------------------------------------------- compositions
    def compositions(self, problem: Problem) -> list[tuple[str, ...]]:
        """Every valid combination: one block name per category of a fitting family, in category order."""
        out: list[tuple[str, ...]] = []
        for family, cats in self.family_categories(problem):
            lists = [[b.name for b in cats[c]] for c in family.category_order]
            for combo in itertools.product(*lists):
                if family.compatible(problem, dict(zip(family.category_order, combo))) and combo not in out:
                    out.append(combo)
        return out

    def _resolve(self, problem: Problem, choice: Sequence[str]) -> tuple[Family, dict[str, str]]:
        choice = tuple(choice)
        reasons = []
        for family, cats in self.family_categories(problem):
            order = family.category_order
            if len(choice) != len(order):
                reasons.append(f"{family.name} takes {len(order)} blocks ({', '.join(order)})")
                continue
            wrong = [(c, n) for c, n in zip(order, choice) if n not in {b.name for b in cats[c]}]
            if wrong:
                c, n = wrong[0]
                reasons.append(f"{family.name}: {n!r} is not a fitting {c} block (choose from "
                               f"{', '.join(b.name for b in cats[c])})")
                continue
            named = dict(zip(order, choice))
            if not family.compatible(problem, named):
                reasons.append(f"{family.name}: the combination {choice} is not allowed")
                continue
            return family, named
        if not reasons:
            reasons.append("no family of the library fits its states, observables and dosing")
        raise ModelSpecError(f"cannot build {choice} for problem {problem.name!r}: " + "; ".join(reasons))

    def build(self, problem: Problem, choice: Sequence[str]) -> ODEModel:
        """Expand a composition into an :class:`~cohortode.spec.ODEModel` over the problem's states and observables.

        Models are cached per (problem structure, choice); treat the returned model as read-only.

        Raises
        ------
        ModelSpecError
            When the choice is not a composition that fits the problem, or the model is invalid.
        """
        key = (problem_key(problem), tuple(choice))
        if key in self._built:
            return self._built[key]
        family, named = self._resolve(problem, choice)
        try:
            model = family.build(problem, named)
        except ValueError as exc:
            if isinstance(exc, ModelSpecError):
                raise
            raise ModelSpecError(f"cannot build {tuple(choice)} for problem {problem.name!r}: {exc}") from None
        if len(self._built) < 4096:
            self._built[key] = model
        return model

    def describe(self, choice: Sequence[str]) -> str:
        """Plain-English description of a composition: the block descriptions joined by ``"; "``."""
        return "; ".join(self.block(n).description for n in choice)

    def candidates(self, problem: Problem) -> list[Candidate]:
        """:meth:`build` of every composition, as candidates with ``source="motif"`` (unbuildable ones rejected)."""
        out = []
        for choice in self.compositions(problem):
            text = ", ".join(choice)
            try:
                model = self.build(problem, choice)
            except ModelSpecError as exc:
                out.append(Candidate(None, text, "motif", mechanism=choice, description=self.describe(choice),
                                     status="rejected", reason=str(exc)))
                continue
            out.append(Candidate(model, text, "motif", mechanism=choice, description=self.describe(choice)))
        return out

    def menu(self, problem: Problem) -> str:
        """The fitting blocks per category, one ``name: description`` line each (for prompts)."""
        lines = []
        for family, cats in self.family_categories(problem):
            for cat in family.category_order:
                lines.append(f"{cat}:")
                lines += [f"  {b.name}: {b.description}" for b in cats[cat]]
        return "\n".join(lines)


_DEFAULT: MotifLibrary | None = None


def default_library() -> MotifLibrary:
    """The library with every family (shared instance; it holds no state that changes)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = MotifLibrary()
    return _DEFAULT
