"""Third-party notices that carry nothing for a cohortode user, filtered narrowly (by message and module).

Only notices listed here are hidden, each where it is raised; every other warning of every package still shows.
"""

from __future__ import annotations

import warnings

__all__ = ["import_arviz"]

ARVIZ_REFACTOR_NOTICE = r"\s*ArviZ is undergoing a major refactor"
"""arviz 0.23 prints this FutureWarning at its first import each day; cohortode pins arviz 0.23 (arviz 1.x needs
Python >= 3.12), so the announced changes do not reach its users."""


def import_arviz() -> None:
    """Import arviz once, without its daily refactor notice."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ARVIZ_REFACTOR_NOTICE, category=FutureWarning, module="arviz")
        import arviz  # noqa: F401
