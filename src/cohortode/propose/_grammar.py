"""xgrammar EBNF grammars that constrain what the language model may write.

Two grammars are built from a :class:`~cohortode.propose.Problem`:

* :func:`mechanism_grammar` -- one line choosing one library block per category, e.g.
  ``absorption: first_order_absorption; distribution: one_compartment; elimination: linear_elimination``;
* :func:`expression_grammar` -- one line ``d(<state>)/dt = <expression>`` per problem state (in the problem's
  order, optionally followed by lines for a few named auxiliary states), over the state names, parameter names,
  single-digit numbers, ``+ - * / ^``, parentheses and the functions ``exp``, ``log``, ``sqrt``.

The expression language is deliberately small and non-recursive (three nesting levels, bounded repetitions), so
every text it accepts is short and, apart from rare reserved words used as parameter names, accepted by
:func:`cohortode.spec.parse_expression`. It also steers a small model towards rate laws:

* every top-level term is a parameter times at least one factor (``ka*depot``, ``Vmax*central/(Km + central)``);
* a subtracted term in ``d(x)/dt`` carries ``x`` itself as a factor (``- ke*central``, ``- beta*S*I/N``), so
  no state can be driven below zero (the positivity check of :func:`~cohortode.propose.validate_model`);
* constants are single digits (``1 - size/K``), so data values from the prompt cannot be copied in;
* an added state (``peripheral``) exchanges by simple mass-action flows (``k12*central - k21*peripheral``);
* parameter names can be limited to a vocabulary (``parameters=``), so a small model cannot invent long nonsense
  names.

The grammar is a sampling aid only: every output is still parsed by the safe parser
(:mod:`cohortode.propose._parse_output`) and validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = [
    "EXPRESSION_FUNCTIONS",
    "PARAMETER_PATTERN",
    "check_grammar",
    "expression_grammar",
    "mechanism_grammar",
    "mechanism_line",
]

EXPRESSION_FUNCTIONS: tuple[str, ...] = ("exp", "log", "sqrt")
"""Functions the expression grammar offers (a subset of :data:`cohortode.spec.ALLOWED_FUNCTIONS`)."""

PARAMETER_PATTERN = "[a-zA-Z] [a-zA-Z0-9_]{0,7}"
"""EBNF of a parameter name: a letter and at most 7 more letters, digits or underscores (``ka``, ``Vmax``, ``EC50``).

A name that equals a state name simply *is* that state: states and parameters share one namespace in the parsed
model, so the ambiguity is harmless.
"""

_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def _literal(text: str) -> str:
    """``text`` as an EBNF string literal (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) > 126:
            raise ValueError(f"character {ch!r} cannot appear in a grammar literal; use plain ASCII names")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a plain ASCII identifier (letters, digits, _; starting with a letter)")
    return name


def _rule_name(prefix: str, i: int) -> str:
    return f"{prefix}_{i}"


def mechanism_line(categories: Sequence[str], choice: Sequence[str]) -> str:
    """The text the mechanism grammar produces for ``choice`` (one block name per category, in order).

    Examples
    --------
    >>> mechanism_line(["absorption", "elimination"], ["first_order_absorption", "linear_elimination"])
    'absorption: first_order_absorption; elimination: linear_elimination'
    """
    categories, choice = list(categories), list(choice)
    if len(categories) != len(choice):
        raise ValueError(f"choice has {len(choice)} blocks but there are {len(categories)} categories {categories}")
    return "; ".join(f"{c}: {b}" for c, b in zip(categories, choice))


def mechanism_grammar(categories: Mapping[str, Sequence[object]] | Sequence[Mapping[str, Sequence[object]]]) -> str:
    """EBNF for one line choosing one block per category.

    Parameters
    ----------
    categories
        Category name -> its blocks (objects with a ``name`` attribute, or plain block names), in the order
        the line lists them; typically ``library.categories(problem)``. A sequence of such mappings (one per
        library family that fits the problem) gives a grammar whose line follows any one of them.

    Returns
    -------
    str
        xgrammar EBNF with start rule ``root``, e.g.
        ``root ::= "absorption: " cat_0 "; elimination: " cat_1`` and
        ``cat_0 ::= "first_order_absorption" | "zero_order_absorption"``.

    Raises
    ------
    ValueError
        If there are no categories, a category has no blocks, or a name is not a plain identifier.
    """
    sets = [categories] if isinstance(categories, Mapping) else list(categories)
    if not sets or any(not isinstance(c, Mapping) or not c for c in sets):
        raise ValueError("categories: expected at least one category with blocks")
    alternatives: list[str] = []
    rules: list[str] = []
    rule_of: dict[tuple[str, ...], str] = {}
    for cats in sets:
        parts: list[str] = []
        for i, (category, blocks) in enumerate(cats.items()):
            _check_name(category, "category name")
            names = tuple(dict.fromkeys(
                _check_name(getattr(b, "name", b), f"block name in category {category!r}") for b in blocks))
            if not names:
                raise ValueError(f"category {category!r} has no blocks")
            if names not in rule_of:
                rule_of[names] = _rule_name("cat", len(rule_of))
                rules.append(f"{rule_of[names]} ::= " + " | ".join(_literal(n) for n in names))
            prefix = f"{category}: " if i == 0 else f"; {category}: "
            parts.append(f"{_literal(prefix)} {rule_of[names]}")
        alternatives.append(" ".join(parts))
    root = "root ::= " + " | ".join(f"({a})" if len(alternatives) > 1 else a for a in alternatives)
    return "\n".join([root, *rules]) + "\n"


def expression_grammar(
    states: Sequence[str],
    *,
    extra_states: Sequence[str] = (),
    functions: Sequence[str] = EXPRESSION_FUNCTIONS,
    max_terms: int = 5,
    parameters: Sequence[str] | None = None,
) -> str:
    """EBNF for ``d(<state>)/dt = <expression>`` lines, one per state.

    Parameters
    ----------
    states
        The problem's state names; each gets exactly one line, in this order.
    extra_states
        Auxiliary states (e.g. ``("peripheral",)``) the model may add: each may follow as one further optional
        line, in this order. Their names are usable in every expression.
    functions
        Function names offered (each must be one of :data:`cohortode.spec.ALLOWED_FUNCTIONS` with one argument).
    max_terms
        Most additive terms in one right-hand side.
    parameters
        Parameter names to offer (e.g. those of the library's structures for the problem, ``ka``, ``Vmax``,
        ``beta``); any other parameter is a letter with at most two digits (``k``, ``k1``, ``k12``). ``None``
        allows every name matching :data:`PARAMETER_PATTERN`. A closed vocabulary keeps a small model from inventing
        long nonsense names.

    Returns
    -------
    str
        xgrammar EBNF with start rule ``root``.

    Raises
    ------
    ValueError
        For an empty or duplicated state list, names that are not plain identifiers, unknown functions, or
        ``max_terms`` < 1.
    """
    from ..spec import ALLOWED_FUNCTIONS

    states = [_check_name(s, "state name") for s in states]
    extra = [_check_name(s, "extra state name") for s in extra_states if s not in states]
    if not states:
        raise ValueError("states: expected at least one state name")
    if len(set(states)) != len(states) or len(set(extra)) != len(extra):
        raise ValueError(f"duplicate state names in {states + extra}")
    funcs = list(dict.fromkeys(functions))
    for f in funcs:
        if f not in ALLOWED_FUNCTIONS or 1 not in ALLOWED_FUNCTIONS[f][1]:
            raise ValueError(f"function {f!r} is not a one-argument function of the safe parser")
    if isinstance(max_terms, bool) or not isinstance(max_terms, int) or max_terms < 1:
        raise ValueError(f"max_terms: expected a positive integer, got {max_terms!r}")
    if parameters is None:
        param_rule = PARAMETER_PATTERN
    else:
        vocabulary = [_check_name(p, "parameter name") for p in dict.fromkeys(parameters)]
        param_rule = " | ".join([*(_literal(p) for p in vocabulary), "[a-z] [0-9]{0,2}"])

    names = [*states, *extra]
    root = ' "\\n" '.join(f"line_{i}" for i in range(len(states)))
    rules = []
    for i, s in enumerate(names):
        if i < len(states):
            head = _literal(f"d({s})/dt = ")
            rules.append(f'line_{i} ::= {head} ("-" loss_{i} | gain) (" + " gain | " - " loss_{i})'
                         f'{{0,{max_terms - 1}}}')
            # a loss term of a state carries the state itself as a factor, so the state cannot turn negative
            rules.append(f'loss_{i} ::= param (mulop factor){{0,2}} "*" {_literal(s)} power? (mulop factor){{0,3}}')
        else:
            # an added state (peripheral, exposed, effect) exchanges by simple mass-action flows
            head = _literal(f"\nd({s})/dt = ")
            rules.append(f'line_{i} ::= {head} ("-" loss_{i} | flow) (" + " flow | " - " loss_{i}){{0,2}}')
            rules.append(f"loss_{i} ::= param \"*\" {_literal(s)}")
            root += f" line_{i}?"
    func_rule = " | ".join(_literal(f) for f in funcs)
    inner_terms = max(1, min(max_terms, 4))
    call2 = ' | func "(" expr2 ")"' if funcs else ""
    call3 = ' | func "(" expr3 ")"' if funcs else ""
    rules += [
        # a gain term is a rate parameter times at least one factor: ka*depot, r*size*(1 - size/K)
        "gain ::= param (mulop factor){1,4}",
        'flow ::= param "*" name ("*" name)? ("/" name)?',
        f"expr2 ::= term2 (addop term2){{0,{inner_terms - 1}}}",
        "expr3 ::= term3 (addop term3){0,2}",
        'addop ::= " + " | " - "',
        'mulop ::= "*" | "/"',
        'term2 ::= "-"? factor2 (mulop factor2){0,3}',
        'term3 ::= "-"? atom power? (mulop atom power?){0,3}',
        f'factor ::= atom power? | "(" expr2 ")" power?{call2}',
        f'factor2 ::= atom power? | "(" expr3 ")" power?{call3}',
        "atom ::= name | number",
        'power ::= "^" ([1-9] | param | "(" [1-9] "/" [1-9] ")" | "(" "-"? [0-9] "." [0-9] ")")',
        "name ::= state | param",
        "state ::= " + " | ".join(_literal(n) for n in names),
        f"param ::= {param_rule}",
        # single-digit constants only (1 - size/K, 2*k): multi-digit numbers would invite copying data values
        'number ::= [0-9] ("." [0-9])?',
    ]
    if funcs:
        rules.append(f"func ::= {func_rule}")
    return "\n".join([f"root ::= {root}", *rules]) + "\n"


def check_grammar(ebnf: str) -> None:
    """Check that ``ebnf`` is a valid xgrammar grammar with a ``root`` rule.

    Raises
    ------
    ValueError
        If xgrammar rejects the grammar.
    ImportError
        If xgrammar is not installed.
    """
    try:
        import xgrammar
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("checking a grammar needs xgrammar: pip install 'cohortode[llm]'") from exc
    try:
        xgrammar.Grammar.from_ebnf(ebnf, root_rule_name="root")
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"invalid EBNF grammar: {exc}") from exc
