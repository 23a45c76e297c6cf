"""``--budget KEY=VALUE,...``: numbers and switches become a :class:`cohortode.Budget`; bad values name the key."""

from __future__ import annotations

import pytest

from cohortode.cli._options import parse_budget
from cohortode.discover import Budget


def test_numbers_and_switches_become_a_budget():
    budget = parse_budget(["rounds=2,top_k=3", "occam=false,occam_odds=50", "wall_time=90.5"])
    assert budget == Budget(rounds=2, top_k=3, occam=False, occam_odds=50.0, wall_time=90.5)
    assert parse_budget(["occam=Yes"]).occam is True
    assert parse_budget([]) is None


@pytest.mark.parametrize("item, message", [("rounds", "KEY=VALUE"), ("rounds=many", "not a number, true or false"),
                                           ("occam_odds=0.5", "occam_odds"), ("colour=3", "colour")])
def test_bad_items_say_what_is_wrong(item, message):
    from cohortode.cli._app import BadInput

    with pytest.raises(BadInput, match=message):
        parse_budget([item])
