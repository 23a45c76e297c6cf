"""Exact solutions of linear segments: the two-state closed form and the spectral path against 50-digit references,
their forward-mode derivatives against the fixed-cost exponential, the fallback for defective matrices, and the
branch choice once per batch of virtual patients."""

from __future__ import annotations

import jax
import jax.extend
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from cohortode import ODEModel
from cohortode.compile import DoseEvent, DoseSchedule, SolverOptions, compile_model
from cohortode.compile._linear import (SPECTRAL_MIN_SEPARATION, _eigendecomposition, _spectral_solution, expm_fixed,
                                      expm_two, propagate, spectral_apply)

DTS = np.array([0.0, 1e-3, 0.1, 1.0, 5.0, 24.0, 200.0])
TOL_VALUE = 1e-12  # normwise relative error of exp(M t) z against 50 digits
TOL_FALLBACK = 1e-9  # the fixed-cost exponential's 20 squarings amplify rounding to about 1e-10
TOL_JVP = 1e-8     # normwise relative difference of the directional derivative from the fixed-cost exponential's

TWO_STATE = {
    "oral, distinct rates": [[-1.5, 0.0], [1.5, -0.1]],
    "oral, equal rates (defective)": [[-1.0, 0.0], [1.0, -1.0]],
    "oral, nearly equal rates": [[-1.0, 0.0], [1.0, -1.0000001]],
    "damped oscillator (complex eigenvalues)": [[-0.1, 1.0], [-1.0, -0.1]],
    "fast and slow (underflow at late times)": [[-50.0, 0.0], [50.0, -0.01]],
    "two-compartment exchange": [[-2.0, 0.5], [1.5, -0.7]],
    "zero": [[0.0, 0.0], [0.0, 0.0]],
    "growth": [[0.1, 0.0], [0.3, 0.2]],
    "infusion into one compartment (augmented)": [[-0.3, 2.0], [0.0, 0.0]],
    "accumulation without elimination (augmented)": [[0.0, 2.0], [0.0, 0.0]],
}


def _reference(m, z, dts) -> np.ndarray:
    mpmath.mp.dps = 50
    mm, zz = mpmath.matrix(np.asarray(m).tolist()), mpmath.matrix(np.asarray(z).tolist())
    out = []
    for t in dts:
        y = mpmath.expm(mm * mpmath.mpf(float(t))) * zz
        out.append([float(y[i]) for i in range(len(z))])
    return np.array(out)


def _normwise_error(got, ref) -> float:
    got, ref = np.asarray(got), np.asarray(ref)
    scale = np.maximum(np.max(np.abs(ref), axis=1, keepdims=True), 1e-300)
    return float(np.max(np.abs(got - ref) / scale))


def _expm_reference_jvp(m, z, dts, dm, dz):
    return jax.jvp(lambda m, z: jax.vmap(lambda t: expm_fixed(m * t) @ z)(jnp.asarray(dts)), (m, z), (dm, dz))[1]


@pytest.mark.parametrize("name", list(TWO_STATE))
def test_two_state_closed_form_matches_50_digit_reference(name):
    m = jnp.asarray(TWO_STATE[name])
    z = jnp.array([1.0, 0.3])
    got = expm_two(m, z, jnp.asarray(DTS))
    assert _normwise_error(got, _reference(m, z, DTS)) < TOL_VALUE


@pytest.mark.parametrize("name", list(TWO_STATE))
def test_two_state_derivative_matches_fixed_cost_exponential(name):
    rng = np.random.default_rng(1)
    m = jnp.asarray(TWO_STATE[name])
    z = jnp.array([1.0, 0.3])
    dm, dz = jnp.asarray(rng.normal(size=(2, 2))), jnp.asarray(rng.normal(size=2))
    dts = DTS[DTS <= 24.0]  # expm_fixed's own accuracy degrades for the fast mode at t = 200
    got = jax.jvp(lambda m, z: expm_two(m, z, jnp.asarray(dts)), (m, z), (dm, dz))[1]
    ref = _expm_reference_jvp(m, z, dts, dm, dz)
    assert np.all(np.isfinite(np.asarray(got)))
    assert _normwise_error(got, ref) < TOL_JVP


def test_one_state_is_a_scalar_exponential():
    got = expm_two(jnp.array([[-0.2]]), jnp.array([5.0]), jnp.asarray(DTS))
    np.testing.assert_allclose(np.asarray(got)[:, 0], 5.0 * np.exp(-0.2 * DTS), rtol=1e-15)


def _compartmental(rng, k: int) -> np.ndarray:
    """A random compartment matrix: non-negative flows, columns losing at least what they pass on."""
    flows = rng.uniform(0.05, 2.0, size=(k, k)) * (rng.uniform(size=(k, k)) < 0.6)
    np.fill_diagonal(flows, 0.0)
    elimination = rng.uniform(0.01, 0.5, size=k)
    return flows - np.diag(flows.sum(axis=0) + elimination)


SPECTRAL = {
    "random compartments k=3": _compartmental(np.random.default_rng(3), 3),
    "random compartments k=5": _compartmental(np.random.default_rng(5), 5),
    "rotation in 3-D (complex eigenvalues)": np.array([[-0.1, 1.0, 0.0], [-1.0, -0.1, 0.0], [0.3, 0.2, -0.5]]),
    "two-compartment oral": np.array([[-1.2, 0.0, 0.0], [1.2, -0.45, 0.2], [0.0, 0.3, -0.2]]),
}


@pytest.mark.parametrize("name", list(SPECTRAL))
def test_spectral_solution_and_derivative(name):
    rng = np.random.default_rng(7)
    m = jnp.asarray(SPECTRAL[name])
    k = m.shape[0]
    z = jnp.asarray(rng.uniform(0.1, 1.0, size=k))
    got = spectral_apply(m, z, jnp.asarray(DTS))
    assert _normwise_error(got, _reference(m, z, DTS)) < 1e-11
    dm, dz = jnp.asarray(rng.normal(size=(k, k))), jnp.asarray(rng.normal(size=k))
    dts = DTS[DTS <= 24.0]
    tangent = jax.jvp(lambda m, z: spectral_apply(m, z, jnp.asarray(dts)), (m, z), (dm, dz))[1]
    assert _normwise_error(tangent, _expm_reference_jvp(m, z, dts, dm, dz)) < TOL_JVP


def test_spectral_falls_back_for_a_defective_matrix():
    # a chain of three compartments with equal rates: one Jordan block, no basis of eigenvectors
    m = jnp.array([[-0.7, 0.0, 0.0], [0.7, -0.7, 0.0], [0.0, 0.7, -0.7]])
    z = jnp.array([1.0, 0.0, 0.0])
    lam, v, w, separation = _eigendecomposition(m)
    assert separation < SPECTRAL_MIN_SEPARATION
    unguarded = _spectral_solution(m, z, jnp.asarray(DTS), lam, v, w)
    assert not _normwise_error(unguarded, _reference(m, z, DTS)) < 1e-3  # what the fallback prevents
    got = spectral_apply(m, z, jnp.asarray(DTS))
    assert _normwise_error(got, _reference(m, z, DTS)) < TOL_FALLBACK
    tangent = jax.jvp(lambda m: spectral_apply(m, z, jnp.asarray(DTS[:6])), (m,), (jnp.eye(3),))[1]
    assert np.all(np.isfinite(np.asarray(tangent)))


def test_one_defective_patient_sends_the_whole_batch_to_the_fallback_and_all_stay_exact():
    rates = jnp.array([0.3, 0.7, 1.1, 0.7000000000001])
    z = jnp.array([1.0, 0.0, 0.0])

    def solve(r):
        m = jnp.array([[-0.7, 0.0, 0.0], [0.7, -r, 0.0], [0.0, r, -0.2]])
        return spectral_apply(m, z, jnp.asarray(DTS), batch_axis="patients")
    got = jax.vmap(solve, axis_name="patients")(rates)
    for i, r in enumerate(np.asarray(rates)):
        m = np.array([[-0.7, 0.0, 0.0], [0.7, -r, 0.0], [0.0, r, -0.2]])
        assert _normwise_error(got[i], _reference(m, z, DTS)) < TOL_FALLBACK


def _primitive_names(jaxpr) -> set[str]:
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            names |= _primitive_names(sub)
    return names


@pytest.mark.parametrize("k", [2, 3])
def test_branch_is_chosen_once_per_batch(k):
    """With the batch axis named, the branch predicate is reduced over patients: the program keeps a real ``cond``
    (one branch runs) instead of the ``select`` that ``vmap`` makes of a per-patient ``cond`` (both branches run)."""
    z = jnp.ones(k)

    def solve(r):
        m = -r * jnp.eye(k) + 0.1 * jnp.eye(k, k=-1)
        return propagate(m, z, jnp.asarray(DTS), batch_axis="patients")
    named = jax.make_jaxpr(jax.vmap(solve, axis_name="patients"))(jnp.array([0.5, 1.0]))
    assert "cond" in _primitive_names(named.jaxpr)
    unnamed = jax.make_jaxpr(jax.vmap(lambda r: propagate(-r * jnp.eye(k), z, jnp.asarray(DTS))))(
        jnp.array([0.5, 1.0]))
    assert "cond" not in _primitive_names(unnamed.jaxpr)  # what the reduction avoids


def two_compartment_oral() -> ODEModel:
    return ODEModel(states=["depot", "central", "peripheral"],
                    rhs={"depot": "-ka*depot", "central": "ka*depot - (CL + Q)/V1*central + Q/V2*peripheral",
                         "peripheral": "Q/V1*central - Q/V2*peripheral"},
                    observables={"conc": "central/V1"})


@pytest.mark.parametrize("method", ["auto", "spectral", "expm"])
def test_linear_methods_agree_with_tsit5_on_a_three_state_model_with_infusion(method):
    model = two_compartment_oral()
    named = dict(ka=1.2, CL=3.0, Q=2.0, V1=10.0, V2=25.0)
    params = jnp.asarray([named[n] for n in model.parameter_names])
    schedule = DoseSchedule((DoseEvent(0.0, 0, 100.0), DoseEvent(6.0, 1, 50.0, duration=2.0)))
    times = (0.5, 1.0, 2.0, 6.0, 7.0, 8.0, 12.0, 24.0)
    linear = compile_model(model, "linear", SolverOptions(linear_method=method))
    tight = compile_model(model, "tsit5", SolverOptions(rtol=1e-10, atol=1e-12))
    got = np.asarray(linear.simulate(params, jnp.zeros(0), schedule, times))
    ref = np.asarray(tight.simulate(params, jnp.zeros(0), schedule, times))
    np.testing.assert_allclose(got, ref, rtol=1e-8)


@pytest.mark.parametrize("name", ["random compartments k=3", "two-compartment oral",
                                  "rotation in 3-D (complex eigenvalues)"])
def test_spectral_second_derivatives_match_fixed_cost_exponential(name):
    """Forward over forward mode (the Laplace approximation's Hessian, the linearisation engine's gradients)."""
    m0 = jnp.asarray(SPECTRAL[name])
    k = m0.shape[0]
    z = jnp.linspace(0.2, 1.0, k)
    dts = jnp.asarray(DTS[DTS <= 24.0])
    rng = np.random.default_rng(11)
    directions = jnp.asarray(rng.normal(size=(3, k, k)))

    def total(solver):
        return lambda p: jnp.sum(jnp.sin(solver(m0 + jnp.tensordot(p, directions, axes=1), z, dts)))
    p0 = jnp.zeros(3)
    hessian = jax.jacfwd(jax.jacfwd(total(spectral_apply)))(p0)
    reference = jax.jacfwd(jax.jacfwd(total(lambda m, z, dts: jax.vmap(lambda t: expm_fixed(m * t) @ z)(dts))))(p0)
    np.testing.assert_allclose(np.asarray(hessian), np.asarray(reference), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", [spectral_apply, expm_two])
def test_reverse_mode_gradient_matches_fixed_cost_exponential(solver):
    m0 = jnp.asarray(TWO_STATE["two-compartment exchange"] if solver is expm_two else SPECTRAL["two-compartment oral"])
    k = m0.shape[0]
    z = jnp.linspace(0.2, 1.0, k)
    dts = jnp.asarray(DTS[DTS <= 24.0])

    def total(apply):
        return lambda m: jnp.sum(jnp.sin(apply(m, z, dts)))
    got = jax.grad(total(solver))(m0)
    ref = jax.grad(total(lambda m, z, dts: jax.vmap(lambda t: expm_fixed(m * t) @ z)(dts)))(m0)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------------------ times on a common grid (grid_apply)
TOL_GRID = 1e-11  # a fully defective 5 x 5 chain (all rates equal) reaches about 3e-12
CLINICAL_TIMES = [0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 7.0, 9.0, 12.0, 24.0]


def _transit_chain(ktr: float, ka: float, ke: float) -> np.ndarray:
    """Three transit compartments with one shared rate (a defective matrix), absorption and elimination."""
    m = np.zeros((5, 5))
    for i, rate in enumerate([ktr, ktr, ktr, ka]):
        m[i, i] -= rate
        m[i + 1, i] += rate
    m[4, 4] -= ke
    return m


def test_static_grid_finds_the_common_step_or_declines():
    from cohortode.compile._linear import static_grid

    h, ks = static_grid(np.asarray(CLINICAL_TIMES))
    assert h == 0.25 and ks == [1, 2, 4, 8, 14, 20, 28, 36, 48, 96]
    assert static_grid([0.0, 1.0 / 3.0, 2.0]) == (1.0 / 3.0, [0, 1, 6])
    assert static_grid([0.0, np.pi]) is None  # no step with a denominator <= 10,000
    assert static_grid([0.0, 0.0]) is None
    assert static_grid([1e-4, 100.0]) is None  # 10**6 steps: more than 2**16
    assert jax.jit(lambda t: jnp.asarray(static_grid(t) is None))(jnp.asarray(CLINICAL_TIMES))  # traced: declined


@pytest.mark.parametrize("rates", [(25.0, 2.0, 0.08), (1.0, 1.0, 1.0), (0.5, 3.0, 0.01)])
def test_grid_apply_matches_the_reference_on_a_defective_chain(rates):
    from cohortode.compile._linear import grid_apply, static_grid

    m, z = _transit_chain(*rates), np.array([320.0, 0.0, 0.0, 0.0, 0.0])
    times = np.asarray(CLINICAL_TIMES)
    got = np.asarray(grid_apply(jnp.asarray(m), jnp.asarray(z), *static_grid(times)))
    ref = _reference(m, z, times)
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < TOL_GRID
    # the defective matrix takes the exponential fallback; concrete times make it the shared grid, traced ones not
    shared = np.asarray(propagate(jnp.asarray(m), jnp.asarray(z), times))
    per_time = np.asarray(propagate(jnp.asarray(m), jnp.asarray(z), jnp.asarray(times)))
    assert np.max(np.abs(shared - ref)) / np.max(np.abs(ref)) < TOL_GRID
    assert np.max(np.abs(per_time - ref)) / np.max(np.abs(ref)) < TOL_FALLBACK


def test_grid_apply_derivatives_match_the_fixed_cost_exponential():
    from cohortode.compile._linear import grid_apply, static_grid

    times = np.asarray([0.0, *CLINICAL_TIMES])
    grid = static_grid(times)
    z = jnp.asarray([320.0, 0.0, 0.0, 0.0, 0.0])

    def shared(p):
        return grid_apply(jnp.asarray(_transit_chain(1.0, 1.0, 1.0)) * p[0] + jnp.eye(5) * p[1], z, *grid)

    def per_time(p):
        m = jnp.asarray(_transit_chain(1.0, 1.0, 1.0)) * p[0] + jnp.eye(5) * p[1]
        return jax.vmap(lambda t: expm_fixed(m * t) @ z)(jnp.asarray(times))

    p = jnp.asarray([1.7, -0.05])
    for jac in (jax.jacfwd, jax.jacrev):
        got, ref = np.asarray(jac(shared)(p)), np.asarray(jax.jacfwd(per_time)(p))
        assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < TOL_JVP
