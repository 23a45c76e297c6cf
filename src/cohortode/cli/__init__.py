"""The ``cohortode`` command line (typer): one module per subcommand.

``validate``, ``fit``, ``propose``, ``discover``, ``compare``, ``report``, ``batch``, ``demo``. Exit codes: 0 done, 1
a run that failed, 2 bad input. Errors are one line without a traceback unless ``--debug``.
"""

from __future__ import annotations

import os
import sys

from . import batch as _batch  # noqa: F401 - registers the subcommand
from . import compare as _compare  # noqa: F401
from . import demo as _demo  # noqa: F401
from . import discover as _discover  # noqa: F401
from . import fit as _fit  # noqa: F401
from . import propose as _propose  # noqa: F401
from . import report as _report  # noqa: F401
from . import validate as _validate  # noqa: F401
from ._app import EXIT_BAD_INPUT, app, state

try:  # typer >= 0.20 vendors click as typer._click; older versions use click itself
    from typer._click import exceptions as _click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as _click_exceptions

_Abort = getattr(_click_exceptions, "Abort", KeyboardInterrupt)

__all__ = ["main", "app"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cohortode`` command; returns the exit code (usage errors exit with 2)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    state["debug"] = False
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args, prog_name="cohortode", standalone_mode=False)
    except _click_exceptions.UsageError as exc:
        exc.show()
        raise SystemExit(EXIT_BAD_INPUT) from None
    except _Abort:
        print("Aborted.", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
