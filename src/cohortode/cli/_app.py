"""The typer application, the shared options and the error handling of every subcommand.

Exit codes: 0 success, 1 a run that failed (a fit that crashed, a batch with failed cohorts), 2 bad input (a
malformed cohort file, a missing model file, a wrong option). Errors are one line without a traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

__all__ = ["app", "console", "err_console", "command", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "RunFailed",
           "BadInput", "state"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="cohortode",
    help="Bayesian ODE discovery from aggregate small-cohort data (per time point: mean, SD, n).",
    epilog="Example:  cohortode validate cohorts/theophylline -m cohorts/theophylline/model_onecomp_oral.toml",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Settings of the current invocation (reset by :func:`cohortode.cli.main`).
state: dict[str, Any] = {"debug": False}

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class RunFailed(Exception):
    """A run that did not succeed although its input was valid (exit code 1)."""


class BadInput(Exception):
    """Input the CLI itself rejects (exit code 2)."""


def _is_bad_input(exc: BaseException) -> bool:
    from .. import _errors
    from .._errors import CohortodeError, LLMBackendError

    # a backend that could not be loaded or reached, a structure that could not be fitted: the run failed
    if isinstance(exc, LLMBackendError | getattr(_errors, "FitError", LLMBackendError)):
        return False
    return isinstance(exc, CohortodeError | BadInput | FileNotFoundError | IsADirectoryError | NotADirectoryError)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def command(name: str, *, example: str, help: str) -> Callable:
    """Register a subcommand: ``--help`` ends with ``example``; errors become one line and an exit code."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                code = func(*args, **kwargs)
            except typer.Exit:
                raise
            except KeyboardInterrupt:
                err_console.print(f"cohortode {name}: interrupted")
                raise typer.Exit(130) from None
            except Exception as exc:  # noqa: BLE001 - every error ends as one line and an exit code
                if state["debug"]:
                    raise
                from .._errors import CohortodeError

                bad = _is_bad_input(exc)
                expected = bad or isinstance(exc, RunFailed | CohortodeError)  # messages written for the user
                kind = "error" if expected else f"error ({type(exc).__name__})"
                print(f"cohortode {name}: {kind}: {_one_line(exc)}", file=sys.stderr)
                if not expected:
                    print("  (run again with --debug for the traceback)", file=sys.stderr)
                raise typer.Exit(EXIT_BAD_INPUT if bad else EXIT_FAILED) from None
            raise typer.Exit(int(code or 0))

        epilog = f"Example:  {example}"
        return app.command(name, help=help, epilog=epilog)(wrapper)

    return decorate


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show full tracebacks instead of one-line errors"),
) -> None:
    """Bayesian ODE discovery from aggregate small-cohort data (per time point: mean, SD, n).

    Example:  cohortode validate cohorts/theophylline --model cohorts/theophylline/model_onecomp_oral.toml
    """
    state["debug"] = debug
