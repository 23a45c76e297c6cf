"""``cohortode propose``: draft candidate structures for a cohort with the language model and the motif library."""

from __future__ import annotations

import time

import typer

from ._app import BadInput, command
from ._inputs import load_data
from ._printing import print_candidate


def _parse_states(text: str) -> list[tuple[str, str]]:
    states = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, meaning = part.partition(":")
        states.append((name.strip(), meaning.strip() or name.strip()))
    return states


def _parse_observables(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, expr = item.partition("=")
        if not eq or not name.strip() or not expr.strip():
            raise BadInput(f"--observable {item!r}: write NAME=EXPRESSION, e.g. conc=central/V.")
        out[name.strip()] = expr.strip()
    return out


@command("propose", help="Draft candidate ODE structures for a cohort with the language model (embedded by default) "
                         "and print them with their log priors.",
         example="cohortode propose --cohort cohorts/theophylline --states 'depot:drug in the gut,central:drug in "
                 "plasma' --observable conc=central/V --domain pk -k 8")
def propose(
    problem: str = typer.Option(None, "--problem", help="a bundled benchmark problem (e.g. theophylline)"),
    cohort: str = typer.Option(None, "--cohort", "-c", help="cohort name, directory, cohort.toml or CSV"),
    states: str = typer.Option(None, "--states", help="states as 'name:meaning,name:meaning' (with --cohort)"),
    observable: list[str] = typer.Option([], "--observable", help="NAME=EXPRESSION of states (with --cohort)"),
    domain: str = typer.Option(None, "--domain", help="pk, pd, epidemic, growth, ..."),
    context: str = typer.Option("", "--context", help="a sentence about the study (default: its description)"),
    llm: str = typer.Option(None, "--llm", help="model directory, .gguf file or http://host:port#model"),
    k: int = typer.Option(16, "-k", help="number of structures to draft"),
    seed: int = typer.Option(0, "--seed"),
) -> int:
    from ..propose import LLMProposer, Problem, resolve_backend

    if (problem is None) == (cohort is None):
        if problem is None:
            problem = "theophylline"
        else:
            raise BadInput("give either --problem or --cohort, not both.")
    if problem is not None:
        from ..propose._benchmark_problems import benchmark_problems

        problems = {bp.name: bp.problem for bp in benchmark_problems()}
        if problem not in problems:
            raise BadInput(f"unknown problem {problem!r}; choose one of {', '.join(problems)}, or give --cohort.")
        task = problems[problem]
    else:
        if not states or not observable:
            raise BadInput("with --cohort give --states and --observable (until discover infers them).")
        data = load_data(cohort)
        task = Problem.from_cohort(data, states=_parse_states(states), observables=_parse_observables(observable),
                                   domain=domain, context=context)
    t0 = time.perf_counter()
    backend = resolve_backend(llm)
    candidates = LLMProposer(backend).propose(task, None, k, seed=seed)
    typer.echo(f"{len(candidates)} candidates in {time.perf_counter() - t0:.1f} s (backend: {backend.name})")
    for i, c in enumerate(candidates):
        print_candidate(i + 1, c)
    return 0
