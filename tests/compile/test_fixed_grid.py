"""The fixed-grid RK4 path of screening: substeps taken at run time equal a grid refined before tracing, and the
grid check of a screening fit compiles one program only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cohortode.compile._fixed_grid import rk4_solve, segment_grid


def _logistic(t, y, args):
    r, k = args
    return r * y * (1.0 - y / k)


def test_substeps_equal_a_grid_with_every_step_split():
    dts, _ = segment_grid(0.0, 10.0, (1.0, 2.5, 7.0), 16)
    y0 = jnp.asarray([0.1])
    halves = np.repeat(dts / 2.0, 2)
    fine = np.asarray(rk4_solve(_logistic, y0, (1.3, 5.0), 0.0, halves))[::2]
    solve = jax.jit(lambda m: rk4_solve(_logistic, y0, (1.3, 5.0), 0.0, dts, m))
    coarse = np.asarray(solve(jnp.asarray(1, jnp.int32)))
    refined = np.asarray(solve(jnp.asarray(2, jnp.int32)))
    np.testing.assert_allclose(refined, fine, rtol=1e-12)
    np.testing.assert_allclose(coarse, np.asarray(rk4_solve(_logistic, y0, (1.3, 5.0), 0.0, dts)), rtol=1e-12)
    exact = 5.0 / (1.0 + (5.0 / 0.1 - 1.0) * np.exp(-1.3 * (np.concatenate([[0.0], np.cumsum(dts)]))))
    # RK4 is fourth order: halving the steps cuts the error by about 16
    err_coarse = np.max(np.abs(coarse[:, 0] - exact))
    err_refined = np.max(np.abs(refined[:, 0] - exact))
    assert err_refined < err_coarse / 8.0


def test_refined_objective_is_the_same_program_on_a_finer_grid():
    from cohortode.infer._multistart import compiled_objective
    from cohortode.infer._screening import _problem
    from cohortode.propose._benchmark_problems import benchmark_problem
    from cohortode.propose.motifs import default_library

    lib = default_library()
    bp = benchmark_problem("theophylline")
    choice = next(c for c in lib.compositions(bp.problem) if "michaelis_menten_elimination" in c)
    model = lib.build(bp.problem, choice)
    coarse = _problem(model, bp.problem.data, "fo", "combined", None, "rk4", 32)
    objective, _ = compiled_objective(coarse, rows=True, refinable=True)
    z = jnp.asarray(coarse.initial_point())
    value_fine_program = float(jax.jit(coarse.log_density_and_rows)(z, jnp.asarray(4, jnp.int32))[1])
    assert float(objective.refined(4)(z)[2]) == pytest.approx(value_fine_program, rel=1e-12)
    assert objective.refined(2).refined(2).substeps == 4
    # the refined log-likelihood converges: the 8x grid is much closer to the 16x grid than the coarse one is
    l1, l8, l16 = (float(objective.refined(m)(z)[2]) for m in (1, 8, 16))
    assert abs(l8 - l16) < abs(l1 - l16) / 10.0 or abs(l1 - l16) < 1e-8
