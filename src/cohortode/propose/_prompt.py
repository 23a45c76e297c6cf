"""Chat prompts for the language-model proposer.

:func:`build_messages` renders a :class:`~cohortode.propose.Problem` (states and their meanings, observables, units,
time span, dosing, the data summary, the analyst's context) and optional :class:`~cohortode.propose.Feedback` (best
structures with scores and residual diagnostics, structures already tried, rejected ones with reasons) as a chat
for one of two tasks:

* ``kind="mechanism"`` -- choose one block per category from a listed library (answer: one line
  ``category: block; category: block; ...``);
* ``kind="expression"`` -- write the equations directly (answer: ``d(state)/dt = ...`` lines).

:func:`build_category_messages` asks which block of one category explains the data; its replies are scored, not
generated, to form the mechanism prior (with ``neutral=True`` the same question without data, context and feedback,
the reference for calibration). :func:`build_repair_messages` asks for a corrected answer after a rejected one,
quoting the reason. :func:`model_lines` writes a model's equations in the style of the expression grammar (rate
parameter first), for examples shown to the model.

Every piece of text taken from data or feedback is cut to a bounded length, so a prompt stays small whatever the
inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sympy

from ._grammar import mechanism_line

if TYPE_CHECKING:
    from ..spec import ODEModel
    from ._feedback import Feedback
    from ._problem import Problem

__all__ = [
    "SYSTEM_PROMPT",
    "build_category_messages",
    "build_messages",
    "build_repair_messages",
    "feedback_text",
    "format_rhs",
    "model_lines",
    "problem_text",
]

SYSTEM_PROMPT = (
    "You are an expert in pharmacometrics and mathematical biology. You propose ordinary differential equation "
    "(ODE) models that explain aggregate cohort data. Answer only in the requested format, without explanations."
)

_EXPRESSION_EXAMPLE = (
    "Format example (for a different system with states A and B, not a suggestion):\n"
    "d(A)/dt = -k1*A\n"
    "d(B)/dt = k1*A - Vmax*B/(Km + B)"
)

_MAX_FIELD = 600
_MAX_EQUATION = 300
_MAX_DOSES = 6


def _cut(text: object, limit: int = _MAX_FIELD) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _states_text(problem: Problem) -> list[str]:
    lines = []
    for st in problem.states:
        meaning = f": {_cut(st.meaning, 200)}" if getattr(st, "meaning", "") else ""
        unit = f" [{_cut(st.unit, 30)}]" if getattr(st, "unit", "") else ""
        lines.append(f"- {st.name}{unit}{meaning}")
    return lines


def _data(problem: Problem) -> Any:
    return getattr(problem, "data", None)


def _time_unit(problem: Problem) -> str:
    unit = getattr(problem, "time_unit", "") or ""
    data = _data(problem)
    if not unit and data is not None:
        unit = getattr(data, "time_unit", "") or ""
    return unit


def _observables_text(problem: Problem) -> list[str]:
    data = _data(problem)
    units = dict(getattr(data, "units", {}) or {}) if data is not None else {}
    lines = []
    for name, expr in problem.observables.items():
        unit = f" [{_cut(units[name], 30)}]" if units.get(name) else ""
        lines.append(f"- {name}{unit} = {_cut(expr, 200)}")
    return lines


def _dosing_text(problem: Problem) -> list[str]:
    data = _data(problem)
    dosing = getattr(data, "dosing", None) if data is not None else None
    if dosing is None or len(dosing) == 0:
        return []
    time_unit = _time_unit(problem)
    amount_unit = ""
    metadata = getattr(data, "metadata", None)
    if isinstance(metadata, Mapping):
        amount_unit = str(metadata.get("amount_unit", "") or "")
    multi = "cohort" in dosing.columns and dosing["cohort"].nunique() > 1
    lines = []
    for _, row in dosing.head(_MAX_DOSES).iterrows():
        duration = float(row.get("duration", 0.0) or 0.0)
        how = "bolus" if duration <= 0 else f"infused over {_fmt(duration)} {time_unit}".rstrip()
        who = f" (cohort {_cut(row['cohort'], 40)})" if multi else ""
        lines.append(f"- {_fmt(float(row['amount']))} {amount_unit}".rstrip()
                     + f" into {row['target']} at t = {_fmt(float(row['time']))} {time_unit}".rstrip()
                     + f", {how}{who}")
    if len(dosing) > _MAX_DOSES:
        lines.append(f"- ... and {len(dosing) - _MAX_DOSES} more doses")
    return lines


def _summary_text(problem: Problem) -> str:
    if _data(problem) is None:
        return ""
    try:
        return str(problem.summary().text())
    except (AttributeError, ValueError, TypeError, KeyError):  # a summary is a help, not a requirement
        return ""


def problem_text(problem: Problem, *, include_data: bool = True) -> str:
    """The problem part of a prompt: context, states, observables, time span, dosing and the data summary.

    Parameters
    ----------
    problem
        The problem.
    include_data
        ``False`` leaves out everything that is specific to the data and the analyst (context, time span,
        dosing, summary) and keeps the state and observable names; used for the neutral prompt of a calibrated
        (pointwise mutual information) structure prior.
    """
    parts: list[str] = []
    context = getattr(problem, "context", "") or ""
    domain = getattr(problem, "domain", None)
    if include_data and context:
        parts.append(f"Study: {_cut(context, 1200)}")
    if include_data and domain:
        parts.append(f"Domain: {domain}")
    parts.append("States:\n" + "\n".join(_states_text(problem)))
    parts.append("Observed quantities:\n" + "\n".join(_observables_text(problem)))
    initial = dict(getattr(problem, "initial", {}) or {})
    if initial:
        parts.append("Initial values: " + ", ".join(f"{k}(0) = {_cut(v, 60)}" for k, v in initial.items()))
    if include_data:
        data = _data(problem)
        if data is not None:
            try:
                span = data.time_span
                t0, t1 = span() if callable(span) else span
                parts.append(f"Time span of the data: {_fmt(t0)} to {_fmt(t1)} {_time_unit(problem)}".rstrip())
            except (AttributeError, ValueError, TypeError):
                pass
        doses = _dosing_text(problem)
        parts.append("Dosing:\n" + "\n".join(doses) if doses else "Dosing: none")
        summary = _summary_text(problem)
        if summary:
            parts.append("Data summary:\n" + _cut_lines(summary, 1500))
    return "\n\n".join(parts)


def _cut_lines(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def feedback_text(
    feedback: Feedback | None,
    *,
    kind: str = "expression",
    max_best: int = 5,
    max_tried: int = 20,
    max_rejected: int = 8,
) -> str:
    """The feedback part of a prompt (``""`` when there is none).

    Lists the best structures (with their scores and diagnostics), the structures already tried (not to be
    repeated) and rejected proposals with the reasons. For ``kind="mechanism"`` a structure is shown by its
    block names when it has them.
    """
    if feedback is None:
        return ""
    parts: list[str] = []
    best = list(feedback.best)[:max_best]
    if best:
        name = best[0].score_name
        lines = [f"Structures fitted so far, best first (score: {name}, higher is better):"]
        for i, s in enumerate(best, 1):
            lines.append(f"{i}. {s.score_name} = {s.score:.4g}")
            if kind == "mechanism" and s.mechanism:
                lines.append("   mechanism: " + _cut(", ".join(s.mechanism), _MAX_EQUATION))
            lines.extend(f"   {_cut(eq, _MAX_EQUATION)}" for eq in list(s.equations)[:12])
            if s.diagnostics:
                lines.append("   problems: " + _cut("; ".join(s.diagnostics), _MAX_FIELD))
        parts.append("\n".join(lines))
    tried = list(dict.fromkeys(feedback.tried))
    if tried:
        shown = tried[-max_tried:]
        head = "Already tried, do not propose these again:"
        if len(tried) > len(shown):
            head += f" ({len(tried) - len(shown)} older ones not shown)"
        parts.append("\n".join([head, *(f"- {_cut(t, _MAX_EQUATION)}" for t in shown)]))
    rejected = list(feedback.rejected)[-max_rejected:]
    if rejected:
        parts.append("\n".join(["Rejected proposals and why:",
                                *(f"- {_cut(t, 160)} -> {_cut(r, 200)}" for t, r in rejected)]))
    return "\n\n".join(parts)


def _factor_text(factor: sympy.Expr) -> str:
    text = sympy.sstr(factor, order="none").replace("**", "^")
    if isinstance(factor, (sympy.Add, sympy.Mul)) or (isinstance(factor, sympy.Rational) and not factor.is_Integer):
        return f"({text})"
    if isinstance(factor, sympy.Pow) and not (factor.exp.is_Integer and factor.exp > 0) and not factor.base.is_Symbol:
        return f"({text})"
    if isinstance(factor, sympy.Pow):
        base = _factor_text(factor.base) if not factor.base.is_Symbol else factor.base.name
        exp = factor.exp
        exp_text = str(exp) if (exp.is_Integer and exp > 0) or exp.is_Symbol else f"({sympy.sstr(exp)})"
        return f"{base}^{exp_text}"
    return text


def _term_text(term: sympy.Expr, states: Sequence[str]) -> tuple[bool, str]:
    """``(negative, text)`` of one additive term, parameters first, then states, then the rest."""
    coeff, rest = term.as_coeff_Mul()
    negative = bool(coeff < 0)
    coeff = abs(coeff)
    num, den = sympy.fraction(rest)
    order = {s: i for i, s in enumerate(states)}

    def key(f: sympy.Expr) -> tuple[int, int, str]:
        if f.is_Symbol:
            return (1, order[f.name], "") if f.name in order else (0, 0, f.name)
        return (2, 0, sympy.sstr(f))

    factors = sorted(sympy.Mul.make_args(num), key=key)
    parts = [_factor_text(f) for f in factors if f != 1]
    if coeff != 1:
        parts.insert(0, _factor_text(coeff))
    text = "*".join(parts) or "1"
    if den != 1:
        dens = sorted(sympy.Mul.make_args(den), key=key)
        text += "/" + ("/".join(_factor_text(f) for f in dens))
    return negative, text


def format_rhs(expr: sympy.Expr, states: Sequence[str]) -> str:
    """A right-hand side as text with each term written parameters first (``ka*depot - ke*central``).

    This is the style the expression grammar produces, so examples shown to the model follow it.
    """
    out = ""
    terms = [_term_text(term, states) for term in sympy.Add.make_args(expr)]
    terms.sort(key=lambda t: t[0])  # gains first, then losses
    for i, (negative, text) in enumerate(terms):
        if i == 0:
            out = f"-{text}" if negative else text
        else:
            out += f" - {text}" if negative else f" + {text}"
    return out


def model_lines(model: ODEModel) -> list[str]:
    """``d(state)/dt = ...`` lines of a model in the grammar's style (see :func:`format_rhs`)."""
    return [f"d({s})/dt = {format_rhs(model.rhs[s], model.states)}" for s in model.states]


def _category_listing(categories: Mapping[str, Sequence[Any]]) -> str:
    lines = []
    for category, blocks in categories.items():
        lines.append(f"{category}:")
        for b in blocks:
            desc = getattr(b, "description", "")
            lines.append(f"- {getattr(b, 'name', b)}" + (f": {_cut(desc, 200)}" if desc else ""))
    return "\n".join(lines)


def build_messages(
    problem: Problem,
    feedback: Feedback | None = None,
    *,
    kind: str = "expression",
    categories: Mapping[str, Sequence[Any]] | None = None,
    extra_states: Sequence[str] = (),
    examples: Sequence[Sequence[str]] = (),
    neutral: bool = False,
) -> list[dict[str, str]]:
    """The chat asking the model for a structure.

    Parameters
    ----------
    problem
        The modelling problem.
    feedback
        Results so far, or ``None``.
    kind
        ``"mechanism"`` (choose blocks; needs ``categories``) or ``"expression"`` (write equations).
    categories
        For ``kind="mechanism"``: category -> blocks (with ``name`` and ``description``), in the order they are
        listed; usually ``library.categories(problem)``.
    extra_states
        For ``kind="expression"``: state names the model may add (one optional line each).
    examples
        For ``kind="expression"``: example models for these states, each a list of ``d(state)/dt = ...`` lines
        (at most 6 are shown). Without examples a generic format example is shown.
    neutral
        Leave out the data, the analyst's context and the feedback (the reference prompt of a calibrated prior).

    Returns
    -------
    list of dict
        ``[{"role": "system", ...}, {"role": "user", ...}]``.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a mechanism prompt without categories.
    """
    if kind not in ("mechanism", "expression"):
        raise ValueError(f"kind: expected 'mechanism' or 'expression', got {kind!r}")
    sections = [problem_text(problem, include_data=not neutral)]
    fb = "" if neutral else feedback_text(feedback, kind=kind)
    if fb:
        sections.append(fb)
    if kind == "mechanism":
        if not categories:
            raise ValueError("categories: a mechanism prompt needs the library's categories and blocks")
        names = list(categories)
        placeholder = "; ".join(f"{c}: <block>" for c in names)
        sections.append(
            "Task: choose the mechanism that best explains the data: exactly one block from each category below.\n\n"
            + _category_listing(categories)
            + f"\n\nAnswer with one line in this format:\n{placeholder}"
        )
    else:
        states = list(problem.state_names)
        extra = [s for s in extra_states if s not in states]
        task = ("Task: write an ODE model that explains the data. Write one line d(state)/dt = expression for each "
                f"state, in this order: {', '.join(states)}.")
        if extra:
            task += (f" You may add the state {extra[0]} with one more line." if len(extra) == 1 else
                     f" You may add the states {', '.join(extra)} with one more line each.")
        task += (" Use the state names, short parameter names (like ka, ke, V, Km, Vmax, r, K, beta, gamma), "
                 "+ - * / ^, parentheses and exp, log, sqrt. Do not write the observed quantities.")
        shown = [list(e)[:12] for e in list(examples)[:6]]
        if shown:
            listing = "\n\n".join(f"Example {i}:\n" + "\n".join(_cut(line, _MAX_EQUATION) for line in e)
                                   for i, e in enumerate(shown, 1))
            sections.append(task + "\n\nValid models for these states look like this:\n\n" + listing)
        else:
            sections.append(task + "\n\n" + _EXPRESSION_EXAMPLE)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(sections)}]


def build_category_messages(
    problem: Problem,
    feedback: Feedback | None,
    category: str,
    blocks: Sequence[Any],
    *,
    neutral: bool = False,
) -> list[dict[str, str]]:
    """The chat asking which block of one category explains the data (the reply is scored, not generated).

    Parameters
    ----------
    problem, feedback
        As for :func:`build_messages`.
    category
        The category, e.g. ``"absorption"``.
    blocks
        Its blocks (with ``name`` and ``description``), in the order they are listed.
    neutral
        Leave out the data, the analyst's context and the feedback.
    """
    sections = [problem_text(problem, include_data=not neutral)]
    fb = "" if neutral else feedback_text(feedback, kind="mechanism")
    if fb:
        sections.append(fb)
    options = "\n".join(f"- {getattr(b, 'name', b)}"
                        + (f": {_cut(b.description, 200)}" if getattr(b, "description", "") else "") for b in blocks)
    sections.append(f"Question: which {category.replace('_', ' ')} mechanism explains these data best?\n"
                    f"Options:\n{options}\n\nAnswer with one option.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(sections)}]


def build_repair_messages(
    problem: Problem,
    text: str,
    reason: str,
    feedback: Feedback | None = None,
    *,
    kind: str = "expression",
    categories: Mapping[str, Sequence[Any]] | None = None,
    extra_states: Sequence[str] = (),
    examples: Sequence[Sequence[str]] = (),
) -> list[dict[str, str]]:
    """The chat asking for a corrected answer: the original request, the rejected answer, and why it was rejected.

    The rejected text is cut to a bounded length.
    """
    messages = build_messages(problem, feedback, kind=kind, categories=categories, extra_states=extra_states,
                              examples=examples)
    fix = ("Your answer was rejected: " + _cut(reason, 400)
           + "\nWrite a corrected answer in exactly the requested format.")
    if kind == "mechanism" and categories:
        names = list(categories)
        example = mechanism_line(names, [str(getattr(categories[c][0], "name", categories[c][0])) for c in names])
        fix += f" Example of the format: {example}"
    return [*messages, {"role": "assistant", "content": _cut_lines(str(text), 1500)},
            {"role": "user", "content": fix}]
