#!/usr/bin/env python
"""Benchmark: milliseconds per likelihood-and-gradient evaluation on the nonlinear ODE path, before and after.

Issue 8 asks for the cost of one evaluation of the log posterior and its gradient (forward mode, as NUTS and the MAP
search use it; sigma-point moments) for one compartment with Michaelis-Menten elimination (theophylline), logistic
growth and SIR (the synthetic benchmark cohorts), through

- ``tsit5-diffrax``: diffrax's Tsit5 with its PID controller and ``SaveAt(ts)``, with one tangent per sampled site
  through the solve (the path before, kept as the reference solver),
- ``tsit5``: cohortode's lean Tsit5 (``compile/_adaptive.py``, one ``lax.while_loop`` per dosing segment), what
  the NUTS fits and the full MAP path run,
- ``rk4 (screen)``: the screening path, classical RK4 on the fixed grid of 64 steps per dosing segment plus the
  observation times (``compile/_fixed_grid.py``; :mod:`cohortode.infer._screening`, whose grid check refines it where
  64 steps do not follow the dynamics),

these two with the parameter-sensitivity rule (one tangent per model parameter through the solve,
``likelihood/_sensitivity.py``), and, for logistic growth, the closed-form solution
``K x0 e^{rt} / (K + x0 (e^{rt} - 1))`` put in place of the solver (the limit). Target: the nonlinear path at least 5
times faster than before; a speed-up line is printed for each path after.

Two figures per path, after compilation: ``at MAP`` (mean of 20 calls of the jitted gradient at the MAP, each
blocked on its result) and ``in loop`` (one jitted ``lax.map`` over 200 points around the MAP, divided by 200; what
a sampler's loop pays). Ratios are measured in one run, so machine load affects both sides alike.

Usage::

    python benchmarks/gradient_cost.py [--points 200]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

STRUCTURES = {
    "michaelis_menten (theophylline)": ("theophylline", ("first_order_absorption", "one_compartment",
                                                          "michaelis_menten_elimination")),
    "logistic growth": ("logistic_growth", None),
    "SIR": ("sir_outbreak", None),
}


class ClosedFormLogistic:
    """Drop-in for ``CompiledModel`` of ``d(size)/dt = r size (1 - size/K)``, ``size(0) = size0``: exact solution."""

    solver = "closed_form"

    def __init__(self, compiled):
        self.model = compiled.model
        self.options = compiled.options
        names = list(self.model.parameter_names)
        self._ik, self._ir, self._i0 = names.index("K"), names.index("r"), names.index("size0")

    def simulate(self, params, cov, schedule, times, batch_axis=None, **_):
        import jax.numpy as jnp

        params = jnp.asarray(params, dtype=jnp.float64)
        k, r, x0 = params[self._ik], params[self._ir], params[self._i0]
        e = jnp.exp(r * jnp.asarray(times, dtype=jnp.float64))
        return (k * x0 * e / (k + x0 * (e - 1.0)))[:, None]


def _plain_forward_mode():
    """The likelihood as it was before the parameter-sensitivity rule: every site's tangent through the solve."""
    import cohortode as co

    class PlainForwardMode(co.AggregateLikelihood):
        sensitivity_rule = False

    return PlainForwardMode


def _timings(problem, z0: np.ndarray, points: int) -> tuple[float, float]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def neg(z):
        return -problem.log_density(z)

    grad = jax.jit(jax.jacfwd(neg))
    np.asarray(grad(jnp.asarray(z0)))
    start = time.perf_counter()
    for _ in range(20):
        np.asarray(grad(jnp.asarray(z0)))
    at_map = (time.perf_counter() - start) / 20 * 1e3
    rng = np.random.default_rng(0)
    zs = jnp.asarray(z0 + 0.2 * rng.normal(size=(points, z0.size)))
    loop = jax.jit(lambda zs: lax.map(jax.jacfwd(neg), zs))
    np.asarray(loop(zs))
    start = time.perf_counter()
    np.asarray(loop(zs))
    return at_map, (time.perf_counter() - start) / points * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import cohortode as co
    from cohortode.compile import SolverOptions
    from cohortode.infer._optimize import find_map
    from cohortode.infer._screening import SCREENING_GRID_STEPS
    from cohortode.infer._problem import BayesianProblem
    from cohortode.propose import default_library
    from cohortode.propose._benchmark_problems import benchmark_problem

    PlainForwardMode = _plain_forward_mode()
    print(f"{'structure':34s} {'path':14s} {'at MAP (ms)':>12s} {'in loop (ms)':>13s}")
    for label, (name, choice) in STRUCTURES.items():
        bp = benchmark_problem(name)
        model = default_library().build(bp.problem, choice or bp.expert)
        data = bp.problem.data
        paths = {"tsit5-diffrax": PlainForwardMode(model, data, engine="sigma", solver="tsit5-diffrax"),
                 "tsit5": co.AggregateLikelihood(model, data, engine="sigma", solver="tsit5")}
        paths["rk4 (screen)"] = co.AggregateLikelihood(model, data, engine="sigma", solver="rk4",
                                                       options=SolverOptions(grid_steps=SCREENING_GRID_STEPS))
        if name == "logistic_growth":
            closed = co.AggregateLikelihood(model, data, engine="sigma", solver="tsit5")
            closed.compiled = ClosedFormLogistic(closed.compiled)
            paths["closed form"] = closed
        problems = {k: BayesianProblem.build(lik) for k, lik in paths.items()}
        z0 = np.asarray(find_map(problems["tsit5"], n_starts=2, seed=0).unconstrained)
        figures = {}
        for path, problem in problems.items():
            figures[path] = _timings(problem, z0, args.points)
            print(f"{label:34s} {path:14s} {figures[path][0]:12.2f} {figures[path][1]:13.2f}", flush=True)
        before = figures["tsit5-diffrax"]
        for path in ("tsit5", "rk4 (screen)"):
            after = figures[path]
            print(f"{label:34s} {'x ' + path:14s} {before[0] / after[0]:11.1f}x {before[1] / after[1]:12.1f}x "
                  f"(speed-up over tsit5-diffrax; target >= 5x)", flush=True)


if __name__ == "__main__":
    main()
