"""Turn a language model's text into an ODE model or a mechanism choice -- or a reason for rejecting it.

Nothing in the text is executed: right-hand sides go through the whitelist parser
:func:`cohortode.spec.parse_expression`, mechanism lines are matched against the library's block names. The work is
bounded: texts over :data:`MAX_OUTPUT_CHARS` are rejected before any other processing, at most :data:`MAX_LINES`
lines are looked at, each line is cut to :data:`MAX_LINE_CHARS`, and the regular expressions used have no nested
quantifiers (no catastrophic backtracking).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy

from .._errors import ExpressionError, ModelSpecError
from ..spec import ALLOWED_FUNCTIONS, TIME, ODEModel, parse_expression

if TYPE_CHECKING:
    from ._problem import Problem

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "MAX_STATES",
    "ParsedEquations",
    "ParsedMechanism",
    "clean_lines",
    "parse_equations",
    "parse_mechanism",
]

MAX_OUTPUT_CHARS = 20_000
"""Longest model output looked at, in characters; longer outputs are rejected at once."""
MAX_LINES = 64
"""Most lines looked at (after cleaning)."""
MAX_LINE_CHARS = 2_000
"""Longest line accepted as an equation."""
MAX_STATES = 8
"""Most states a parsed model may have (problem states plus added ones)."""
MAX_NAME_CHARS = 24
"""Longest state or parameter name accepted."""

_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022]\s+|\d{1,3}[.)]\s+|>\s*)")
_EQUATION = re.compile(r"^d\s*\(\s*([^()\s=/]{1,64})\s*\)\s*/\s*dt\s*=(.*)$")
_EQUATION_BARE = re.compile(r"^d([A-Za-z_][A-Za-z0-9_]{0,63})\s*/\s*dt\s*=(.*)$")
_EQUATION_PRIME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,63})'\s*=(.*)$")
_LOOKS_LIKE_EQUATION = re.compile(r"/\s*dt")
_MATH_DELIMS = re.compile(r"^\$+|\$+$|^\\\[|\\\]$|^\\\(|\\\)$")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = frozenset(ALLOWED_FUNCTIONS) | {TIME, "lambda", "import", "None", "True", "False"}


@dataclass(frozen=True)
class ParsedEquations:
    """The result of :func:`parse_equations`.

    Attributes
    ----------
    model
        The parsed model, or ``None`` when rejected.
    reason
        Why the text was rejected (``""`` when accepted).
    text
        The equation lines that were used, one per line (``""`` when none were found).
    """

    model: ODEModel | None
    reason: str = ""
    text: str = ""

    @property
    def ok(self) -> bool:
        """Whether a model was parsed."""
        return self.model is not None


@dataclass(frozen=True)
class ParsedMechanism:
    """The result of :func:`parse_mechanism`: one block name per category, or a reason."""

    choice: tuple[str, ...] | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether a complete choice was parsed."""
        return self.choice is not None


def _too_long(text: object) -> str:
    if not isinstance(text, str):
        return f"expected text, got {type(text).__name__}"
    if len(text) > MAX_OUTPUT_CHARS:
        return f"output is too long ({len(text)} characters; at most {MAX_OUTPUT_CHARS})"
    return ""


def clean_lines(text: str) -> list[str]:
    """Split model output into lines without code fences, bullets, list numbers, math delimiters or end marks.

    At most :data:`MAX_LINES` non-empty lines are returned.
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _FENCE.match(line):
            continue
        line = _BULLET.sub("", line, count=1).strip()
        line = _MATH_DELIMS.sub("", line).strip()
        line = line.rstrip(";,").strip()
        if line.startswith("`") and line.endswith("`") and len(line) > 1:
            line = line.strip("`").strip()
        if line:
            out.append(line)
        if len(out) >= MAX_LINES:
            break
    return out


def _non_ascii(text: str) -> str:
    for i, ch in enumerate(text):
        if ord(ch) > 127:
            return f"non-ASCII character {ch!r} (U+{ord(ch):04X}) at position {i}; names must use plain ASCII letters"
    return ""


def _match_equation(line: str) -> tuple[str, str] | None:
    for pattern in (_EQUATION, _EQUATION_BARE, _EQUATION_PRIME):
        m = pattern.match(line)
        if m:
            return m.group(1), m.group(2).strip()
    return None


def _check_state_name(name: str) -> str:
    bad = _non_ascii(name)
    if bad:
        return f"state name {name!r}: {bad}"
    if not _IDENT.match(name) or len(name) > MAX_NAME_CHARS:
        return f"state name {name!r} is not a plain identifier of at most {MAX_NAME_CHARS} characters"
    if name in _RESERVED:
        return f"state name {name!r} is reserved"
    return ""


def parse_equations(
    text: str,
    problem: Problem,
    *,
    allow_extra_states: bool | Sequence[str] = True,
    max_states: int = MAX_STATES,
) -> ParsedEquations:
    """Parse ``d(state)/dt = expression`` lines into an :class:`~cohortode.spec.ODEModel` for ``problem``.

    Accepted line forms: ``d(x)/dt = ...``, ``dx/dt = ...`` and ``x' = ...``, optionally inside a code fence, as a
    bullet or numbered item, or between ``$`` signs. Other lines (prose, observable definitions) are ignored. Every
    problem state needs exactly one equation; further states may be added (``peripheral``, ``transit``...) when
    ``allow_extra_states`` permits. The observables, initial values and covariates come from the problem.

    Parameters
    ----------
    text
        The model output.
    problem
        The problem: its states, observables, initial values and covariates.
    allow_extra_states
        ``True`` (any new name), ``False`` (none), or the names that may be added.
    max_states
        Most states in total.

    Returns
    -------
    ParsedEquations
        With ``model`` set, or ``model=None`` and the ``reason``. Never raises for bad text.
    """
    reason = _too_long(text)
    if reason:
        return ParsedEquations(None, reason)
    problem_states = tuple(problem.state_names)
    rhs_text: dict[str, str] = {}
    used_lines: list[str] = []
    unreadable: list[str] = []
    for line in clean_lines(text):
        found = _match_equation(line)
        if found is None:
            if _LOOKS_LIKE_EQUATION.search(line) and "=" in line:
                bad = _non_ascii(line)
                unreadable.append(f"cannot read the equation line {line[:80]!r}" + (f" ({bad})" if bad else
                                  "; write it as d(state)/dt = expression"))
            continue
        name, expr = found
        if len(line) > MAX_LINE_CHARS:
            return ParsedEquations(None, f"equation for {name[:30]!r} is too long ({len(line)} characters; at most "
                                         f"{MAX_LINE_CHARS})")
        bad = _check_state_name(name)
        if bad:
            return ParsedEquations(None, bad)
        if name in rhs_text:
            return ParsedEquations(None, f"state {name!r} has two equations")
        if not expr:
            return ParsedEquations(None, f"the equation for {name!r} has no right-hand side")
        rhs_text[name] = expr
        used_lines.append(f"d({name})/dt = {expr}")
    hint = f" ({unreadable[0]})" if unreadable else ""
    if not rhs_text:
        return ParsedEquations(None, f"no equation of the form d(state)/dt = expression found{hint}")
    missing = [s for s in problem_states if s not in rhs_text]
    if missing:
        return ParsedEquations(None, f"no equation for state(s) {missing}; every state {list(problem_states)} needs "
                                     f"one{hint}", "\n".join(used_lines))
    extra = [s for s in rhs_text if s not in problem_states]
    if extra:
        if allow_extra_states is False:
            return ParsedEquations(None, f"equations for unknown state(s) {extra}; states are {list(problem_states)}",
                                   "\n".join(used_lines))
        if allow_extra_states is not True and any(s not in allow_extra_states for s in extra):
            bad_extra = [s for s in extra if s not in allow_extra_states]
            return ParsedEquations(None, f"state(s) {bad_extra} may not be added; allowed additions are "
                                         f"{list(allow_extra_states)}", "\n".join(used_lines))
    states = (*problem_states, *extra)
    eq_text = "\n".join(used_lines)
    if len(states) > max_states:
        return ParsedEquations(None, f"too many states ({len(states)}; at most {max_states})", eq_text)
    rhs: dict[str, sympy.Expr] = {}
    for s in states:
        try:
            rhs[s] = parse_expression(rhs_text[s])
        except ExpressionError as exc:
            return ParsedEquations(None, f"right-hand side of {s!r}: {exc.reason}", eq_text)
        for sym in rhs[s].free_symbols:
            if len(sym.name) > MAX_NAME_CHARS:
                return ParsedEquations(None, f"name {sym.name[:40]!r} is longer than {MAX_NAME_CHARS} characters",
                                       eq_text)
    return _build(problem, states, rhs, eq_text)


def _build(problem: Problem, states: Sequence[str], rhs: Mapping[str, sympy.Expr], eq_text: str) -> ParsedEquations:
    covariates = tuple(getattr(problem, "covariates", ()) or ())
    try:
        model = ODEModel(
            states=list(states),
            rhs=dict(rhs),
            observables=dict(problem.observables),
            initial=dict(getattr(problem, "initial", {}) or {}),
            covariates=covariates,
            name=getattr(problem, "name", "") or "",
        )
    except ModelSpecError as exc:
        return ParsedEquations(None, f"not a valid model: {exc}", eq_text)
    except (ExpressionError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError) as exc:
        return ParsedEquations(None, f"not a valid model ({type(exc).__name__}): {str(exc)[:200]}", eq_text)
    return ParsedEquations(model, "", eq_text)


def parse_mechanism(
    text: str,
    categories: Mapping[str, Sequence[object]] | Sequence[Mapping[str, Sequence[object]]],
) -> ParsedMechanism:
    """Parse a mechanism line (``category: block; category: block; ...``) into one block name per category.

    Block names may also be given without the ``category:`` labels, separated by ``;``, ``,`` or new lines.
    Unknown block names, blocks under the wrong category, two blocks for one category and missing categories are
    rejected.

    Parameters
    ----------
    text
        The model output.
    categories
        Category -> blocks (objects with a ``name`` attribute, or names), in order; usually
        ``library.categories(problem)``. A sequence of such mappings (one per library family) accepts a complete
        choice for any one of them.

    Returns
    -------
    ParsedMechanism
        The choice, in category order, or ``choice=None`` and the ``reason``. Never raises for bad text.
    """
    reason = _too_long(text)
    if reason:
        return ParsedMechanism(None, reason)
    sets = [categories] if isinstance(categories, Mapping) else list(categories)
    named = [{str(c): [str(getattr(b, "name", b)) for b in blocks] for c, blocks in cats.items()} for cats in sets]
    owner: dict[str, str] = {}
    all_categories: dict[str, list[str]] = {}
    for names in named:
        for c, blocks in names.items():
            all_categories.setdefault(c, [])
            for b in blocks:
                owner.setdefault(b, c)
                if b not in all_categories[c]:
                    all_categories[c].append(b)
    items: list[str] = []
    for line in clean_lines(text):
        items.extend(p.strip() for p in re.split(r"[;,]", line) if p.strip())
        if len(items) > 4 * max(1, len(all_categories)) + 16:
            break
    chosen: dict[str, str] = {}
    unknown: list[str] = []
    for item in items:
        label, sep, value = item.partition(":")
        value = (value if sep else label).strip().strip("`'\"*.").strip()
        label = label.strip().strip("`'\"*").strip().lower().replace(" ", "_") if sep else ""
        if not value:
            continue
        bad = _non_ascii(value)
        if bad:
            return ParsedMechanism(None, f"block name {value[:40]!r}: {bad}")
        if value not in owner:
            if sep and label in all_categories:
                unknown.append(f"{value[:40]!r} (category {label!r})")
            continue
        category = owner[value]
        if sep and label in all_categories and label != category:
            return ParsedMechanism(None, f"block {value!r} belongs to category {category!r}, not {label!r}")
        if category in chosen and chosen[category] != value:
            return ParsedMechanism(None, f"two blocks chosen for category {category!r}: {chosen[category]!r} and "
                                         f"{value!r}")
        chosen[category] = value
    if unknown:
        return ParsedMechanism(None, f"unknown block name(s): {', '.join(unknown[:5])}")
    for names in named:
        if set(chosen) == set(names):
            return ParsedMechanism(tuple(chosen[c] for c in names))
    best = max(named, key=lambda names: len(set(chosen) & set(names)))
    missing = [c for c in best if c not in chosen]
    if missing:
        return ParsedMechanism(None, f"no block chosen for categor{'y' if len(missing) == 1 else 'ies'} "
                                     f"{missing}; choose one of: " + "; ".join(f"{c}: {' | '.join(best[c])}"
                                                                            for c in missing))
    extra = [c for c in chosen if c not in best]
    return ParsedMechanism(None, f"blocks of categories {extra} do not combine with {list(best)}")
