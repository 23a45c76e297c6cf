"""Tests of the lean adaptive Tsit5 solver (:mod:`cohortode.compile._adaptive`), the implementation of ``"tsit5"``.

Against diffrax's Tsit5 at tight tolerance, against tight SciPy references at the default tolerances, forward-mode
gradients against central differences, failures (NaN, no exception), ``vmap``.
"""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cohortode import ODEModel
from cohortode.compile import DoseEvent, DoseSchedule, SolverOptions, compile_model
from cohortode.compile._adaptive import TSIT5_A, TSIT5_B, TSIT5_C, TSIT5_E, tsit5_solve

NO_COV = jnp.zeros(0)
TIGHT = SolverOptions(rtol=1e-10, atol=1e-12, max_steps=100_000)
REF_RTOL, REF_ATOL = 1e-12, 1e-14


def mm(t, y, p):
    ka, vmax, km = p
    return jnp.stack([-ka * y[0], ka * y[0] - vmax * y[1] / (km + y[1])])


def logistic(t, y, p):
    r, k = p
    return r * y * (1.0 - y / k)


def sir(t, y, p):
    beta, gamma, n = p
    inf = beta * y[0] * y[1] / n
    return jnp.stack([-inf, inf - gamma * y[1], gamma * y[1]])


CASES = {  # name: (field, y0, params, times)
    "mm": (mm, [320.0, 0.0], [1.2, 40.0, 50.0], (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0)),
    "logistic": (logistic, [20.0], [0.15, 1500.0], (3.0, 7.0, 10.0, 14.0, 21.0, 28.0, 35.0, 42.0)),
    "sir": (sir, [762.0, 1.0, 0.0], [1.7, 0.45, 763.0], tuple(float(d) for d in range(1, 15))),
}


def reference(name):
    field, y0, p, times = CASES[name]
    ref = solve_ivp(lambda t, y: np.asarray(field(t, jnp.asarray(y), jnp.asarray(p))), (0.0, times[-1]), y0,
                    method="DOP853", t_eval=times, rtol=REF_RTOL, atol=REF_ATOL * max(map(abs, y0)))
    assert ref.success
    return ref.y.T


def test_tableau_satisfies_the_basic_order_conditions():
    b, c, e = np.asarray(TSIT5_B), np.asarray(TSIT5_C), np.asarray(TSIT5_E)
    assert b.sum() == pytest.approx(1.0, abs=1e-14)
    assert e.sum() == pytest.approx(0.0, abs=1e-14)
    for i in range(1, 7):
        assert sum(TSIT5_A[i]) == pytest.approx(c[i], abs=1e-14)
    # order conditions sum b c^(q-1) = 1/q up to q = 5
    for q in range(1, 6):
        assert np.dot(b, c ** (q - 1)) == pytest.approx(1.0 / q, abs=1e-13)
    # FSAL: the last stage is the solution
    np.testing.assert_allclose(TSIT5_A[6], TSIT5_B[:6], rtol=0, atol=0)


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_diffrax_tsit5_at_tight_tolerance(name):
    field, y0, p, times = CASES[name]
    ys, ok, _ = jax.jit(lambda p: tsit5_solve(field, jnp.asarray(y0), p, 0.0, times, rtol=1e-10, atol=1e-12,
                                              max_steps=100_000))(jnp.asarray(p))
    sol = diffrax.diffeqsolve(diffrax.ODETerm(field), diffrax.Tsit5(), 0.0, times[-1], None, jnp.asarray(y0),
                              jnp.asarray(p), saveat=diffrax.SaveAt(ts=jnp.asarray(times)),
                              stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12), max_steps=100_000)
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(ys), np.asarray(sol.ys), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_default_tolerances_are_accurate(name):
    field, y0, p, times = CASES[name]
    ys, ok, n = tsit5_solve(field, jnp.asarray(y0), jnp.asarray(p), 0.0, times)
    assert bool(ok) and int(n) > len(times)
    ref = reference(name)
    scale = np.maximum(np.abs(ref), 1e-3 * np.abs(ref).max())
    assert np.max(np.abs(np.asarray(ys) - ref) / scale) < 1e-5


def test_compiled_model_tsit5_against_tight_solve_with_doses():
    model = ODEModel(states=["depot", "central"],
                     rhs={"depot": "-ka*depot", "central": "ka*depot - Vmax*central/(Km + central)"},
                     observables={"conc": "central/V"})
    schedule = DoseSchedule((DoseEvent(0.0, 0, 320.0), DoseEvent(12.0, 0, 320.0), DoseEvent(20.0, 1, 50.0, 2.0)))
    times = (0.0, 1.0, 6.0, 12.0, 13.0, 21.0, 24.0, 30.0)
    p = jnp.asarray([dict(V=30.0, ka=1.2, Vmax=40.0, Km=50.0)[n] for n in model.parameter_names])
    got = compile_model(model, "tsit5").simulate(p, NO_COV, schedule, times)
    tight = compile_model(model, "tsit5", TIGHT).simulate(p, NO_COV, schedule, times)
    dfx = compile_model(model, "kvaerno5", TIGHT).simulate(p, NO_COV, schedule, times)  # diffrax path
    assert got.shape == (len(times), 1) and float(got[0, 0]) == 0.0
    np.testing.assert_allclose(np.asarray(tight), np.asarray(dfx), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(np.asarray(got), np.asarray(tight), rtol=1e-5, atol=1e-8)
    steps, ok = compile_model(model, "tsit5").num_steps(p, NO_COV, schedule, times)
    assert ok and 10 < steps < 1000
    # diffrax's own Tsit5, kept as the reference solver, agrees at the default tolerances
    ref = compile_model(model, "tsit5-diffrax").simulate(p, NO_COV, schedule, times)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-8)
    ref_steps, ref_ok = compile_model(model, "tsit5-diffrax").num_steps(p, NO_COV, schedule, times)
    assert ref_ok and 0.5 * ref_steps < steps < 2 * ref_steps


@pytest.mark.parametrize("name", ["mm", "sir"])
def test_forward_gradient_matches_finite_differences(name):
    field, y0, p, times = CASES[name]
    opts = dict(rtol=1e-10, atol=1e-12, max_steps=100_000)

    def f(logp):
        return tsit5_solve(field, jnp.asarray(y0), jnp.exp(logp), 0.0, times, **opts)[0]
    x = jnp.log(jnp.asarray(p))
    jac = np.asarray(jax.jit(jax.jacfwd(f))(x))
    h = 1e-5
    fd = np.stack([(np.asarray(f(x.at[j].add(h))) - np.asarray(f(x.at[j].add(-h)))) / (2 * h)
                   for j in range(len(p))], axis=-1)
    scale = np.abs(fd).max()
    np.testing.assert_allclose(jac, fd, rtol=1e-4, atol=1e-6 * scale)


def test_exploding_solution_gives_nan_and_no_exception():
    def blow(t, y, p):
        return p * y * y
    ys, ok, _ = jax.jit(lambda p: tsit5_solve(blow, jnp.ones(1), p, 0.0, (0.5, 2.0)))(1.0)
    assert not bool(ok)
    model = ODEModel(states=["x"], rhs={"x": "k*x^2"}, observables={"y": "x"}, initial={"x": 1})
    out = compile_model(model, "tsit5").simulate(jnp.asarray([1.0]), NO_COV, DoseSchedule(), (0.5, 2.0))
    assert np.all(np.isnan(np.asarray(out)))
    jac = jax.jacfwd(lambda k: compile_model(model, "tsit5").simulate(k, NO_COV, DoseSchedule(), (0.5, 2.0)))(
        jnp.asarray([1.0]))
    assert np.asarray(jac).shape == (2, 1, 1)


def test_step_limit_gives_not_ok():
    field, y0, p, times = CASES["mm"]
    ys, ok, n = tsit5_solve(field, jnp.asarray(y0), jnp.asarray(p), 0.0, times, max_steps=5)
    assert not bool(ok) and int(n) <= 5
    model = ODEModel(states=["x"], rhs={"x": "-k*x"}, observables={"y": "x"}, initial={"x": 1})
    cm = compile_model(model, "tsit5", SolverOptions(max_steps=3))
    out = cm.simulate(jnp.asarray([1.0]), NO_COV, DoseSchedule(), (1.0, 5.0, 10.0, 20.0))
    assert np.all(np.isnan(np.asarray(out)))


def test_works_under_vmap_and_matches_single_solves():
    field, y0, p, times = CASES["mm"]
    ps = jnp.asarray(p) * jnp.exp(jnp.linspace(-1.0, 1.0, 5))[:, None]

    def one(q):
        return tsit5_solve(field, jnp.asarray(y0), q, 0.0, times)
    ys, ok, n = jax.jit(jax.vmap(one))(ps)
    assert ys.shape == (5, len(times), 2) and bool(jnp.all(ok))
    for j in range(5):
        single, _, n1 = one(ps[j])
        np.testing.assert_allclose(np.asarray(ys[j]), np.asarray(single), rtol=1e-13, atol=1e-12)
        assert int(n[j]) == int(n1)
    # a batch where one member fails: only that member is NaN through the compiled path
    model = ODEModel(states=["x"], rhs={"x": "k*x^2"}, observables={"y": "x"}, initial={"x": 1})
    cm = compile_model(model, "tsit5")
    out = jax.vmap(lambda k: cm.simulate(k, NO_COV, DoseSchedule(), (0.5, 2.0), batch_axis="b"),
                   axis_name="b")(jnp.asarray([[0.1], [1.0]]))
    assert np.all(np.isfinite(np.asarray(out[0]))) and np.all(np.isnan(np.asarray(out[1])))
    np.testing.assert_allclose(np.asarray(out[0, :, 0]), 1.0 / (1.0 - 0.1 * np.asarray([0.5, 2.0])), rtol=1e-6)


def test_rejects_bad_targets():
    with pytest.raises(ValueError):
        tsit5_solve(logistic, jnp.ones(1), jnp.asarray([1.0, 2.0]), 1.0, (1.0, 2.0))
    with pytest.raises(ValueError):
        tsit5_solve(logistic, jnp.ones(1), jnp.asarray([1.0, 2.0]), 0.0, (2.0, 1.0))
