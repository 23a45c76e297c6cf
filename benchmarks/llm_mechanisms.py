"""How well does the embedded language model's structure prior find the expert mechanism?

For each of the four reference problems (theophylline oral one-compartment, IV bolus two-compartment, logistic
growth, SIR outbreak) this prints

* the rank of the expert mechanism among all library compositions under the LLM structure prior
  (target: top 5 in at least 3 of the 4 problems), for each prior variant asked for;
* the hit rate over seeds of the expert being among the first ``--k`` (default 32) candidates of the model's own
  choices, i.e. ``LLMProposer(level="mechanism").propose(problem, k=32, seed=seed)``: Gumbel-top-k draws from the
  prior at the proposer's temperature (target: >= 8/10 per problem); and, because a problem with at most ``k``
  compositions makes that hit rate trivial, the stricter hit rate with ``k=5``.

Prior variants (``--variants``): ``<calibration>-<unit>-<text>[@N]`` with calibration ``raw`` (log p(answer |
prompt)), ``pmi`` (minus log p(answer | neutral prompt)) or ``cal<c>`` (minus c times it), unit ``category`` (each
category's blocks scored separately, summed) or ``composition`` (whole mechanism lines), text ``name`` or
``description``, and ``@N`` listing orders averaged; ``cal0.5-category-name@1`` is the proposer's default. The first
variant is used for the hit rates.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_mechanisms.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_mechanisms.py \
        --variants cal0.5-category-name@1 raw-category-name pmi-category-name pmi-composition-name --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _variant(text: str) -> dict:
    base, _, orders = text.partition("@")
    parts = base.split("-")
    calibration = {"raw": 0.0, "pmi": 1.0}.get(parts[0])
    if calibration is None and parts[0].startswith("cal"):
        try:
            calibration = float(parts[0][3:])
        except ValueError:
            calibration = None
    if (len(parts) != 3 or calibration is None or parts[1] not in ("category", "composition")
            or parts[2] not in ("name", "description") or not (orders or "1").isdigit()):
        raise argparse.ArgumentTypeError(
            f"variant {text!r}: expected (raw|pmi|cal<c>)-(category|composition)-(name|description)[@N]")
    return {"name": text, "calibration": calibration, "prior_unit": parts[1], "prior_text": parts[2],
            "prior_orders": int(orders or 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", type=_variant, default=[_variant("cal0.5-category-name@1")])
    parser.add_argument("--problems", nargs="+", default=None, help="subset of the reference problems")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.8, help="prior_temperature of the Gumbel draws")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    from cohortode.propose._benchmark_problems import BENCHMARK_NAMES, benchmark_problem
    from cohortode.propose._llm_proposer import LLMProposer
    from cohortode.propose.backends import resolve_backend

    start = time.perf_counter()
    backend = resolve_backend()
    print(f"backend: {backend!r} (loaded in {time.perf_counter() - start:.1f} s)")
    names = args.problems or list(BENCHMARK_NAMES)
    ranks: dict[str, dict[str, int]] = {v["name"]: {} for v in args.variants}
    hits: dict[str, tuple[int, int, int]] = {}
    for name in names:
        bp = benchmark_problem(name)
        for i, variant in enumerate(args.variants):
            proposer = LLMProposer(backend, level="mechanism", prior_temperature=args.temperature,
                                   calibration=variant["calibration"],
                                   prior_unit=variant["prior_unit"], prior_text=variant["prior_text"],
                                   prior_orders=variant["prior_orders"])
            t0 = time.perf_counter()
            choices, log_prior = proposer.mechanism_prior(bp.problem)
            seconds = time.perf_counter() - t0
            if log_prior is None:
                print(f"{name}: the backend cannot score; no prior")
                continue
            order = np.argsort(-log_prior, kind="stable")
            expert = choices.index(tuple(bp.expert))
            rank = int(np.nonzero(order == expert)[0][0]) + 1
            ranks[variant["name"]][name] = rank
            top = ", ".join(f"{'/'.join(choices[j])} ({np.exp(log_prior[j]):.2f})" for j in order[:3])
            print(f"{name:16s} {variant['name']:18s} expert rank {rank:2d}/{len(choices):2d}  "
                  f"p={np.exp(log_prior[expert]):.3f}  ({seconds:5.1f} s)  top: {top}")
            if i == 0:  # the model's own choices: propose() at the mechanism level (the prior is cached)
                in_k = in_5 = 0
                for seed in range(args.seeds):
                    in_k += tuple(bp.expert) in [c.mechanism for c in proposer.propose(bp.problem, k=args.k, seed=seed)
                                                 if c.status == "valid"]
                    in_5 += tuple(bp.expert) in [c.mechanism for c in proposer.propose(bp.problem, k=5, seed=seed)
                                                 if c.status == "valid"]
                hits[name] = (in_k, in_5, len(choices))
    print()
    for variant in args.variants:
        r = ranks[variant["name"]]
        top5 = sum(v <= 5 for v in r.values())
        print(f"{variant['name']:18s} expert in top 5: {top5}/{len(r)}  ranks: "
              + ", ".join(f"{k}={v}" for k, v in r.items()))
    print(f"hit rates ({args.variants[0]['name']}, T={args.temperature}, {args.seeds} seeds):")
    for name, (in_k, in_5, n) in hits.items():
        note = " (trivial: compositions <= k)" if n <= args.k else ""
        print(f"  {name:16s} first {args.k}: {in_k}/{args.seeds}{note}   first 5: {in_5}/{args.seeds}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
