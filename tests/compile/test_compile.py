"""Tests of model compilation: solutions against closed forms and SciPy, doses, failures, gradients, caching.

JAX compilation dominates the cost, so each (model, solver, schedule, times) combination is jitted once per module.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy
from scipy.integrate import solve_ivp

from cohortode import ODEModel
from cohortode.compile import DoseEvent, DoseSchedule, SolverOptions, compile_model
from cohortode.likelihood import row_loglik

# Relative tolerances against exact references, per solver (default SolverOptions: rtol 1e-6, atol 1e-9).
RTOL = {"linear": 1e-8, "tsit5": 1e-5, "kvaerno5": 1e-4}
RTOL_NONLINEAR = 1e-5            # tsit5 against a tight DOP853 reference
RTOL_GRADIENT_LINEAR = 1e-6      # jacfwd against central differences, exact solver
RTOL_GRADIENT_ODE = 1e-4         # jacfwd against central differences, adaptive solver at tight tolerances
ATOL_ZERO = 1e-12                # where the reference is exactly zero
REF_RTOL, REF_ATOL = 1e-12, 1e-14  # SciPy reference solves

NO_COV = jnp.zeros(0)

ORAL = dict(V=30.0, ka=1.5, ke=0.1)
DOSE = 320.0
TIMES = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0)


def oral_model() -> ODEModel:
    return ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                    observables={"conc": "central/V"})


def mm_model() -> ODEModel:
    return ODEModel(states=["depot", "central"],
                    rhs={"depot": "-ka*depot", "central": "ka*depot - Vmax*central/(Km + central)"},
                    observables={"conc": "central/V"})


def iv_model() -> ODEModel:
    return ODEModel(states=["central"], rhs={"central": "-k*central"}, observables={"conc": "central/V"})


def values(model: ODEModel, named: dict[str, float]) -> np.ndarray:
    return np.array([named[n] for n in model.parameter_names])


def oral_closed_form(t, dose_times=(0.0,), amount=DOSE, V=ORAL["V"], ka=ORAL["ka"], ke=ORAL["ke"]):
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    for td in dose_times:
        dt = np.maximum(t - td, 0.0)
        out += np.where(t >= td, amount * ka / (ka - ke) * (np.exp(-ke * dt) - np.exp(-ka * dt)), 0.0)
    return out / V


def simulator(model, solver, schedule, times, options=None):
    cm = compile_model(model, solver, options)
    return jax.jit(lambda p: cm.simulate(p, NO_COV, schedule, times))


def assert_rel(got, want, rtol, atol=ATOL_ZERO):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.all(np.isfinite(got)), got
    err = np.abs(got - want)
    bound = rtol * np.abs(want) + atol
    worst = np.max(err / np.maximum(np.abs(want), atol))
    assert np.all(err <= bound), f"worst relative error {worst:.3g} > {rtol:g}"


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def single_dose():
    return DoseSchedule((DoseEvent(0.0, 0, DOSE),))


@pytest.fixture(scope="module")
def oral_sims(single_dose):
    cache = {}

    def get(solver):
        if solver not in cache:
            cache[solver] = simulator(oral_model(), solver, single_dose, TIMES)
        return cache[solver]
    return get


# ------------------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("solver", ["linear", "tsit5", "kvaerno5"])
def test_one_compartment_oral_matches_closed_form(solver, oral_sims):
    y = np.asarray(oral_sims(solver)(values(oral_model(), ORAL)))
    assert y.shape == (len(TIMES), 1)
    exact = oral_closed_form(TIMES)
    assert y[0, 0] == pytest.approx(0.0, abs=ATOL_ZERO)
    assert_rel(y[1:, 0], exact[1:], RTOL[solver])


def test_one_compartment_oral_other_parameters(oral_sims):
    # The same compiled function at other parameter values (no recompilation: parameters are traced).
    other = dict(V=12.0, ka=0.4, ke=0.35)
    y = np.asarray(oral_sims("linear")(values(oral_model(), other)))[:, 0]
    assert_rel(y[1:], oral_closed_form(TIMES, **other)[1:], RTOL["linear"])


def test_michaelis_menten_matches_scipy():
    model = mm_model()
    p = dict(V=30.0, ka=1.2, Vmax=40.0, Km=50.0)
    sim = simulator(model, "tsit5", DoseSchedule((DoseEvent(0.0, 0, DOSE),)), TIMES)
    y = np.asarray(sim(values(model, p)))[:, 0]

    def rhs(t, s):
        depot, central = s
        return [-p["ka"] * depot, p["ka"] * depot - p["Vmax"] * central / (p["Km"] + central)]
    ref = solve_ivp(rhs, (0.0, TIMES[-1]), [DOSE, 0.0], method="DOP853", t_eval=TIMES, rtol=REF_RTOL,
                    atol=REF_ATOL * DOSE)
    assert ref.success
    exact = ref.y[1] / p["V"]
    assert y[0] == pytest.approx(0.0, abs=ATOL_ZERO)
    assert_rel(y[1:], exact[1:], RTOL_NONLINEAR)
    # The reference must be genuinely nonlinear here: the linear closed form with ke = Vmax/Km is far off.
    linear_guess = oral_closed_form(TIMES[1:], V=p["V"], ka=p["ka"], ke=p["Vmax"] / p["Km"])
    assert np.max(np.abs(linear_guess - exact[1:]) / exact[1:]) > 0.05


# ------------------------------------------------------------------------------------------------ doses
REPEAT_DOSE_TIMES = (0.0, 12.0, 24.0)
REPEAT_TIMES = (0.0, 1.0, 6.0, 12.0, 13.0, 24.0, 25.5, 30.0, 36.0)


@pytest.fixture(scope="module")
def repeated_oral():
    schedule = DoseSchedule(tuple(DoseEvent(t, 0, DOSE) for t in REPEAT_DOSE_TIMES))
    sim = simulator(oral_model(), "linear", schedule, REPEAT_TIMES)
    return np.asarray(sim(values(oral_model(), ORAL)))[:, 0]


def test_repeated_oral_boluses_match_superposition(repeated_oral):
    exact = oral_closed_form(REPEAT_TIMES, dose_times=REPEAT_DOSE_TIMES)
    assert repeated_oral[0] == pytest.approx(0.0, abs=ATOL_ZERO)
    assert_rel(repeated_oral[1:], exact[1:], RTOL["linear"])


def test_repeated_oral_boluses_match_scipy_with_events(repeated_oral):
    # Independent reference: solve_ivp stopped at each dose time, the bolus added to the depot, then restarted.
    ka, ke, V = ORAL["ka"], ORAL["ke"], ORAL["V"]

    def rhs(t, s):
        return [-ka * s[0], ka * s[0] - ke * s[1]]
    state = np.zeros(2)
    ref = {}
    bounds = [*REPEAT_DOSE_TIMES, REPEAT_TIMES[-1]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        state = state + np.array([DOSE, 0.0])
        inside = [t for t in REPEAT_TIMES if a <= t < b or (b == bounds[-1] and t == b)]
        sol = solve_ivp(rhs, (a, b), state, method="DOP853", t_eval=[*inside, b] if inside[-1] < b else inside,
                        rtol=REF_RTOL, atol=REF_ATOL * DOSE)
        assert sol.success
        ref.update({t: c / V for t, c in zip(inside, sol.y[1])})
        state = sol.y[:, -1]
    want = np.array([ref[t] for t in REPEAT_TIMES])
    assert_rel(repeated_oral[1:], want[1:], RTOL["linear"] * 10)


# One-compartment IV model: boluses at 0, 12 and 24 and a zero-order infusion from 1 to 3 (one compile per solver).
IV = dict(k=0.2, V=10.0)
IV_DOSE_TIMES = (0.0, 12.0, 24.0)
INFUSION = dict(start=1.0, amount=100.0, duration=2.0)
IV_TIMES = (0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 18.0, 24.0, 30.0)


def iv_bolus_closed_form(t):
    t = np.asarray(t, dtype=float)
    return sum(np.where(t >= td, DOSE * np.exp(-IV["k"] * (t - td)), 0.0) for td in IV_DOSE_TIMES) / IV["V"]


def infusion_closed_form(t):
    k, V = IV["k"], IV["V"]
    t0, dur = INFUSION["start"], INFUSION["duration"]
    rate = INFUSION["amount"] / dur
    t = np.asarray(t, dtype=float)
    during = rate / k * (1.0 - np.exp(-k * np.clip(t - t0, 0.0, dur)))
    after = np.exp(-k * np.maximum(t - t0 - dur, 0.0))
    return np.where(t <= t0, 0.0, during * after) / V


@pytest.fixture(scope="module")
def iv_outputs():
    cache = {}

    def get(solver):
        if solver not in cache:
            events = [*(DoseEvent(t, 0, DOSE) for t in IV_DOSE_TIMES),
                      DoseEvent(INFUSION["start"], 0, INFUSION["amount"], INFUSION["duration"])]
            model = iv_model()
            sim = simulator(model, solver, DoseSchedule(tuple(events)), IV_TIMES)
            cache[solver] = np.asarray(sim(values(model, IV)))[:, 0]
        return cache[solver]
    return get


@pytest.mark.parametrize("solver", ["linear", "tsit5"])
def test_boluses_and_infusion_match_closed_form(solver, iv_outputs):
    exact = iv_bolus_closed_form(IV_TIMES) + infusion_closed_form(IV_TIMES)
    assert_rel(iv_outputs(solver), exact, RTOL[solver])


@pytest.mark.parametrize("solver", ["linear", "tsit5"])
def test_observation_at_dose_time_sees_the_dose(solver, iv_outputs):
    y = iv_outputs(solver)
    jump = DOSE / IV["V"]
    # At t = 0, 12 and 24 the bolus has been given before the observation: the value includes the full jump.
    assert y[IV_TIMES.index(0.0)] == pytest.approx(jump, rel=RTOL[solver])
    for td in (12.0, 24.0):
        before = iv_bolus_closed_form(td - 1e-9) + infusion_closed_form(td)
        assert y[IV_TIMES.index(td)] == pytest.approx(before + jump, rel=RTOL[solver])


@pytest.mark.parametrize("solver", ["linear", "tsit5"])
def test_zero_order_infusion_amount_and_shape(solver, iv_outputs):
    y = iv_outputs(solver) - iv_bolus_closed_form(IV_TIMES)
    inf = infusion_closed_form(IV_TIMES)
    # Nothing before the start, a rise during the infusion, a first-order decline after its end.
    assert np.allclose(y[np.asarray(IV_TIMES) <= INFUSION["start"]], 0.0, atol=1e-6)
    i_end = IV_TIMES.index(INFUSION["start"] + INFUSION["duration"])
    assert y[i_end] == pytest.approx(inf[i_end], rel=1e-4)
    assert y[IV_TIMES.index(2.0)] < y[i_end]
    assert y[IV_TIMES.index(6.0)] == pytest.approx(y[i_end] * np.exp(-IV["k"] * 3.0), rel=1e-4)


def test_segments_assign_dose_time_observations_after_the_dose():
    schedule = DoseSchedule((DoseEvent(0.0, 0, 1.0), DoseEvent(12.0, 0, 1.0), DoseEvent(2.0, 1, 5.0, 3.0)))
    segs = schedule.segments(2, (0.0, 2.0, 5.0, 12.0, 20.0))
    assert [(s.start, s.end) for s in segs] == [(0.0, 2.0), (2.0, 5.0), (5.0, 12.0), (12.0, 20.0)]
    assert segs[0].boluses == ((0, 1.0),) and segs[0].save_times == (0.0,)
    assert segs[1].rates == (0.0, 5.0 / 3.0) and segs[1].save_times == (2.0,)
    assert segs[2].rates == (0.0, 0.0) and segs[2].save_times == (5.0,)
    assert segs[3].boluses == ((0, 1.0),) and segs[3].save_times == (12.0, 20.0)


# ------------------------------------------------------------------------------------------------ failures
def test_exploding_solution_returns_nan_and_minus_inf_likelihood():
    # dx/dt = k x^2, x(0) = 1, k = 1: x = 1/(1 - t) blows up at t = 1, inside [0, 2].
    model = ODEModel(states=["x"], rhs={"x": "k*x^2"}, observables={"y": "x"}, initial={"x": 1})
    times = (0.0, 0.5, 1.5, 2.0)
    sim = simulator(model, "tsit5", DoseSchedule(), times)
    y = np.asarray(sim(np.array([1.0])))  # must not raise
    assert y.shape == (len(times), 1)
    assert np.all(np.isnan(y))
    ll = row_loglik(jnp.ones(len(times)), jnp.ones(len(times)), jnp.full(len(times), 6.0),
                    jnp.ones(len(times), dtype=bool), jnp.asarray(y[:, 0]), jnp.ones(len(times)))
    assert np.all(np.asarray(ll) == -np.inf)
    # The same compiled function succeeds where the solution stays finite (k small: blow-up at t = 1/k > 2).
    ok = np.asarray(sim(np.array([0.1])))[:, 0]
    assert_rel(ok, 1.0 / (1.0 - 0.1 * np.asarray(times)), RTOL["tsit5"])


def test_linear_solver_refuses_nonlinear_model():
    with pytest.raises(ValueError, match="linear"):
        compile_model(mm_model(), "linear")


# ------------------------------------------------------------------------------------------------ gradients
def central_differences(f, p, rel_step):
    """Richardson-extrapolated central differences (error O(h^4)), column j = d f / d p_j."""
    p = np.asarray(p, dtype=float)
    cols = []
    for i in range(p.size):
        def d(h):
            up, down = p.copy(), p.copy()
            up[i] += h
            down[i] -= h
            return (np.asarray(f(up)) - np.asarray(f(down))) / (2 * h)
        h = rel_step * abs(p[i])
        cols.append((4 * d(h / 2) - d(h)) / 3)
    return np.stack(cols, axis=-1)


def test_forward_gradient_matches_finite_differences_linear(single_dose):
    cm = compile_model(oral_model(), "linear")

    def f(p):
        return cm.simulate(p, NO_COV, single_dose, TIMES)[:, 0]
    p = values(oral_model(), ORAL)
    jac = np.asarray(jax.jit(jax.jacfwd(f))(p))
    # The matrix exponential's values carry ~1e-11 relative rounding noise, so the step is not tiny.
    fd = central_differences(jax.jit(f), p, 1e-3)
    assert jac.shape == (len(TIMES), 3)
    assert np.all(np.isfinite(jac))
    assert np.allclose(jac, fd, rtol=RTOL_GRADIENT_LINEAR, atol=RTOL_GRADIENT_LINEAR * np.abs(fd).max())
    # And against the derivative of the closed form (by sympy).
    V, ka, ke, t = sympy.symbols("V ka ke t")
    conc = DOSE * ka / (ka - ke) * (sympy.exp(-ke * t) - sympy.exp(-ka * t)) / V
    at = {V: ORAL["V"], ka: ORAL["ka"], ke: ORAL["ke"]}
    names = oral_model().parameter_names
    exact = np.array([[float(sympy.diff(conc, sympy.Symbol(n)).subs({**at, t: tt})) for n in names] for tt in TIMES])
    assert np.allclose(jac, exact, rtol=RTOL["linear"], atol=ATOL_ZERO)


def test_forward_gradient_matches_finite_differences_ode():
    model = mm_model()
    options = SolverOptions(rtol=1e-10, atol=1e-12)
    cm = compile_model(model, "tsit5", options)
    schedule = DoseSchedule((DoseEvent(0.0, 0, DOSE),))
    times = (1.0, 4.0, 12.0)

    def f(p):
        return cm.simulate(p, NO_COV, schedule, times)[:, 0]
    p = values(model, dict(V=30.0, ka=1.2, Vmax=40.0, Km=50.0))
    jac = np.asarray(jax.jit(jax.jacfwd(f))(p))
    fd = central_differences(jax.jit(f), p, 1e-3)
    assert np.all(np.isfinite(jac))
    assert np.allclose(jac, fd, rtol=RTOL_GRADIENT_ODE, atol=RTOL_GRADIENT_ODE * np.abs(fd).max())


# ------------------------------------------------------------------------------------------------ caching
def test_compile_model_caches_per_structure():
    a = compile_model(oral_model(), "linear")
    assert compile_model(oral_model(), "linear") is a  # a fresh but equal model
    assert compile_model(oral_model()) is a  # "auto" picks the exact solver for a linear structure
    assert compile_model(oral_model(), "tsit5") is not a
    assert compile_model(oral_model(), "tsit5").solver == "tsit5"
    assert compile_model(oral_model(), "linear", SolverOptions(rtol=1e-9)) is not a
    assert compile_model(mm_model()) is not a
    assert compile_model(mm_model()).solver == "tsit5"
    assert compile_model(mm_model()) is compile_model(mm_model(), "tsit5")
