"""Parameters that change at a time (a counterfactual "from day 5"): the solve is cut there and continues from the
state reached; checked against SciPy's solve_ivp in two pieces and against a closed form on the linear path."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import cohortode as co
from cohortode.compile import DoseEvent, DoseSchedule, compile_model

SIR = dict(states=["S", "I", "R"], rhs={"S": "-beta*S*I", "I": "beta*S*I - gamma*I", "R": "gamma*I"},
           observables={"I": "I", "scaled": "I*gamma"}, initial={"S": 0.99, "I": 0.01})
TIMES = (1.0, 3.0, 5.0, 6.5, 10.0, 20.0)
CHANGE = 5.0
SCIPY_RTOL = 1e-5  # diffrax (rtol 1e-6) against solve_ivp at rtol 1e-10
EXACT_RTOL = 1e-10


def sir_rhs(beta, gamma):
    return lambda t, x: [-beta * x[0] * x[1], beta * x[0] * x[1] - gamma * x[1], gamma * x[1]]


def test_contact_rate_halved_from_day_five_matches_two_scipy_solves():
    model = co.ODEModel(**SIR)
    compiled = compile_model(model, "tsit5")
    before = jnp.array([1.2, 0.35])  # parameter order: beta, gamma
    after = jnp.array([0.6, 0.35])
    got = np.asarray(compiled.simulate(before, jnp.zeros(0), DoseSchedule(), TIMES, after=after, change_time=CHANGE))
    early = [t for t in TIMES if t < CHANGE]
    first = solve_ivp(sir_rhs(1.2, 0.35), (0, CHANGE), [0.99, 0.01, 0.0], t_eval=[*early, CHANGE], rtol=1e-10,
                      atol=1e-12)
    late = [t for t in TIMES if t >= CHANGE]
    second = solve_ivp(sir_rhs(0.6, 0.35), (CHANGE, late[-1]), first.y[:, -1], t_eval=late, rtol=1e-10, atol=1e-12)
    reference = np.concatenate([first.y[1, :-1], second.y[1]])
    np.testing.assert_allclose(got[:, 0], reference, rtol=SCIPY_RTOL)
    # unchanged before the change, and visibly different after it
    plain = np.asarray(compiled.simulate(before, jnp.zeros(0), DoseSchedule(), TIMES))
    np.testing.assert_allclose(got[:2], plain[:2], rtol=1e-9)
    assert got[-2, 0] < 0.8 * plain[-2, 0]  # 0.153 against 0.205 at t = 10


def test_observables_after_the_change_use_the_new_values():
    compiled = compile_model(co.ODEModel(**SIR), "tsit5")
    before, after = jnp.array([1.2, 0.35]), jnp.array([1.2, 0.7])
    got = np.asarray(compiled.simulate(before, jnp.zeros(0), DoseSchedule(), TIMES, after=after, change_time=CHANGE))
    gamma = np.where(np.asarray(TIMES) >= CHANGE, 0.7, 0.35)
    np.testing.assert_allclose(got[:, 1], got[:, 0] * gamma, rtol=1e-12)


def test_linear_path_with_a_dose_after_the_change_matches_the_closed_form():
    model = co.ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"x": "x"}, initial={"x": 1.0})
    compiled = compile_model(model, "linear")
    assert compiled.solver == "linear"
    schedule = DoseSchedule((DoseEvent(6.0, 0, 2.0),))
    times = (1.0, 4.0, 7.0)
    got = np.asarray(compiled.simulate(jnp.array([0.3]), jnp.zeros(0), schedule, times, after=jnp.array([0.1]),
                                       change_time=3.0))[:, 0]
    at_change = np.exp(-0.3 * 3.0)
    at_dose = at_change * np.exp(-0.1 * 3.0) + 2.0
    expected = [np.exp(-0.3), at_change * np.exp(-0.1), at_dose * np.exp(-0.1)]
    np.testing.assert_allclose(got, expected, rtol=EXACT_RTOL)


def test_after_without_change_time_is_refused():
    compiled = compile_model(co.ODEModel(**SIR), "tsit5")
    with pytest.raises(ValueError, match="both"):
        compiled.simulate(jnp.array([1.2, 0.35]), jnp.zeros(0), DoseSchedule(), TIMES, after=jnp.array([1.0, 0.3]))
