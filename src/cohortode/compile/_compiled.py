"""Compile an :class:`~cohortode.spec.ODEModel` into JAX functions that simulate observables at given times.

Two solution paths:

- ``"linear"``: when the right-hand side is affine in the states and free of ``t`` (most compartment models), the
  exact solution ``exp(M t) z`` of each dosing segment, with ``M = A`` when the segment has no constant input and
  the augmented ``M = [[A, b + r], [0, 0]]`` otherwise (:mod:`._linear`: closed form for two states, an
  eigendecomposition above, a fixed-cost matrix exponential as the fallback);
- ``"tsit5"`` (explicit, the default for nonlinear structures): the lean adaptive Tsitouras 5(4) solver of
  :mod:`._adaptive` (one ``lax.while_loop`` per segment, steps clipped onto the save times, the error control and
  step-size rule of diffrax's default ``PIDController``), about an order of magnitude cheaper per step than diffrax on
  CPU; ``"kvaerno5"`` (implicit, for stiff ones): diffrax with an adaptive PID step-size controller; and
  ``"tsit5-diffrax"``, diffrax's own Tsit5 with that controller, the reference to cross-check a result against. All
  in float64, forward-mode differentiable, never raising;
- ``"rk4"``: classical Runge-Kutta on a fixed grid built before tracing (:mod:`._fixed_grid`), for screening: fast
  to compile and to evaluate, with no error control of its own (the fitting stage checks the grid).

Doses are exact: integration restarts at every dose time with the bolus added to its state, and infusions add a
constant rate between their start and end. A failed solve (step limit, non-finite state) yields NaN outputs, which the
likelihood turns into ``-inf``; it never raises inside a sampler.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from ..spec import TIME, ODEModel, symbol
from ._adaptive import tsit5_solve
from ._fixed_grid import rk4_solve, segment_grid
from ._jaxify import jax_function
from ._linear import LinearMethod, expm_fixed, propagate
from ._schedule import DoseSchedule

__all__ = ["CompiledModel", "compile_model", "SolverName", "SolverOptions", "expm_fixed"]

SolverName = Literal["auto", "linear", "tsit5", "kvaerno5", "tsit5-diffrax", "rk4"]


@dataclass(frozen=True)
class SolverOptions:
    """Numerical settings of the ODE solver.

    Attributes
    ----------
    rtol, atol
        Relative and absolute tolerances of the step-size controller.
    max_steps
        Step limit per dosing segment; reaching it marks the solve as failed (NaN output, ``-inf`` likelihood).
        Raise it for long or fast-varying problems.
    linear_method
        How the ``"linear"`` path computes ``exp(M t) z``: ``"auto"`` (closed form for a 2 x 2 ``M``, else the
        eigendecomposition with a fallback to the fixed-cost exponential), ``"spectral"`` or ``"expm"``.
    grid_steps
        Resolution of the fixed-step ``"rk4"`` path (screening): about this many steps per dosing segment (see
        :mod:`cohortode.compile._fixed_grid`).
    grid_substeps
        Each step of that grid split into this many equal RK4 steps: the grid a screening fit refined by substeps
        (its objective's program), kept so that the fit predicts on the grid it was fitted on. A grid of
        ``grid_steps * grid_substeps`` steps places its nodes differently, and near RK4's stability limit the two
        can disagree by far more than the grid check's tolerance.
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 4096
    linear_method: LinearMethod = "auto"
    grid_steps: int = 64
    grid_substeps: int = 1


@dataclass(eq=False)
class CompiledModel:
    """JAX functions of one model structure.

    Use :func:`compile_model` (cached per canonical structure) rather than the constructor.

    Attributes
    ----------
    model
        The source model.
    solver
        ``"linear"``, ``"tsit5"``, ``"kvaerno5"``, ``"tsit5-diffrax"`` or ``"rk4"``.
    """

    model: ODEModel
    solver: str
    options: SolverOptions = field(default_factory=SolverOptions)

    def __post_init__(self) -> None:
        m = self.model
        self.state_symbols = [symbol(s) for s in m.states]
        self.param_symbols = [symbol(p) for p in m.parameter_names]
        self.cov_symbols = [symbol(c) for c in m.covariates]
        slots = [*self.state_symbols, *self.param_symbols, *self.cov_symbols, symbol(TIME)]
        self._rhs = jax_function([m.rhs[s] for s in m.states], slots)
        self._obs = jax_function(list(m.observables.values()), slots)
        self._init = jax_function([m.initial[s] for s in m.states], slots)
        self.n_states = len(m.states)
        self.n_observables = len(m.observables)
        if self.solver == "linear":
            system = m.linear_system()
            if system is None:
                raise ValueError("solver='linear' needs a right-hand side affine in the states and free of t")
            a, b = system
            self._a = jax_function(list(a), slots)
            self._b = jax_function(list(b), slots)
            self._b_is_zero = all(e == 0 for e in b)
        elif self.solver == "tsit5":  # for num_steps: one compilation per segment, reused across calls
            self._lean_segment_jit = jax.jit(self._lean_segment, static_argnums=4)
        elif self.solver not in ("kvaerno5", "tsit5-diffrax", "rk4"):
            raise ValueError(f"unknown solver {self.solver!r}; use 'auto', 'linear', 'tsit5', 'kvaerno5', "
                             "'tsit5-diffrax' or 'rk4'")

    # ------------------------------------------------------------------------------------------------ pieces
    def _slots(self, y, params, cov, t):
        return jnp.concatenate([y, params, cov, jnp.reshape(t, (1,))])

    def vector_field(self, t, y, args):
        """``dy/dt`` at ``(t, y)``; ``args = (params, covariates, rates)``."""
        params, cov, rates = args
        return self._rhs(self._slots(y, params, cov, t)) + rates

    def observe(self, y, params, cov):
        """Observables at state ``y``."""
        return self._obs(self._slots(y, params, cov, jnp.zeros(())))

    def initial_state(self, params, cov):
        """State at the first time, before doses."""
        return self._init(self._slots(jnp.zeros(self.n_states), params, cov, jnp.zeros(())))

    # ---------------------------------------------------------------------------------------------- simulate
    def simulate(self, params, cov, schedule: DoseSchedule, times: tuple[float, ...], batch_axis: str | None = None,
                 *, after=None, change_time: float | None = None, substeps: jax.Array | None = None):
        """Observables at ``times`` (sorted, unique) for one individual.

        Parameters
        ----------
        params
            Parameter values, in the order of ``model.parameter_names``.
        cov
            Covariate values, in the order of ``model.covariates``.
        schedule
            The cohort's doses (static).
        times
            Observation times (static, sorted).
        batch_axis
            When ``simulate`` runs under ``jax.vmap(..., axis_name=batch_axis)`` over virtual patients, that name:
            the linear path then picks its numerical branch once for the whole batch instead of evaluating all
            branches for every patient. Results do not depend on it.
        after, change_time
            Parameter values that replace ``params`` from ``change_time`` (static) on, e.g. a contact rate reduced
            from day 5: the solve is cut at ``change_time`` and continues from the state reached there; observables
            at times ``>= change_time`` use ``after``. The initial state always comes from ``params``. Both or
            neither.
        substeps
            ``"rk4"`` path only: split every grid step into this many (an integer array, may be traced); ``None``
            is one. Other paths ignore it.

        Returns
        -------
        Array of shape ``(len(times), n_observables)``; NaN where the solve failed.
        """
        params = jnp.asarray(params, dtype=jnp.float64)
        cov = jnp.asarray(cov, dtype=jnp.float64)
        if (after is None) != (change_time is None):
            raise ValueError("simulate: give both `after` and `change_time`, or neither")
        if after is None:
            states = self._states_at(params, cov, schedule, tuple(times), batch_axis, substeps=substeps)
            return jax.vmap(lambda y: self.observe(y, params, cov))(states)
        after = jnp.asarray(after, dtype=jnp.float64)
        change_time = float(change_time)
        states = self._states_at(params, cov, schedule, tuple(times), batch_axis, after, change_time, substeps)
        before = jax.vmap(lambda y: self.observe(y, params, cov))(states)
        late = jax.vmap(lambda y: self.observe(y, after, cov))(states)
        return jnp.where(jnp.asarray([t >= change_time for t in times])[:, None], late, before)

    def _states_at(self, params, cov, schedule, times, batch_axis=None, after=None, change_time=None, substeps=None):
        y = self.initial_state(params, cov)
        out = []
        ok = jnp.asarray(True)
        breaks = () if change_time is None else (change_time,)
        before = params
        for seg in schedule.segments(self.n_states, times, breaks=breaks):
            params = after if change_time is not None and seg.start >= change_time else before
            for state, amount in seg.boluses:
                y = y.at[state].add(amount)
            rates = jnp.asarray(seg.rates)
            if self.solver == "linear":
                ys, y = self._linear_segment(y, params, cov, seg, batch_axis)
            elif self.solver == "rk4":
                ys, y, seg_ok = self._grid_segment(y, params, cov, rates, seg, substeps)
                ok = ok & seg_ok
            else:
                ys, y, seg_ok = self._ode_segment(y, params, cov, rates, seg)
                ok = ok & seg_ok
            if ys is not None:
                out.append(ys)
        states = jnp.concatenate(out, axis=0) if out else jnp.zeros((0, self.n_states))
        return jnp.where(ok, states, jnp.nan)

    def _linear_segment(self, y, params, cov, seg, batch_axis):
        slots = self._slots(jnp.zeros(self.n_states), params, cov, jnp.zeros(()))
        n = self.n_states
        a = self._a(slots).reshape(n, n)
        dts = [*seg.save_times, seg.end]
        if seg.end <= seg.start and not seg.save_times:
            return None, y
        if self._b_is_zero and not any(seg.rates):  # homogeneous: exp(A t) y
            out = propagate(a, y, np.asarray(dts, dtype=float) - seg.start, self.options.linear_method, batch_axis)
        else:  # constant input: augmented system [[A, b + r], [0, 0]] acting on [y, 1]
            b = self._b(slots).reshape(n) + jnp.asarray(seg.rates)
            m = jnp.zeros((n + 1, n + 1), dtype=a.dtype).at[:n, :n].set(a).at[:n, n].set(b)
            z = jnp.concatenate([y, jnp.ones(1, dtype=y.dtype)])
            rel = np.asarray(dts, dtype=float) - seg.start
            out = propagate(m, z, rel, self.options.linear_method, batch_axis)[:, :n]
        ys = out[:-1] if seg.save_times else None
        return ys, out[-1]

    def _grid_segment(self, y, params, cov, rates, seg, substeps=None):
        if seg.end <= seg.start:
            ys = jnp.broadcast_to(y, (len(seg.save_times), self.n_states)) if seg.save_times else None
            return ys, y, jnp.asarray(True)
        dts, save_index = segment_grid(seg.start, seg.end, seg.save_times, self.options.grid_steps)
        if substeps is None and self.options.grid_substeps > 1:
            substeps = jnp.asarray(self.options.grid_substeps, dtype=jnp.int32)
        path = rk4_solve(self.vector_field, y, (params, cov, rates), seg.start, dts, substeps)
        ok = jnp.all(jnp.isfinite(path))
        ys = path[jnp.asarray(save_index)] if seg.save_times else None
        return ys, path[-1], ok

    def _ode_segment(self, y, params, cov, rates, seg):
        if seg.end <= seg.start:
            ys = jnp.broadcast_to(y, (len(seg.save_times), self.n_states)) if seg.save_times else None
            return ys, y, jnp.asarray(True)
        if self.solver == "tsit5":
            ys_all, ok, _ = self._lean_segment(y, params, cov, rates, seg)
            ys = ys_all[:-1] if seg.save_times else None
            return ys, ys_all[-1], ok
        ts = jnp.asarray([*seg.save_times, seg.end])
        sol = self._diffeqsolve(y, (params, cov, rates), seg, diffrax.SaveAt(ts=ts), diffrax.ForwardMode())
        ok = (sol.result == diffrax.RESULTS.successful) & jnp.all(jnp.isfinite(sol.ys))
        ys = sol.ys[:-1] if seg.save_times else None
        return ys, sol.ys[-1], ok

    def _lean_segment(self, y, params, cov, rates, seg):
        """The lean Tsit5 solve of :mod:`._adaptive` over a segment (``seg.end > seg.start``).

        Returns the states at ``[*seg.save_times, seg.end]``, the ``ok`` flag and the accepted step count. Save times
        at the segment start take the starting state; duplicates (a save time at the end) share one target.
        """
        opts = self.options
        wanted = [*seg.save_times, seg.end]
        targets = tuple(sorted({t for t in wanted if t > seg.start}))
        ys, ok, n_acc = tsit5_solve(self.vector_field, y, (params, cov, rates), seg.start, targets,
                                    rtol=opts.rtol, atol=opts.atol, max_steps=opts.max_steps)
        rows = [y if t <= seg.start else ys[targets.index(t)] for t in wanted]
        return jnp.stack(rows), ok, n_acc

    def _diffeqsolve(self, y, args, seg, saveat, adjoint):
        """One diffrax solve over a dosing segment with this model's solver and options."""
        opts = self.options
        solver = diffrax.Tsit5() if self.solver in ("tsit5", "tsit5-diffrax") else diffrax.Kvaerno5()
        return diffrax.diffeqsolve(
            diffrax.ODETerm(self.vector_field), solver, t0=seg.start, t1=seg.end, dt0=None, y0=y, args=args,
            saveat=saveat, stepsize_controller=diffrax.PIDController(rtol=opts.rtol, atol=opts.atol),
            max_steps=opts.max_steps, throw=False, adjoint=adjoint,
        )

    def num_steps(self, params, cov, schedule: DoseSchedule, times: tuple[float, ...]) -> tuple[int, bool]:
        """Total accepted steps of a numerical solve and whether it succeeded (for solver selection)."""
        if self.solver in ("linear", "rk4"):
            return 0, bool(jnp.all(jnp.isfinite(self.simulate(params, cov, schedule, times))))
        params = jnp.asarray(params, dtype=jnp.float64)
        cov = jnp.asarray(cov, dtype=jnp.float64)
        y = self.initial_state(params, cov)
        steps, ok = 0, True
        for seg in schedule.segments(self.n_states, tuple(times)):
            for state, amount in seg.boluses:
                y = y.at[state].add(amount)
            if seg.end <= seg.start:
                continue
            if self.solver == "tsit5":
                ys_all, seg_ok, n_acc = self._lean_segment_jit(y, params, cov, jnp.asarray(seg.rates), seg)
                steps += int(n_acc)
                ok = ok and bool(seg_ok)
                y = ys_all[-1]
                continue
            sol = self._diffeqsolve(y, (params, cov, jnp.asarray(seg.rates)), seg, diffrax.SaveAt(t1=True),
                                    diffrax.RecursiveCheckpointAdjoint())
            steps += int(sol.stats["num_accepted_steps"])
            ok = ok and bool(sol.result == diffrax.RESULTS.successful) and bool(jnp.all(jnp.isfinite(sol.ys)))
            y = sol.ys[-1]
        return steps, ok


@functools.lru_cache(maxsize=256)
def _compile_cached(key: str, model: ODEModel, solver: str, options: SolverOptions) -> CompiledModel:
    return CompiledModel(model, solver, options)


def compile_model(model: ODEModel, solver: SolverName = "auto", options: SolverOptions | None = None) -> CompiledModel:
    """Compile ``model`` (cached in the process per exact structure, solver and options).

    Parameters
    ----------
    model
        The structure.
    solver
        ``"auto"`` takes ``"linear"`` (the exact solution ``exp(M t) z``, see :mod:`cohortode.compile._linear`) when the
        right-hand side is affine in the states and free of ``t``, else ``"tsit5"``; the fitting stage switches a
        structure to ``"kvaerno5"`` when Tsit5 fails or needs many steps (stiffness). ``"linear"``, ``"tsit5"``,
        ``"kvaerno5"``, ``"tsit5-diffrax"`` (diffrax's Tsit5, a reference for cross-checks) and ``"rk4"`` (fixed
        grid, for screening) force a path.
    options
        Tolerances, step limit and grid resolution.
    """
    options = options or SolverOptions()
    if solver == "auto":
        solver = "linear" if model.linear_system() is not None else "tsit5"
    key = "\n".join([*model.equations(), ",".join(model.parameter_names), ",".join(model.covariates)])
    return _compile_cached(key, model, solver, options)


