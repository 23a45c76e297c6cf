"""The one-standard-error rule: a structure with more parameters that predicts no better than a simpler one
is left out of the weights; one that predicts clearly better is kept."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cohortode.compare import PARSIMONY_FLOOR, Comparison, elpd_difference, parsimony_exclusions


def _comparison(pointwise: dict[str, np.ndarray], sizes: dict[str, int]) -> Comparison:
    loos = {}
    for name, values in pointwise.items():
        pointwise_terms = xr.DataArray(values, dims=["row"])
        pareto_k = xr.DataArray(np.zeros_like(values), dims=["row"])
        loos[name] = az.ELPDData(data=[float(values.sum()), 0.0, 0.0, len(values), 1000, False, pointwise_terms,
                                       pareto_k, "log"],
                                 index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i",
                                        "pareto_k", "scale"])
    table = pd.DataFrame({"name": list(pointwise), "n_parameters": [sizes[n] for n in pointwise],
                          "elpd_loo": [float(v.sum()) for v in pointwise.values()]})
    return Comparison(table, {}, loos)


def test_difference_and_its_standard_error_follow_arviz():
    rng = np.random.default_rng(0)
    a, b = rng.normal(-1, 0.5, 12), rng.normal(-1.1, 0.5, 12)
    comp = _comparison({"a": a, "b": b}, {"a": 3, "b": 4})
    diff, se = elpd_difference(comp, "a", "b")
    assert diff == pytest.approx(float((a - b).sum()))
    assert se == pytest.approx(float(np.sqrt(12 * np.var(a - b))))


def test_a_richer_structure_within_one_se_is_left_out_and_a_clearly_better_one_is_kept():
    rng = np.random.default_rng(1)
    simple = rng.normal(-1.0, 0.3, 12)
    close = simple + rng.normal(0.05, 0.3, 12)  # a little better on average, well within its SE
    clear = simple + 1.0 + rng.normal(0, 0.05, 12)  # better on every row
    comp = _comparison({"simple": simple, "close": close, "clear": clear}, {"simple": 8, "close": 10, "clear": 10})
    out = parsimony_exclusions(comp)
    assert list(out) == ["close"]
    assert "predicts no better than simple (8 parameters against 10)" in out["close"]


def test_the_simplest_structures_always_remain_and_worse_richer_ones_go():
    rng = np.random.default_rng(2)
    simple = rng.normal(-1.0, 0.3, 10)
    same_size = simple - 2.0  # clearly worse, but not richer: kept (the rule is about parameters)
    worse_richer = simple - 0.5
    comp = _comparison({"simple": simple, "same": same_size, "richer": worse_richer},
                       {"simple": 5, "same": 5, "richer": 6})
    assert parsimony_exclusions(comp) == {"richer": parsimony_exclusions(comp)["richer"]}
    assert parsimony_exclusions(_comparison({"only": simple}, {"only": 5})) == {}



def test_discovery_comparison_leaves_out_the_richer_structure_on_the_one_compartment_cohort():
    """Real (screening Laplace) fits of the synthetic one-compartment cohort: a two-compartment alternative predicts
    no better than the truth, so with the rule the truth gets all the weight and the other keeps its row with weight
    0 and a reason; without the rule both are weighed."""
    import cohortode as co
    from cohortode.discover._finalize import compare_final

    data = co.load_cohort("synthetic_onecomp_oral")
    one = co.ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                      observables={"conc": "central/V"})
    two = co.ODEModel(states=["depot", "central", "periph"],
                      rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central - k12*central + k21*periph",
                           "periph": "k12*central - k21*periph"}, observables={"conc": "central/V"})
    fits = {name: co.fit(model, data, "laplace", error="proportional", laplace_draws_n=400, n_starts=2, seed=0,
                         warn=False, screening=True) for name, model in (("onecomp", one), ("twocomp", two))}
    table, ensemble = compare_final(fits, parsimony=True)
    rows = table.set_index("name")
    assert rows.loc["onecomp", "weight_stacking"] == pytest.approx(1.0)
    assert rows.loc["onecomp", "left_out"] == ""
    assert rows.loc["twocomp", "weight_stacking"] == 0.0 and rows.loc["twocomp", "weight_pseudo_bma"] == 0.0
    assert rows.loc["twocomp", "left_out"].startswith("predicts no better than onecomp")
    assert [m.name for m in ensemble.members] == ["onecomp"]
    weighed, _ = compare_final(fits, parsimony=False)
    assert (weighed["left_out"] == "").all() and weighed["weight_pseudo_bma"].gt(0).all()


def test_a_richer_structure_better_by_less_than_the_floor_is_left_out_even_with_a_small_standard_error():
    """Near-identical predictions have a small standard error of their difference too: a richer structure better by
    0.4 on the sum, with a standard error of 0.1, is left out by the floor and kept by the plain rule."""
    rng = np.random.default_rng(3)
    simple = rng.normal(-1.0, 0.3, 12)
    steady = simple + 0.4 / 12 + rng.normal(0, 0.01, 12)
    comp = _comparison({"simple": simple, "steady": steady}, {"simple": 8, "steady": 10})
    diff, se = elpd_difference(comp, "steady", "simple")
    assert 0.3 < diff < 0.5 and se < 0.2
    out = parsimony_exclusions(comp)
    assert list(out) == ["steady"] and "not above 2" in out["steady"]
    assert parsimony_exclusions(comp, min_difference=0.0) == {}


def test_the_default_floor_is_two_and_a_gain_between_one_and_two_is_left_out():
    """Theophylline's case: transit absorption beat one compartment by 1.21 with a standard error of 0.83. The
    default floor (2) leaves such a gain out; a floor of 1 kept it; a gain above 2 and above its standard error stays."""
    rng = np.random.default_rng(4)
    simple = rng.normal(-1.2, 0.5, 11)
    noise = rng.normal(0.0, 0.2, 11)
    delayed = simple + 1.2 / 11 + noise - noise.mean()
    clear = simple + 2.6 / 11 + noise - noise.mean()
    comp = _comparison({"simple": simple, "delayed": delayed}, {"simple": 8, "delayed": 10})
    diff, se = elpd_difference(comp, "delayed", "simple")
    assert diff == pytest.approx(1.2) and se < 1.0  # the floor, not the standard error, decides
    assert PARSIMONY_FLOOR == 2.0
    assert list(parsimony_exclusions(comp)) == ["delayed"]
    assert parsimony_exclusions(comp, min_difference=1.0) == {}
    kept = _comparison({"simple": simple, "clear": clear}, {"simple": 8, "clear": 10})
    assert elpd_difference(kept, "clear", "simple")[0] == pytest.approx(2.6)
    assert parsimony_exclusions(kept) == {}
