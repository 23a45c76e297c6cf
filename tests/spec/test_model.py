"""Tests of ODEModel: construction, validation, canonical form, complexity, LaTeX, TOML, linearity, default priors."""

from __future__ import annotations

import math
import pickle

import pytest
import sympy

from cohortode import ModelSpecError, ODEModel, Parameter, Prior
from cohortode.spec import DataScales, default_priors, resolve_priors, symbol

# Default priors round their medians to 4 significant digits.
PRIOR_MEDIAN_RTOL = 1e-3

ONECOMP_RHS = {"depot": "-ka*depot", "central": "ka*depot - ke*central"}
ONECOMP_OBS = {"conc": "central/V"}


def onecomp(**kwargs) -> ODEModel:
    args = dict(states=["depot", "central"], rhs=ONECOMP_RHS, observables=ONECOMP_OBS)
    args.update(kwargs)
    return ODEModel(**args)


def michaelis_menten(**kwargs) -> ODEModel:
    args = dict(states=["depot", "central"],
                rhs={"depot": "-ka*depot", "central": "ka*depot - Vmax*central/(Km + central)"},
                observables={"conc": "central/V"})
    args.update(kwargs)
    return ODEModel(**args)


# ------------------------------------------------------------------------------------------------ building
def test_build_from_strings():
    m = onecomp()
    depot, central, ka, ke, V = (symbol(n) for n in ("depot", "central", "ka", "ke", "V"))
    assert m.states == ("depot", "central")
    assert m.parameter_names == ("V", "ka", "ke")
    assert m.rhs["depot"] == -ka * depot
    assert m.rhs["central"] == ka * depot - ke * central
    assert m.observables["conc"] == central / V
    assert m.initial == {"depot": 0, "central": 0}
    assert m.observable_names == ("conc",)


def test_build_from_sympy_objects_equals_build_from_strings():
    # Symbols with assumptions are replaced by plain ones, so both routes give equal models.
    depot, central = sympy.symbols("depot central")
    ka, ke, V = sympy.symbols("ka ke V", positive=True)
    m = ODEModel(states=["depot", "central"], rhs={"depot": -ka * depot, "central": ka * depot - ke * central},
                 observables={"conc": central / V})
    assert m == onecomp()
    assert m.parameter_names == ("V", "ka", "ke")


def test_initial_values_and_explicit_parameters():
    m = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": "A0"},
                 parameters=[Parameter("k", iiv=False), "A0"])
    assert m.parameter_names == ("k", "A0")
    assert m.initial["x"] == symbol("A0")
    assert m.parameter("k").iiv_fixed == 0.0
    assert m.parameter("A0").iiv_estimated
    numeric = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": 5})
    assert numeric.initial["x"] == 5


def test_covariates_are_known_symbols_not_parameters():
    m = ODEModel(states=["x"], rhs={"x": "-k*WT*x"}, observables={"y": "x"}, covariates=["WT"])
    assert m.parameter_names == ("k",)
    assert m.covariates == ("WT",)


# ------------------------------------------------------------------------------------------------ validation
def test_unknown_symbol_in_rhs_is_named():
    with pytest.raises(ModelSpecError, match="'q'"):
        onecomp(rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central + q"}, parameters=["ka", "ke", "V"])


def test_unknown_symbol_in_observable_is_named():
    with pytest.raises(ModelSpecError, match="'Vc'"):
        onecomp(observables={"conc": "central/Vc"}, parameters=["ka", "ke", "V"])


def test_unknown_symbol_in_sympy_expression_is_named():
    x, k, V = sympy.symbols("x k V")
    with pytest.raises(ModelSpecError, match="'V'"):
        ODEModel(states=["x"], rhs={"x": -k * x}, observables={"y": x / V}, parameters=["k"])


def test_unknown_symbol_in_initial_value_is_named():
    with pytest.raises(ModelSpecError, match="'D0'"):
        ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": "D0"}, parameters=["k"])


def test_missing_rhs():
    with pytest.raises(ModelSpecError, match="central"):
        onecomp(rhs={"depot": "-ka*depot"})


def test_rhs_for_unknown_state():
    with pytest.raises(ModelSpecError, match="periph"):
        onecomp(rhs={**ONECOMP_RHS, "periph": "-ke*central"})


def test_unused_parameter():
    with pytest.raises(ModelSpecError, match="'unused'"):
        onecomp(parameters=["ka", "ke", "V", "unused"])


def test_missing_observables():
    with pytest.raises(ModelSpecError):
        onecomp(observables={})


@pytest.mark.parametrize("rhs", ["ka*depot + log(-central)", "ka*depot + sqrt(-central)", "ka/(central - central)"])
def test_non_finite_rhs_text(rhs):
    with pytest.raises(ModelSpecError, match="central"):
        onecomp(rhs={"depot": "-ka*depot", "central": rhs})


def test_non_finite_rhs_sympy():
    x, k = sympy.symbols("x k")
    with pytest.raises(ModelSpecError, match="not finite"):
        ODEModel(states=["x"], rhs={"x": k * sympy.log(-x)}, observables={"y": x})
    with pytest.raises(ModelSpecError, match="not finite"):
        ODEModel(states=["x"], rhs={"x": k / (x - x)}, observables={"y": x})  # sympy makes this zoo*k


def test_unsupported_sympy_function():
    x, k = sympy.symbols("x k")
    with pytest.raises(ModelSpecError, match="gamma"):
        ODEModel(states=["x"], rhs={"x": k * sympy.gamma(x)}, observables={"y": x})


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(states=["x", "x"], rhs={"x": "-k*x"}, observables={"y": "x"}),
        dict(states=["t"], rhs={"t": "-k*t"}, observables={"y": "t"}),
        dict(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, covariates=["x"]),
        dict(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, parameters=["k", "x"]),
        dict(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": "t"}),
        dict(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"z": 1}),
        dict(states=[], rhs={}, observables={"y": "1"}),
    ],
    ids=["duplicate-state", "state-named-t", "state-is-covariate", "state-is-parameter", "initial-depends-on-t",
         "initial-unknown-state", "no-states"],
)
def test_invalid_names(kwargs):
    with pytest.raises(ModelSpecError):
        ODEModel(**kwargs)


def test_hostile_text_in_model_is_a_model_spec_error():
    with pytest.raises(ModelSpecError):
        onecomp(rhs={"depot": "__import__('os').system('x')", "central": "ka*depot - ke*central"})


# ------------------------------------------------------------------------------------------------ TOML
def test_toml_round_trip():
    m = ODEModel(
        states=["depot", "central"], rhs=ONECOMP_RHS, observables={"conc": "central/V", "logc": "log(central/V)"},
        initial={"depot": "F*D0"}, covariates=["WT"],
        parameters={"ka": Parameter("ka", prior=Prior.lognormal(1.0, 1.0), iiv=0.3, description="absorption rate"),
                    "ke": Prior.normal(0.1, 0.05), "V": Parameter("V", iiv=Prior.halfnormal(0.2)),
                    "F": Parameter("F", prior=Prior.uniform(0.0, 1.0), iiv=False), "D0": None},
        name="oral", description="one compartment, oral",
    )
    text = m.to_toml()
    back = ODEModel.from_toml(text)
    assert back == m
    assert back.name == m.name and back.description == m.description
    assert [p for p in back.parameters] == [p for p in m.parameters]
    assert back.structure_hash == m.structure_hash
    assert back.to_toml() == text


def test_toml_round_trip_with_powers_and_functions(tmp_path):
    m = ODEModel(states=["x"], rhs={"x": "r*x*(1 - x/K) - h*x^2/(c^2 + x^2) + a*exp(-b*t) - d*x^0.5"},
                 observables={"y": "sqrt(x) + log(x) + tanh(x) + sin(x)*cos(x)"}, initial={"x": "2.5"})
    path = tmp_path / "model.toml"
    path.write_text(m.to_toml(), encoding="utf-8")
    assert ODEModel.from_toml(path) == m
    assert ODEModel.from_toml(str(path)) == m


def test_numeric_initial_value_matches_text_and_round_trips():
    # A float given as a number and the same number given as text are the same model, and it survives TOML.
    as_number = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": 2.5})
    as_text = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": "2.5"})
    assert as_number.structure_hash == as_text.structure_hash
    assert ODEModel.from_toml(as_number.to_toml()) == as_number


def test_sympy_float_constants_match_text_and_round_trip():
    # 0.1 inside a sympy expression is the same model as "0.1" in text, and survives TOML.
    x, k = sympy.symbols("x k")
    from_sympy = ODEModel(states=["x"], rhs={"x": sympy.Float(0.1) * k * x}, observables={"y": x})
    from_text = ODEModel(states=["x"], rhs={"x": "0.1*k*x"}, observables={"y": "x"})
    assert from_sympy.structure_hash == from_text.structure_hash
    assert ODEModel.from_toml(from_sympy.to_toml()) == from_sympy


@pytest.mark.parametrize("obs", ["max(x, 0)", "min(x, c)", "abs(x - c)", "min(x, min(c, 1))", "x*exp(1)"])
def test_toml_round_trip_of_every_parser_function(obs):
    # Everything the parser accepts must be written back in a form the parser reads (min/max/abs, e = exp(1)).
    m = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": obs}, parameters=["k", "c"]
                 if "c" in obs else ["k"])
    assert ODEModel.from_toml(m.to_toml()) == m


def test_toml_errors():
    with pytest.raises(ModelSpecError, match="rhs"):
        ODEModel.from_toml('states = ["x"]\n[observables]\ny = "x"\n')
    with pytest.raises(ModelSpecError, match="unknown key"):
        ODEModel.from_toml('states = ["x"]\nbogus = 1\n[rhs]\nx = "-k*x"\n[observables]\ny = "x"\n')
    with pytest.raises(ModelSpecError, match="not valid TOML"):
        ODEModel.from_toml("states = [\n")


# ------------------------------------------------------------------------------------------------ canonical form
def test_canonical_form_merges_renamed_duplicates():
    base = onecomp()
    renamed = onecomp(rhs={"depot": "-absorb*depot", "central": "absorb*depot - elim*central"},
                      observables={"conc": "central/vol"})
    assert renamed.structure_hash == base.structure_hash
    assert renamed.canonical() == base.canonical()


def test_canonical_form_merges_reordered_duplicates():
    base = onecomp()
    reordered_terms = onecomp(rhs={"depot": "-depot*ka", "central": "-central*ke + depot*ka"})
    reordered_states = ODEModel(states=["central", "depot"],
                                rhs={"central": "ka*depot - ke*central", "depot": "-ka*depot"},
                                observables=ONECOMP_OBS)
    assert reordered_terms.structure_hash == base.structure_hash
    assert reordered_states.structure_hash == base.structure_hash


def test_canonical_form_merges_expanded_duplicates():
    base = onecomp()
    factored = onecomp(rhs={"depot": "-ka*depot", "central": "ka*(depot - central*ke/ka)"})
    assert factored.structure_hash == base.structure_hash
    a = ODEModel(states=["x", "y"], rhs={"x": "-a*(x + y)", "y": "a*x"}, observables={"o": "x"})
    b = ODEModel(states=["x", "y"], rhs={"x": "-a*x - a*y", "y": "a*x"}, observables={"o": "x"})
    assert a.structure_hash == b.structure_hash


def test_canonical_form_ignores_priors():
    assert onecomp(parameters={"ka": Prior.lognormal(2, 1), "ke": None, "V": None}).structure_hash == \
        onecomp().structure_hash


def test_canonical_form_separates_different_structures():
    hashes = {
        onecomp().structure_hash,
        michaelis_menten().structure_hash,
        onecomp(rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central^2"}).structure_hash,
        onecomp(rhs={"depot": "-ka*depot", "central": "ka*depot - ke*depot"}).structure_hash,
        onecomp(observables={"conc": "depot/V"}).structure_hash,
        onecomp(initial={"central": "C0"}).structure_hash,
        ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                 observables={"conc": "central/V + base"}).structure_hash,
    }
    assert len(hashes) == 7


def test_canonical_form_distinguishes_roles_of_swapped_parameters():
    # Two rate constants whose roles are swapped between states are the same structure only up to renaming;
    # a structure where one parameter plays both roles is different.
    shared = onecomp(rhs={"depot": "-ka*depot", "central": "ka*depot - ka*central"})
    assert shared.structure_hash != onecomp().structure_hash


def test_model_hash_and_equality():
    assert onecomp() == onecomp()
    assert hash(onecomp()) == hash(onecomp())
    assert onecomp() != michaelis_menten()


# ------------------------------------------------------------------------------------------------ complexity, LaTeX
def test_complexity_counts_tree_nodes():
    # -k*x is Mul(-1, k, x): 4 nodes; y = x: 1 node.
    assert ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}).complexity == 5
    # depot: Mul(-1, ka, depot) = 4; central: Add(Mul(ka, depot), Mul(-1, ke, central)) = 1 + 3 + 4 = 8;
    # conc: Mul(central, Pow(V, -1)) = 1 + 1 + 3 = 5.
    assert onecomp().complexity == 17
    assert michaelis_menten().complexity > onecomp().complexity


def test_latex_contains_frac_and_names():
    tex = onecomp().latex()
    assert "\\frac" in tex
    assert "\\begin{aligned}" in tex and "\\end{aligned}" in tex
    assert "depot" in tex and "central" in tex and "conc" in tex
    assert tex.count("&=") == 3


def test_equations_text():
    assert onecomp().equations() == ["d(depot)/dt = -depot*ka", "d(central)/dt = depot*ka - central*ke",
                                     "conc = central/V"]


# ------------------------------------------------------------------------------------------------ linearity
def test_linear_system_of_compartment_model():
    system = onecomp().linear_system()
    assert system is not None
    a, b = system
    ka, ke = symbol("ka"), symbol("ke")
    assert a == sympy.Matrix([[-ka, 0], [ka, -ke]])
    assert b == sympy.zeros(2, 1)


def test_linear_system_with_constant_input():
    m = ODEModel(states=["x"], rhs={"x": "R - k*x"}, observables={"y": "x"})
    a, b = m.linear_system()
    assert a == sympy.Matrix([[-symbol("k")]])
    assert b == sympy.Matrix([symbol("R")])


def test_linear_system_input_written_over_a_volume_and_kept_on_the_model():
    # the input term is found by expanding (a zero-order infusion into a volume); the result is computed once
    m = ODEModel(states=["x"], rhs={"x": "(R + k*(c - x))/V"}, observables={"y": "x"})
    a, b = m.linear_system()
    k, c, r, v = (symbol(n) for n in ("k", "c", "R", "V"))
    assert a == sympy.Matrix([[-k / v]])
    assert sympy.simplify(b[0] - (r + k * c) / v) == 0
    assert m.linear_system() is m.linear_system()
    copy = pickle.loads(pickle.dumps(m))
    assert copy == m and copy.linear_system() == m.linear_system()


@pytest.mark.parametrize(
    "model",
    [
        michaelis_menten(),
        ODEModel(states=["x"], rhs={"x": "-k*x*exp(-t)"}, observables={"y": "x"}),
        ODEModel(states=["x"], rhs={"x": "r*x*(1 - x/K)"}, observables={"y": "x"}),
        ODEModel(states=["S", "I"], rhs={"S": "-b*S*I", "I": "b*S*I - g*I"}, observables={"y": "I"}),
    ],
    ids=["michaelis-menten", "time-dependent", "logistic", "sir"],
)
def test_linear_system_rejects_nonlinear(model):
    assert model.linear_system() is None


# ------------------------------------------------------------------------------------------------ default priors
SCALES = DataScales(time_span=24.0, state_scale=320.0, observable_scale={"conc": 10.0})


def _median(prior: Prior) -> float:
    assert prior.family == "lognormal"
    return prior.params[0]


def test_default_priors_rates_near_ten_over_t():
    priors = default_priors(onecomp(), SCALES)
    for name in ("ka", "ke"):
        assert math.isclose(_median(priors[name]), 10.0 / SCALES.time_span, rel_tol=PRIOR_MEDIAN_RTOL)


def test_default_priors_volume_near_dose_over_max_concentration():
    priors = default_priors(onecomp(), SCALES)
    assert math.isclose(_median(priors["V"]), 320.0 / 10.0, rel_tol=PRIOR_MEDIAN_RTOL)


def test_default_priors_michaelis_menten():
    scales = DataScales(time_span=24.0, state_scale=320.0, observable_scale={"conc": 10.0})
    priors = default_priors(michaelis_menten(), scales)
    assert math.isclose(_median(priors["Km"]), 320.0, rel_tol=PRIOR_MEDIAN_RTOL)  # half-saturation at A
    assert math.isclose(_median(priors["V"]), 32.0, rel_tol=PRIOR_MEDIAN_RTOL)
    assert math.isclose(_median(priors["ka"]), 10.0 / 24.0, rel_tol=PRIOR_MEDIAN_RTOL)
    # Vmax*x/(Km+x) at x = Km = A (other parameters at 1): term size Vmax*A/(1+A) set to 10 A / T.
    assert math.isclose(_median(priors["Vmax"]), 10.0 * 320.0 / 24.0 * (1 + 320.0) / 320.0, rel_tol=PRIOR_MEDIAN_RTOL)


GROWTH_SCALES = DataScales(time_span=56.0, state_scale=2000.0, observable_scale={"size": 2000.0},
                           first_observed={"size": 50.0})


def growth(rhs: str) -> ODEModel:
    return ODEModel(states=["size"], rhs={"size": rhs}, observables={"size": "size"}, initial={"size": "size0"})


@pytest.mark.parametrize("rhs", ["r*size*log(K/size)", "r*size*(1 - (size/K)**nu)", "r*size*(1 - size/K)",
                                 "r*(K - size)"], ids=["gompertz", "richards", "logistic", "monomolecular"])
def test_default_priors_of_a_capacity_wherever_it_stands(rhs):
    priors = default_priors(growth(rhs), GROWTH_SCALES)
    assert math.isclose(_median(priors["K"]), 2000.0, rel_tol=PRIOR_MEDIAN_RTOL)
    # an initial size reported as itself starts at the first observed mean, not at the largest one
    assert math.isclose(_median(priors["size0"]), 50.0, rel_tol=PRIOR_MEDIAN_RTOL)


@pytest.mark.parametrize("scales", [GROWTH_SCALES, DataScales(time_span=42.0, state_scale=1495.041136,
                                                              observable_scale={"size": 1495.041136})],
                         ids=["round", "synthetic-logistic"])
def test_default_growth_rates_are_sized_with_the_capacity_at_its_median(scales):
    T, A = scales.time_span, scales.state_scale
    for rhs in ("r*size*(1 - size/K)", "r*(K - size)"):
        assert math.isclose(_median(default_priors(growth(rhs), scales)["r"]), 10 / T, rel_tol=PRIOR_MEDIAN_RTOL)
    # r*x*log(K/x) vanishes at x = K = A, so it is sized at x = A/2: r * (A/2) * log 2 = 10 A / T. With the state
    # scale of the synthetic logistic cohort, float evaluation gave log(K/x) = 1.7e-13 at x = K and a median of 2e15.
    gompertz = default_priors(growth("r*size*log(K/size)"), scales)["r"]
    assert math.isclose(_median(gompertz), 10 * A / (T * A / 2 * math.log(2)), rel_tol=PRIOR_MEDIAN_RTOL)


def test_default_clearance_is_sized_with_the_volume_at_its_median():
    model = ODEModel(states=["central"], rhs={"central": "-CL*central/V"}, observables={"conc": "central/V"})
    priors = default_priors(model, SCALES)
    volume = 320.0 / 10.0
    assert math.isclose(_median(priors["V"]), volume, rel_tol=PRIOR_MEDIAN_RTOL)
    assert math.isclose(_median(priors["CL"]), 10.0 * volume / SCALES.time_span, rel_tol=PRIOR_MEDIAN_RTOL)


@pytest.mark.parametrize("response", ["ke0*(E0 + Emax*central/(V*(EC50 + central/V)) - response)",
                                      "ke0*(E0 - response + central*slope/V)"], ids=["emax", "linear"])
def test_default_rate_of_a_relaxation_towards_a_target_is_a_rate_constant(response):
    # an effect compartment: ke0 multiplies the baseline and the drug effect as well as the state; sizing it by its
    # smallest term (the drug effect) gave a median of 30/h on a 48 h span, beyond what the screening grid follows
    model = ODEModel(states=["central", "response"], rhs={"central": "-ke*central", "response": response},
                     observables={"conc": "central/V", "effect": "response"}, initial={"central": 320, "response": "E0"})
    scales = DataScales(time_span=48.0, state_scale=320.0, observable_scale={"conc": 10.0, "effect": 150.0})
    priors = default_priors(model, scales)
    for rate in ("ke", "ke0"):
        assert math.isclose(_median(priors[rate]), 10.0 / 48.0, rel_tol=PRIOR_MEDIAN_RTOL)


def test_default_saturation_written_as_one_plus_a_x_is_an_inverse_scale():
    model = ODEModel(states=["S", "I"], rhs={"S": "-beta*S*I/(1 + a*I)", "I": "beta*S*I/(1 + a*I) - gamma*I"},
                     observables={"infected": "I"})
    scales = DataScales(time_span=30.0, state_scale=800.0, observable_scale={"infected": 200.0})
    assert math.isclose(_median(default_priors(model, scales)["a"]), 1 / 800.0, rel_tol=PRIOR_MEDIAN_RTOL)


def test_default_exponents_power_law_below_one_hill_above():
    power = default_priors(growth("r*size**alpha"), GROWTH_SCALES)["alpha"]
    assert power.params == (0.75, 0.3)
    hill = default_priors(growth("Emax*size**n/(EC50**n + size**n) - k*size"), GROWTH_SCALES)["n"]
    assert hill.params == (1.5, 0.6)


def test_data_scales_record_the_first_observed_mean(tmp_path):
    from cohortode import CohortData

    rows = "cohort,time,observable,mean,sd,n\nA,0,size,40,5,10\nA,7,size,400,50,10\nB,0,size,60,5,10\n"
    (tmp_path / "obs.csv").write_text(rows)
    data = CohortData.from_csv(tmp_path / "obs.csv")
    scales = DataScales.from_data(data)
    assert scales.first_observed == {"size": 50.0}
    assert scales.observable_scale == {"size": 400.0}


def test_default_priors_are_wide_lognormals():
    for prior in default_priors(onecomp(), SCALES).values():
        assert prior.family == "lognormal"
        assert prior.params[1] >= 1.0


def test_default_priors_overridable_by_parameter():
    override = Prior.lognormal(2.0, 0.5)
    m = onecomp(parameters=[Parameter("ka", prior=override), "ke", "V"])
    resolved = resolve_priors(m, SCALES)
    assert resolved["ka"] == override
    assert math.isclose(_median(resolved["ke"]), 10.0 / 24.0, rel_tol=PRIOR_MEDIAN_RTOL)
    via_with = onecomp().with_parameters(ka=override)
    assert resolve_priors(via_with, SCALES)["ka"] == override
    assert via_with.structure_hash == onecomp().structure_hash


def test_data_scales_from_cohort():
    from cohortode import load_cohort

    data = load_cohort("synthetic_onecomp_oral")
    scales = DataScales.from_data(data, onecomp())
    assert scales.time_span == pytest.approx(24.0 - 0.25)
    assert scales.state_scale == pytest.approx(320.0)
    assert scales.observable_scale["conc"] == pytest.approx(float(data.observations["mean"].max()))
