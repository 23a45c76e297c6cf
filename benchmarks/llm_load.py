"""Benchmark the local LLM backend: cold GGUF conversion, cached load, batched grammar-constrained sampling.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/llm_load.py [--model PATH] [--threads N] [--samples 16]

The conversion goes to a fresh temporary cache (deleted at the end), so the user cache is never touched.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

GRAMMAR = r"""
root ::= term (" " ("+" | "-") " " term)*
term ::= param "*" state ("*" state)?
param ::= "k" [1-9]
state ::= "S" | "I" | "R"
"""
PATTERN = re.compile(r"k[1-9]\*[SIR](\*[SIR])?( [+-] k[1-9]\*[SIR](\*[SIR])?)*")
CHAT = [
    {"role": "system", "content": "You write ODE right-hand sides as sums of terms like k1*S*I."},
    {"role": "user", "content": "Propose the right-hand side of dI/dt for an epidemic with states S, I, R."},
]

_CHILD = """
import sys, time
from cohortode.propose.backends import TransformersBackend
b = TransformersBackend({model!r}, cache_dir={cache!r}, threads={threads!r})
assert b.from_cache
print(b.load_seconds)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a .gguf file or model directory (default: embedded SmolLM2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--samples", type=int, default=16, help="samples in the batched generate call")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from cohortode.propose.backends import TransformersBackend

    with tempfile.TemporaryDirectory(prefix="cohortode-bench-") as cache:
        cold = TransformersBackend(args.model, cache_dir=cache, threads=args.threads)
        kind = "cold conversion" if not cold.from_cache else "load (not a GGUF: nothing to convert)"
        print(f"{kind:<44s} {cold.load_seconds:8.2f} s   ({cold.name})")

        cached = TransformersBackend(args.model, cache_dir=cache, threads=args.threads)
        print(f"{'cached load, same process':<44s} {cached.load_seconds:8.2f} s   (from_cache={cached.from_cache})")
        if cached.from_cache:
            child = _CHILD.format(model=args.model, cache=cache, threads=args.threads)
            out = subprocess.run([sys.executable, "-c", child], check=True, capture_output=True, text=True)
            seconds = float(out.stdout.strip().splitlines()[-1])
            print(f"{'cached load, fresh process (target < 5 s)':<44s} {seconds:8.2f} s")

        for label in ("first (grammar compile included)", "second (compiled grammar cached)"):
            start = time.perf_counter()
            texts = cached.generate(CHAT, n=args.samples, grammar=GRAMMAR, max_new_tokens=args.max_new_tokens, seed=0)
            seconds = time.perf_counter() - start
            valid = sum(bool(PATTERN.fullmatch(t)) for t in texts)
            print(f"{f'generate n={args.samples} + grammar, {label}':<44s} {seconds:8.2f} s   "
                  f"({valid}/{len(texts)} complete matches)")
        for text in texts[:4]:
            print(f"    {text}")
        del cold, cached


if __name__ == "__main__":
    main()
