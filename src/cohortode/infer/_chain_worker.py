"""``python -m cohortode.infer._chain_worker IN OUT``: run one NUTS chain (see ``_chains``).

Reads a pickled payload from ``IN`` and writes the pickled :class:`~cohortode.infer._chains.ChainResult` to ``OUT``
(through a temporary name, so a half-written file is never read). Kept apart from ``_chains``, which the package
imports, so that running it as ``__main__`` does not load it twice.
"""

from __future__ import annotations

import os
import pickle
import sys


def main(argv: list[str]) -> int:
    """Run the chain described in ``argv[0]`` and store its result in ``argv[1]``."""
    import cohortode  # noqa: F401  (float64, persistent compilation cache, equinox settings)
    from cohortode.infer._chains import _worker

    with open(argv[0], "rb") as fh:
        payload = pickle.load(fh)
    result = _worker(payload)
    with open(argv[1] + ".part", "wb") as fh:
        pickle.dump(result, fh)
    os.replace(argv[1] + ".part", argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
