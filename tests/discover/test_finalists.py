"""Which screened structures get a NUTS fit: Occam's window, then the best ``top_k`` and those within the margin."""

from __future__ import annotations

import pytest

from cohortode.discover import Budget
from cohortode.discover._loop import occams_window
from cohortode.discover._screen import ScreenResult


def _screen(name: str, n_parameters: int, elpd: float) -> ScreenResult:
    return ScreenResult(name, "scored", elpd_loo=elpd, n_parameters=n_parameters)


def test_occams_window_drops_structures_that_a_simpler_one_beats():
    # the theophylline screen of one discovery run (approximate elpd, structural parameters), best first
    scored = [_screen("transit3", 4, -10.59), _screen("linear+mm", 5, -11.02), _screen("3cpt+mm", 9, -11.36),
              _screen("transit1+mm", 5, -11.57), _screen("transit1", 4, -11.59), _screen("1cpt", 3, -11.86),
              _screen("mm", 4, -12.01), _screen("2cpt", 5, -12.05)]
    kept = [s.structure_hash for s in occams_window(scored)]
    # every 5-parameter structure loses to transit3 (4); transit1 ties transit3 on parameters; mm loses to 1cpt
    assert kept == ["transit3", "transit1", "1cpt"]


def test_occams_window_keeps_a_bigger_structure_that_predicts_better():
    scored = [_screen("2cpt", 5, -3.0), _screen("1cpt", 3, -8.0), _screen("1cpt+mm", 4, -9.0)]
    assert [s.structure_hash for s in occams_window(scored)] == ["2cpt", "1cpt"]
    assert occams_window([]) == []


def test_budget_checks_occam():
    assert Budget().occam is True
    with pytest.raises(ValueError, match="occam"):
        Budget(occam="yes")
