"""Throughput of the expression-level LLM proposer with the embedded model.

Prints

* the load time of the embedded model from the conversion cache (the first load ever converts the GGUF file and is
  much slower; that time is printed too when it happens);
* valid distinct structures per minute (target: >= 30/min): expression-level ``propose`` calls (one batched,
  grammar-constrained generate call of ``--samples`` equation sets each, plus repairs and log-prior scoring), the
  number of distinct valid structures over all calls divided by their wall time;
* the share of samples that parse and validate without repair;
* the repair success rate: over the repairs the proposer made during the runs, and over a fixed drill of typical
  broken answers (a state without equation, a dose that never reaches the observable, an unknown function, a
  state that can turn negative).

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_throughput.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_throughput.py --problems theophylline --rounds 4 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time

DRILL = {
    "theophylline": [
        "d(depot)/dt = -ka*depot",
        "d(depot)/dt = -ka*depot\nd(central)/dt = -ke*central",
        "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - gamma_fn(central)",
        "d(depot)/dt = -ka*depot\nd(central)/dt = ka*depot - ke",
    ],
    "twocomp_iv": [
        "d(peripheral)/dt = k12*central - k21*peripheral",
        "d(central)/dt = -ke",
        "d(central)/dt = -ke*central + erf(central)",
        "d(central)/dt = k21*peripheral - k12*central - ke*central\nd(peripheral)/dt = k12*central - k21",
    ],
    "logistic_growth": [
        "d(size)/dt = r*size*(1 - size/K",
        "d(size)/dt = r - d",
        "d(size)/dt = logistic(size)",
        "growth = r*size",
    ],
    "sir_outbreak": [
        "d(S)/dt = -beta*S*I/N\nd(I)/dt = beta*S*I/N - gamma*I",
        "d(S)/dt = -beta\nd(I)/dt = beta - gamma\nd(R)/dt = gamma",
        "d(S)/dt = -beta*S*I/N\nd(I)/dt = beta*S*I/N - gamma*I\nd(R)/dt = gamma*I - delta",
        "d(S)/dt = -beta*S*I/N\nd(I)/dt = beta*S*I/N - heaviside(I)\nd(R)/dt = gamma*I",
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="+", default=["theophylline", "twocomp_iv", "logistic_growth",
                                                          "sir_outbreak"])
    parser.add_argument("--rounds", type=int, default=2, help="propose calls per problem (seeds 0, 1, ...)")
    parser.add_argument("--samples", type=int, default=16, help="samples per generate call")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-drill", action="store_true", help="skip the repair drill")
    args = parser.parse_args(argv)

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    from cohortode.propose._benchmark_problems import benchmark_problem
    from cohortode.propose._llm_proposer import LLMProposer
    from cohortode.propose._parse_output import parse_equations
    from cohortode.propose._prompt import build_repair_messages
    from cohortode.propose.backends import TransformersBackend

    print(f"torch threads: {torch.get_num_threads()}")
    backend = TransformersBackend()
    if not backend.from_cache:
        print(f"first load (GGUF conversion): {backend.load_seconds:.1f} s")
        backend = TransformersBackend()
    print(f"cached load time: {backend.load_seconds:.1f} s")

    total_seconds = 0.0
    total_distinct = 0
    samples = valid_samples = repairs = repaired = 0
    for name in args.problems:
        problem = benchmark_problem(name).problem
        proposer = LLMProposer(backend, level="expression", samples_per_call=args.samples)
        hashes: set[str] = set()
        start = time.perf_counter()
        for seed in range(args.rounds):
            cands = proposer.propose(problem, k=args.samples, seed=seed)
            hashes |= {c.structure_hash for c in cands if c.status == "valid"}
            stats = proposer.last_stats
            samples += stats["samples"]
            valid_samples += stats["valid_samples"]
            repairs += stats["repairs"]
            repaired += stats["repaired"]
            print(f"  {name} seed {seed}: {stats['samples']} samples, {stats['valid_samples']} valid, "
                  f"{stats['repairs']} repairs ({stats['repaired']} ok), generate {stats.get('generate_seconds', 0):.1f} s, "
                  f"repair {stats.get('repair_seconds', 0):.1f} s, score {stats.get('score_seconds', 0):.1f} s, "
                  f"total {stats['seconds']:.1f} s", flush=True)
        seconds = time.perf_counter() - start
        total_seconds += seconds
        total_distinct += len(hashes)
        print(f"{name:16s} {len(hashes):3d} distinct valid structures in {seconds:6.1f} s "
              f"= {60 * len(hashes) / seconds:5.1f}/min")
    print(f"overall: {total_distinct} distinct valid structures in {total_seconds:.0f} s = "
          f"{60 * total_distinct / total_seconds:.1f}/min (target >= 30/min)")
    print(f"samples valid without repair: {valid_samples}/{samples} = {valid_samples / max(samples, 1):.0%}")
    print(f"repairs during the runs: {repaired}/{repairs} succeeded" if repairs else
          "repairs during the runs: none were needed")

    if not args.no_drill:
        proposer = LLMProposer(backend, level="expression")
        ok = tried = 0
        start = time.perf_counter()
        for name in args.problems:
            problem = benchmark_problem(name).problem
            extra = proposer._extra(problem)
            from cohortode.propose._grammar import expression_grammar

            grammar = expression_grammar(problem.state_names, extra_states=extra,
                                         parameters=proposer._parameters(problem))
            for i, text in enumerate(DRILL.get(name, [])):
                parsed = parse_equations(text, problem)
                reason = parsed.reason or proposer._validate(parsed.model, problem)
                if not reason:
                    continue
                messages = build_repair_messages(problem, text, reason, extra_states=extra)
                fixed = proposer.generate(messages, n=1, grammar=grammar, max_new_tokens=proposer._tokens(problem),
                                          seed=i)[0]
                again = parse_equations(fixed, problem, allow_extra_states=extra)
                tried += 1
                ok += not (again.reason or proposer._validate(again.model, problem))
        print(f"repair drill: {ok}/{tried} broken answers repaired in one step "
              f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
