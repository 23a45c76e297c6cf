"""Tests of the motif library (blocks, compositions, build) and of mutations."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sympy

from cohortode._errors import CandidateRejected, ModelSpecError
from cohortode.propose._problem import Problem
from cohortode.propose._validate import validate_model
from cohortode.propose.motifs import MUTATIONS, Block, MotifLibrary, default_library, mutate
from cohortode.spec import ODEModel, Prior, parse_expression
from cohortode.spec import symbol as symbol_of

EXPERT = {
    "theophylline": ("first_order_absorption", "one_compartment", "linear_elimination"),
    "synthetic_twocomp_iv": ("iv_bolus", "two_compartment", "linear_elimination"),
    "synthetic_logistic_growth": ("logistic_growth", "no_loss"),
    "synthetic_sir_outbreak": ("sir", "frequency_dependent", "constant_contact"),
}


def _fake(cohort: str, observable: str, times, means, targets=(), durations=None) -> SimpleNamespace:
    obs = pd.DataFrame({"cohort": cohort, "time": np.asarray(times, float), "observable": observable,
                        "mean": np.asarray(means, float), "sd": 0.1, "n": 10})
    dosing = pd.DataFrame({"cohort": cohort, "time": 0.0, "amount": 100.0, "target": list(targets),
                           "duration": list(durations or [0.0] * len(targets))})
    return SimpleNamespace(observations=obs, dosing=dosing, description="", time_unit="", units={})


def _cohort(name: str, fallback: SimpleNamespace):
    try:
        from cohortode.datasets import list_cohorts, load_cohort

        if name in list_cohorts():
            return load_cohort(name)
    except Exception:  # pragma: no cover - the data layer is optional here
        pass
    return fallback


def benchmark_problems() -> dict[str, Problem]:
    t = np.array([0.5, 1, 2, 4, 8, 12, 24.0])
    theo = _cohort("theophylline", _fake("theophylline", "conc", t, [4, 7, 8, 6, 4, 3, 1], ["depot"]))
    iv = _cohort("synthetic_twocomp_iv", _fake("synthetic_twocomp_iv", "conc", t, [6, 4, 2, 1.4, 1, .7, .3],
                                                ["central"]))
    growth = _cohort("synthetic_logistic_growth", _fake("synthetic_logistic_growth", "size", t * 2,
                                                         [60, 110, 300, 800, 1300, 1450, 1500]))
    sir = _cohort("synthetic_sir_outbreak", _fake("synthetic_sir_outbreak", "infected", t, [1, 3, 20, 200, 150, 40, 2]))
    return {
        "theophylline": Problem.from_cohort(theo, name="theophylline", states=["depot", "central"],
                                            observables={"conc": "central/V"}, domain="pk"),
        "synthetic_twocomp_iv": Problem.from_cohort(iv, name="synthetic_twocomp_iv", states=["central"],
                                                    observables={"conc": "central/V1"}),
        "synthetic_logistic_growth": Problem.from_cohort(growth, name="synthetic_logistic_growth", states=["size"],
                                                         observables={"size": "size"}, domain="growth"),
        "synthetic_sir_outbreak": Problem.from_cohort(sir, name="synthetic_sir_outbreak",
                                                      states=[("S", "susceptible"), ("I", "infectious"),
                                                              ("R", "recovered")],
                                                      observables={"infected": "I"}, covariates=("N",),
                                                      initial={"S": "N - 1", "I": "1"}),
    }


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    return benchmark_problems()


@pytest.fixture(scope="module")
def built(problems) -> dict[str, list]:
    lib = default_library()
    return {name: lib.candidates(p) for name, p in problems.items()}


# ---------------------------------------------------------------------------------------------- library
def test_library_has_at_least_25_named_mechanisms_with_one_line_descriptions():
    lib = default_library()
    names = lib.mechanisms()
    assert len(names) >= 25 and len(set(names)) == len(names)
    families = {lib.block(n).family for n in names}
    assert families == {"pk", "pd", "epidemic", "growth", "progression"}
    for n in names:
        b = lib.block(n)
        assert isinstance(b, Block) and re.fullmatch(r"[a-z][a-z0-9_]*", b.name)
        assert "\n" not in b.description and 20 <= len(b.description) <= 200
    required = {"iv_bolus", "zero_order_infusion", "first_order_absorption", "transit_absorption_1",
                "one_compartment", "two_compartment", "three_compartment", "linear_elimination",
                "michaelis_menten_elimination", "linear_plus_michaelis_menten_elimination", "emax_drug_effect",
                "sigmoid_emax_drug_effect", "effect_compartment", "indirect_response_1", "indirect_response_4",
                "si", "sir", "seir", "sirs", "sir_vital_dynamics", "exponential_growth", "logistic_growth",
                "gompertz_growth", "richards_growth", "von_bertalanffy_growth", "linear_progression",
                "exponential_progression", "offset_treatment_effect", "slope_treatment_effect"}
    assert required <= set(names)
    with pytest.raises(KeyError, match="no mechanism block"):
        lib.block("warp_drive")


def test_every_composition_of_the_benchmarks_builds_and_validates(problems, built):
    lib = default_library()
    for name, problem in problems.items():
        comps = lib.compositions(problem)
        assert 9 <= len(comps) <= 40, (name, len(comps))
        cands = built[name]
        assert [c.mechanism for c in cands] == comps
        for cand in cands:
            assert cand.model is not None, cand.reason
            assert cand.source == "motif" and cand.description == lib.describe(cand.mechanism)
            validate_model(cand.model, problem)
            assert set(problem.state_names) <= set(cand.model.states)
            for obs, text in problem.observables.items():
                assert cand.model.observables[obs] == parse_expression(text)


def test_expert_mechanisms_are_offered_and_build_the_textbook_models(problems):
    lib = default_library()
    for name, choice in EXPERT.items():
        assert choice in lib.compositions(problems[name]), name
    expected = {
        "theophylline": ODEModel(["depot", "central"], {"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                                 {"conc": "central/V"}),
        "synthetic_twocomp_iv": ODEModel(["central", "peripheral"],
                                         {"central": "-k10*central - k12*central + k21*peripheral",
                                          "peripheral": "k12*central - k21*peripheral"}, {"conc": "central/V1"}),
        "synthetic_logistic_growth": ODEModel(["size"], {"size": "g*size*(1 - size/cap)"}, {"size": "size"},
                                              initial={"size": "s0"}),
        "synthetic_sir_outbreak": ODEModel(["S", "I", "R"], {"S": "-b*S*I/N", "I": "b*S*I/N - g*I", "R": "g*I"},
                                           {"infected": "I"}, initial={"S": "N - 1", "I": "1"}, covariates=["N"]),
    }
    for name, model in expected.items():
        assert lib.build(problems[name], EXPERT[name]).structure_hash == model.structure_hash, name


def test_dose_target_decides_the_input_blocks(problems):
    lib = default_library()
    oral = {b.name for b in lib.categories(problems["theophylline"])["absorption"]}
    iv = {b.name for b in lib.categories(problems["synthetic_twocomp_iv"])["absorption"]}
    assert oral == {"first_order_absorption", "transit_absorption_1", "transit_absorption_3"}
    assert iv == {"iv_bolus"}
    infusion = Problem("inf", ["central"], {"conc": "central/V"},
                       data=_fake("a", "conc", [1, 2], [1, 1], ["central"], [2.0]))
    assert [b.name for b in lib.categories(infusion)["absorption"]] == ["zero_order_infusion"]
    # the growth and epidemic problems are not PK problems
    assert "absorption" not in lib.categories(problems["synthetic_logistic_growth"])
    assert set(lib.categories(problems["synthetic_sir_outbreak"])) == {"compartments", "transmission", "contact"}


def test_added_states_use_conventional_names(problems):
    lib = default_library()
    m = lib.build(problems["theophylline"], ("transit_absorption_3", "three_compartment", "linear_elimination"))
    assert m.states == ("depot", "central", "transit1", "transit2", "transit3", "peripheral", "peripheral2")
    assert {"ka", "ktr", "k12", "k21", "k13", "k31", "ke", "V"} == set(m.parameter_names)
    mm = lib.build(problems["theophylline"], ("first_order_absorption", "one_compartment",
                                              "michaelis_menten_elimination"))
    assert "Vmax*central/(Km + central)" in mm.equations()[1]
    seir = lib.build(problems["synthetic_sir_outbreak"], ("seir", "density_dependent", "declining_contact"))
    assert seir.states == ("S", "I", "R", "E") and "sigma" in seir.parameter_names and "q" in seir.parameter_names
    assert seir.initial["S"] != 0 and str(seir.observables["infected"]) == "I"


def test_structures_must_fit_the_problem_states(problems):
    lib = default_library()
    sir_names = {c[0] for c in lib.compositions(problems["synthetic_sir_outbreak"])}
    assert sir_names == {"sir", "sirs", "seir", "seirs", "sir_vital_dynamics"}  # SI/SIS would drop R
    si = Problem("si", ["S", "I"], {"cases": "I"})
    assert {"si", "sis", "sir"} <= {c[0] for c in lib.compositions(si)}
    model = lib.build(si, ("sir", "frequency_dependent", "constant_contact"))
    assert "R" in model.states and "S + I + R" in " ".join(model.equations()).replace("I + R + S", "S + I + R")
    peripheral = Problem("iv2", ["central", "peripheral"], {"conc": "central/V"},
                         data=_fake("a", "conc", [1, 2], [1, 1], ["central"]))
    dists = {c[1] for c in lib.compositions(peripheral)}
    assert "one_compartment" not in dists and "two_compartment" in dists
    assert lib.compositions(Problem("odd", ["x", "y"], {"o": "x + y"})) == []


def test_pd_progression_and_growth_families_compose():
    lib = default_library()
    pd_problem = Problem("pd", ["depot", "central", "response"], {"conc": "central/V", "effect": "response"},
                         data=_fake("a", "conc", [1, 2], [1, 1], ["depot"]))
    comps = lib.compositions(pd_problem)
    assert 10 <= len(comps) <= 40
    assert ("first_order_absorption", "one_compartment", "linear_drug_effect", "indirect_response_1") not in comps
    m = lib.build(pd_problem, ("first_order_absorption", "one_compartment", "emax_drug_effect", "indirect_response_3"))
    validate_model(m, pd_problem)
    assert "kin" in m.parameter_names and str(m.initial["response"]) == "kin/kout"
    # partial inhibition: a fraction Imax of an inhibited process, uniform on (0, 1) and with no log-normal spread
    partial = ("first_order_absorption", "one_compartment", "partial_inhibition_drug_effect", "indirect_response_1")
    assert partial in comps
    assert ("first_order_absorption", "one_compartment", "partial_inhibition_drug_effect",
            "indirect_response_3") not in comps
    imax = lib.build(pd_problem, partial).parameter("Imax")
    assert imax.prior == Prior.uniform(0.0, 1.0) and imax.iiv is False
    prog = Problem("prog", ["score"], {"adas": "score"}, covariates=("treatment",), domain="progression")
    pcomps = lib.compositions(prog)
    assert ("linear_progression", "slope_treatment_effect") in pcomps
    offset = lib.build(prog, ("linear_progression", "offset_treatment_effect"))
    assert "treatment" in str(offset.observables["adas"])
    no_trt = Problem("prog0", ["score"], {"adas": "score"}, domain="progression")
    assert {c[1] for c in lib.compositions(no_trt)} == {"no_treatment_effect"}
    for problem in (pd_problem, prog):
        for cand in lib.candidates(problem):
            validate_model(cand.model, problem)


def test_build_rejects_choices_that_do_not_fit(problems):
    lib = default_library()
    with pytest.raises(ModelSpecError, match="not a fitting absorption block"):
        lib.build(problems["synthetic_twocomp_iv"], ("first_order_absorption", "one_compartment",
                                                     "linear_elimination"))
    with pytest.raises(ModelSpecError, match="takes 3 blocks"):
        lib.build(problems["theophylline"], ("logistic_growth", "no_loss"))
    assert "one compartment" in lib.describe(EXPERT["theophylline"])
    assert "logistic_growth:" in lib.menu(problems["synthetic_logistic_growth"])


def test_library_with_selected_families(problems):
    from cohortode.propose.motifs._growth import GrowthFamily

    lib = MotifLibrary([GrowthFamily()])
    assert lib.compositions(problems["theophylline"]) == []
    assert EXPERT["synthetic_logistic_growth"] in lib.compositions(problems["synthetic_logistic_growth"])


# ---------------------------------------------------------------------------------------------- mutations
def test_mutations_produce_valid_new_structures(problems):
    lib = default_library()
    for name, problem in problems.items():
        parent = lib.build(problem, EXPERT[name])
        mutants = mutate(parent, problem, np.random.default_rng(3), n=4)
        # a logistic growth law has one applicable operator (an added loss): no linear term to saturate, no bare
        # self-growth to cap, and a peripheral compartment is offered to PK and PD structures only
        assert len(mutants) >= (1 if "growth" in name else 2), name
        hashes = {m.structure_hash for m in mutants}
        assert len(hashes) == len(mutants) and parent.structure_hash not in hashes
        for m in mutants:
            validate_model(m, problem)
            assert m.description


def test_each_mutation_operator(problems):
    problem = problems["theophylline"]
    parent = default_library().build(problem, EXPERT["theophylline"])
    rng = np.random.default_rng(0)
    saturable = mutate(parent, problem, rng, n=3, operators=("saturable",))
    eqs = [" ".join(m.equations()) for m in saturable]
    assert any("Vmax*central/(Km + central)" in e and "ke" not in e for e in eqs)
    compartment = mutate(parent, problem, rng, n=1, operators=("add_compartment",))[0]
    assert compartment.states[-1] == "peripheral" and {"k12", "k21"} <= set(compartment.parameter_names)
    removed = mutate(parent, problem, rng, n=2, operators=("remove_term",))
    assert removed and all(len(m.parameters) < len(parent.parameters) for m in removed)
    added = mutate(parent, problem, rng, n=2, operators=("add_loss", "add_flow"))
    assert added and all(len(m.parameters) > len(parent.parameters) for m in added)
    assert set(MUTATIONS) == {"add_loss", "add_flow", "remove_term", "saturable", "add_saturable_loss", "capacity",
                              "sigmoid", "linear_kinetics", "move_saturation", "saturating_mass_action", "add_compartment"}
    # theophylline has no self-growth term (ka*depot enters central, it is not central's own growth)
    assert mutate(parent, problem, rng, n=1, operators=("capacity",)) == []


def test_mass_action_saturates_at_both_ends_of_the_flow(problems):
    problem = problems["synthetic_sir_outbreak"]
    parent = default_library().build(problem, EXPERT["synthetic_sir_outbreak"])
    mutants = mutate(parent, problem, np.random.default_rng(0), n=2, operators=("saturating_mass_action",))
    assert len(mutants) == 2
    s, i = (symbol_of(n) for n in ("S", "I"))
    for m in mutants:
        assert "saturating in" in m.description and "a" in m.parameter_names
        # mass is kept: what leaves S enters I
        assert sympy.simplify(m.rhs["S"] + m.rhs["I"] - parent.rhs["S"] - parent.rhs["I"]) == 0
        assert m.rhs["S"] != parent.rhs["S"]
    assert {str(sorted(m.rhs["S"].as_numer_denom()[1].free_symbols & {s, i}, key=str)) for m in mutants} == {
        "[S]", "[I]"}


def test_mass_action_saturates_in_the_catalyst_first(problems):
    """Saturating incidence ``beta*S*I/(1 + a*I)`` (Capasso and Serio 1978) is the first variant offered."""
    problem = problems["synthetic_sir_outbreak"]
    parent = default_library().build(problem, EXPERT["synthetic_sir_outbreak"])
    (first,) = mutate(parent, problem, np.random.default_rng(5), n=1, operators=("saturating_mass_action",))
    assert "saturating in I" in first.description
    # and in an epidemic, saturating incidence is among the first two mutations, whatever the seed
    epidemic = dataclasses.replace(problem, domain="epidemic")
    for seed in range(4):
        two = mutate(parent, epidemic, np.random.default_rng(seed), n=2)
        assert any("saturating in I" in m.description for m in two), seed


def test_an_incidence_that_saturates_already_is_not_saturated_again(problems):
    problem = problems["synthetic_sir_outbreak"]
    parent = default_library().build(problem, EXPERT["synthetic_sir_outbreak"])
    (once,) = mutate(parent, problem, np.random.default_rng(0), n=1, operators=("saturating_mass_action",))
    assert mutate(once, problem, np.random.default_rng(0), n=2, operators=("saturating_mass_action",)) == []


def test_domain_priorities_order_the_mutations(problems):
    """A one-compartment oral PK structure is first extended by saturable elimination and a peripheral compartment,
    then by saturable absorption; a growth law first by a capacity or a saturable kill."""
    problem = problems["theophylline"]
    parent = default_library().build(problem, EXPERT["theophylline"])
    for seed in range(3):
        first = mutate(parent, problem, np.random.default_rng(seed), n=3)
        texts = [" ".join(m.equations()) for m in first]
        assert any("Vmax*central/(Km + central)" in t for t in texts[:2]), texts
        assert any("peripheral" in t for t in texts[:2]), texts
        assert "Vmax*depot/(Km + depot)" in texts[2], texts
    growth = problems["synthetic_logistic_growth"]
    exponential = default_library().build(growth, ("exponential_growth", "no_loss"))
    two = mutate(exponential, growth, np.random.default_rng(0), n=2)
    assert {m.description.split(":")[0].split(" ")[0] for m in two} == {"self-growth", "added"}
    # without priorities (random search) the operators are drawn in a random order
    orders = {tuple(m.description.split(" ")[0] for m in mutate(parent, problem, np.random.default_rng(s), n=3,
                                                                prioritise=False)) for s in range(6)}
    assert len(orders) > 1


def test_saturable_loss_makes_a_saturable_kill(problems):
    growth = problems["synthetic_logistic_growth"]
    exponential = default_library().build(growth, ("exponential_growth", "no_loss"))
    (killed,) = mutate(exponential, growth, np.random.default_rng(0), n=1, operators=("add_saturable_loss",))
    (x,) = (symbol_of(s) for s in exponential.states)
    vmax, km = symbol_of("Vmax"), symbol_of("Km")
    assert sympy.simplify(killed.rhs[x.name] - exponential.rhs[x.name] + vmax * x / (km + x)) == 0
    # a state that already has a saturable loss gets no second one
    assert mutate(killed, growth, np.random.default_rng(0), n=1, operators=("add_saturable_loss",)) == []


def test_no_peripheral_compartment_outside_pharmacokinetics(problems):
    for name in ("synthetic_logistic_growth", "synthetic_sir_outbreak"):
        problem = problems[name]
        parent = default_library().build(problem, EXPERT[name])
        assert mutate(parent, problem, np.random.default_rng(0), n=2, operators=("add_compartment",)) == []


def test_capacity_turns_exponential_into_logistic_growth(problems):
    problem = problems["synthetic_logistic_growth"]
    parent = default_library().build(problem, ("exponential_growth", "no_loss"))
    (limited,) = mutate(parent, problem, np.random.default_rng(0), n=1, operators=("capacity",))
    logistic = default_library().build(problem, ("logistic_growth", "no_loss"))
    assert limited.structure_hash == logistic.structure_hash
    assert "capacity K" in limited.description


def test_mutate_is_seeded_and_checks_its_arguments(problems):
    problem = problems["synthetic_sir_outbreak"]
    parent = default_library().build(problem, EXPERT["synthetic_sir_outbreak"])
    a = mutate(parent, problem, np.random.default_rng(7), n=3)
    b = mutate(parent, problem, np.random.default_rng(7), n=3)
    assert [m.structure_hash for m in a] == [m.structure_hash for m in b]
    excluded = mutate(parent, problem, np.random.default_rng(7), n=3, exclude={m.structure_hash for m in a})
    assert not {m.structure_hash for m in excluded} & {m.structure_hash for m in a}
    with pytest.raises(TypeError, match="Generator"):
        mutate(parent, problem, 7, n=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mutation"):
        mutate(parent, problem, np.random.default_rng(0), operators=("explode",))


def test_invalid_mutants_are_skipped(problems):
    problem = problems["theophylline"]
    model = default_library().build(problem, EXPERT["theophylline"])
    for m in mutate(model, problem, np.random.default_rng(11), n=6, operators=("remove_term",)):
        try:
            validate_model(m, problem)
        except CandidateRejected as exc:  # pragma: no cover - would be a bug
            pytest.fail(f"invalid mutant returned: {exc}")


def test_shared_benchmark_problems_offer_their_expert_mechanism():
    bench = pytest.importorskip("cohortode.propose._benchmark_problems")
    lib = default_library()
    for b in bench.benchmark_problems(with_data=False):
        comps = lib.compositions(b.problem)
        assert b.expert in comps and 9 <= len(comps) <= 40, b.name


def test_saturable_kinetics_prefer_elimination_then_absorption_then_distribution(problems):
    problem = problems["theophylline"]
    two = default_library().build(problem, ("first_order_absorption", "two_compartment", "linear_elimination"))
    texts = [" ".join(m.equations()) for m in mutate(two, problem, np.random.default_rng(0), n=4,
                                                     operators=("saturable",))]
    assert len(texts) == 4  # ka*depot, ke*central, k12*central, k21*peripheral
    assert "Vmax*central/(Km + central)" in texts[0] and "ke" not in texts[0]
    assert "Vmax*depot/(Km + depot)" in texts[1]
    # the flows between central and peripheral come last
    assert all("k12" not in t or "k21" not in t for t in texts[2:])
    # an operator whose first variant was tried already gives its next one in its turn
    tried = mutate(two, problem, np.random.default_rng(0), n=1, operators=("saturable",))
    (nxt,) = mutate(two, problem, np.random.default_rng(0), n=1, operators=("saturable",),
                    exclude={tried[0].structure_hash})
    assert "Vmax*depot/(Km + depot)" in " ".join(nxt.equations())


def test_sigmoid_turns_an_asymptotic_progression_into_a_logistic_one():
    """``k*(Smax - x)`` -> ``k*x*(1 - x/Smax)``: in a progression problem it is among the first two mutations of the
    asymptotic structure, whatever the seed, and it is the logistic law of the recovery suite up to renaming."""
    t = np.array([0, 6, 12, 18, 24, 30, 36, 48.0])
    cohort = _fake("progression", "score", t, [5, 9, 16, 27, 41, 55, 65, 75])
    problem = Problem.from_cohort(cohort, name="progression", states=["score"], observables={"score": "score"},
                                  domain="progression")
    lib = default_library()
    asymptotic = lib.build(problem, ("asymptotic_progression", "no_treatment_effect"))
    (sigmoid,) = mutate(asymptotic, problem, np.random.default_rng(0), n=1, operators=("sigmoid",))
    truth = ODEModel(("score",), {"score": "a*score*(1 - score/smax)"}, {"score": "score"}, None,
                     {"score": "score0"})
    assert sigmoid.structure_hash == truth.structure_hash
    assert "plateau Smax became sigmoid" in sigmoid.description
    for seed in range(4):
        two = mutate(asymptotic, problem, np.random.default_rng(seed), n=2)
        assert any(m.structure_hash == truth.structure_hash for m in two), seed
    # a constant rate has no plateau, and a state that starts at 0 would stay there
    linear = lib.build(problem, ("linear_progression", "no_treatment_effect"))
    assert mutate(linear, problem, np.random.default_rng(0), n=1, operators=("sigmoid",)) == []
    from_zero = ODEModel(("score",), {"score": "k*(Smax - score)"}, {"score": "score"})
    assert mutate(from_zero, problem, np.random.default_rng(0), n=1, operators=("sigmoid",)) == []


def test_linear_kinetics_undo_a_saturation_at_both_ends_of_a_flow(problems):
    """``Vmax*x/(Km + x)`` -> ``k*x``: a two-compartment structure with Michaelis-Menten elimination becomes the linear
    two-compartment one; a saturable absorption becomes first order in the depot and in the central state alike; and
    in PK it is among the first mutations of a structure with saturable elimination, whatever the seed."""
    problem = problems["theophylline"]
    parent = default_library().build(problem, EXPERT["theophylline"])
    (compartment,) = mutate(parent, problem, np.random.default_rng(0), n=1, operators=("add_compartment",))
    # the first saturation of linear kinetics is the elimination of the observed state
    (saturated,) = mutate(compartment, problem, np.random.default_rng(0), n=1, operators=("saturable",))
    assert "Vmax" in str(saturated.rhs["central"]) and "Vmax" not in str(saturated.rhs["peripheral"])
    (linear,) = mutate(saturated, problem, np.random.default_rng(0), n=1, operators=("linear_kinetics",))
    assert linear.structure_hash == compartment.structure_hash
    assert "saturable -> linear kinetics" in linear.description
    for seed in range(4):
        three = mutate(saturated, problem, np.random.default_rng(seed), n=3)
        assert compartment.structure_hash in {m.structure_hash for m in three}, seed
    (absorption,) = [m for m in mutate(parent, problem, np.random.default_rng(0), n=4, operators=("saturable",))
                     if "Km + depot" in " ".join(m.equations())]
    (back,) = mutate(absorption, problem, np.random.default_rng(0), n=1, operators=("linear_kinetics",))
    assert back.structure_hash == parent.structure_hash
    assert sympy.simplify(back.rhs["depot"] + back.rhs["central"] - parent.rhs["depot"] - parent.rhs["central"]) == 0
    assert mutate(parent, problem, np.random.default_rng(0), n=1, operators=("linear_kinetics",)) == []


def test_saturation_moves_from_elimination_to_absorption(problems):
    """One compartment with Michaelis-Menten elimination -> saturable absorption with first-order elimination (the
    recovery suite's truth, up to renaming), the saturation's other target in PK order."""
    problem = problems["theophylline"]
    lib = default_library()
    parent = lib.build(problem, EXPERT["theophylline"])
    (mm,) = mutate(parent, problem, np.random.default_rng(0), n=1, operators=("saturable",))
    moved = mutate(mm, problem, np.random.default_rng(0), n=3, operators=("move_saturation",))
    truth = ODEModel(("depot", "central"), {"depot": "-Vabs*depot/(Kabs + depot)",
                                            "central": "Vabs*depot/(Kabs + depot) - ke*central"},
                     {"conc": "central/V"})
    assert moved[0].structure_hash == truth.structure_hash
    assert moved[0].description.startswith("saturation moved: Vmax*central/(Km + central) became central*ke")
    assert mutate(parent, problem, np.random.default_rng(0), n=1, operators=("move_saturation",)) == []
