"""Random candidate structures for robustness checks: random sums of kinetic terms over a problem's states,
including stiff, exploding and NaN-producing ones, then mutations of the valid ones.

Not a proposer for discovery: it draws structures blindly, to check that validation and screening turn every one of
them into a score or a rejection with its reason.
"""

from __future__ import annotations

import numpy as np

from .._errors import ModelSpecError
from ..spec import ODEModel
from ._candidate import Candidate
from ._problem import Problem

__all__ = ["random_candidates"]

# term templates over a target state x, another state y and fresh parameter names a, b
_TERMS = (
    "-{a}*{x}", "{a}*{y}", "-{a}*{x}*{y}", "{a}*{x}*(1 - {x}/{b})", "-{a}*{x}/({b} + {x})", "{a}*{y}/({b} + {y})",
    "{a}*{x}**2", "-{a}*{x}**3", "{a}*exp({b}*{x})", "-{a}*{x}*log({x} + {b})", "{a}/{x}", "-{a}", "{a}*sin({b}*t)",
    "1e6*{a}*{y} - 1e6*{a}*{x}", "{a}*{x}*{y}/({x} - {b})", "sqrt({a}*{x} - {b})", "{a}*{y}**{b}", "-{a}*{x}**0.5",
)


def _draw(problem: Problem, rng: np.random.Generator) -> str:
    states = list(problem.state_names)
    n_extra = int(rng.integers(0, 2))
    states += [f"extra{i}" for i in range(n_extra)]
    lines, k = [], 0
    for x in states:
        terms = []
        for _ in range(int(rng.integers(1, 4))):
            y = states[int(rng.integers(len(states)))]
            template = _TERMS[int(rng.integers(len(_TERMS)))]
            terms.append(template.format(x=x, y=y, a=f"p{k}", b=f"p{k + 1}"))
            k += 2
        lines.append(f"d({x})/dt = " + " + ".join(terms))
    lines += [f"{name} = {expr}" for name, expr in problem.observables.items()]
    lines += [f"{s}({0}) = {v}" for s, v in problem.initial.items()]
    return "\n".join(lines)


def random_candidates(problem: Problem, n: int, *, seed: int = 0, mutation_share: float = 0.3) -> list[Candidate]:
    """``n`` random candidates for ``problem`` (``source`` ``"random"`` or ``"mutation"``), unvalidated.

    Candidates whose text is not a model have ``model=None`` and ``status="rejected"`` with the reason.
    """
    from ._feedback import model_from_equations
    from ._validate import validate_model
    from .motifs import mutate

    rng = np.random.default_rng(seed)
    out: list[Candidate] = []
    valid: list[ODEModel] = []
    while len(out) < n:
        if valid and rng.random() < mutation_share:
            parent = valid[int(rng.integers(len(valid)))]
            children = mutate(parent, problem, rng, n=1, prioritise=False)
            if children:
                out.append(Candidate(children[0], "\n".join(children[0].equations()), "mutation"))
                continue
        text = _draw(problem, rng)
        try:
            model = model_from_equations(text, problem.covariates)
        except (ModelSpecError, ValueError) as exc:
            out.append(Candidate(None, text, "repair", status="rejected", reason=str(exc)))
            continue
        out.append(Candidate(model, text, "repair", description="random structure"))
        try:
            validate_model(model, problem)
            valid.append(model)
        except Exception:  # noqa: BLE001 - only used to pick parents for mutation
            pass
    return out
