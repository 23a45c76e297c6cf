r"""A fixed-step solve on a static grid: the classical fourth-order Runge-Kutta method in one ``lax.scan``.

This is the screening path for nonlinear structures (``solver="rk4"``). An adaptive diffrax solve is a ``while``
loop with a step-size controller, event bookkeeping and run-time checks: tracing and compiling it for a new structure
takes many seconds, and each step pays for the controller. Here the steps are known before tracing, so the solve is a
``scan`` over a precomputed array of step sizes: it compiles in a fraction of the time, each evaluation costs a fixed
number of right-hand-side calls, and forward-mode derivatives go straight through it.

The grid of one dosing segment ``[a, b]`` is the union of

- ``steps // 2`` points ``a + (b - a) u^2`` (``u`` uniform in ``[0, 1]``): dense just after a dose, where absorption
  and distribution are fastest;
- ``steps // 2`` uniform points: the mid-course dynamics (an epidemic peak, a growth inflection);
- the observation times of the segment (so every observation is a grid node, never interpolated).

There is no error control inside the solve. The fitting stage checks the grid instead: it compares the
log-likelihood at the optimum with the one on a grid twice as fine, and refines until they agree (see
:mod:`cohortode.infer._screening`). A grid too coarse for a fast (stiff) parameter set gives large or non-finite
states, hence a poor or ``-inf`` log-density, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["segment_grid", "rk4_solve"]


def segment_grid(start: float, end: float, save_times: tuple[float, ...], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Step sizes of the grid of one segment and, per save time, the index of the grid node it falls on.

    Parameters
    ----------
    start, end
        Segment bounds (``end > start``).
    save_times
        Observation times inside ``[start, end]``.
    steps
        Grid resolution: about this many steps (before merging with the observation times).

    Returns
    -------
    dts
        Step sizes, shape ``(K,)``, all positive.
    save_index
        For each save time, the number of steps taken to reach it (``0`` is the segment start).
    """
    span = end - start
    half = max(steps // 2, 1)
    u = np.linspace(0.0, 1.0, half + 1)
    nodes = np.concatenate([start + span * u**2, start + span * u, np.asarray(save_times, dtype=float), [end]])
    nodes = np.unique(np.clip(nodes, start, end))
    # merge nodes closer than a tiny fraction of the span (rounding duplicates)
    keep = np.concatenate([[True], np.diff(nodes) > 1e-9 * max(span, 1.0)])
    nodes = nodes[keep]
    nodes[-1] = end
    save_index = np.array([int(np.argmin(np.abs(nodes - t))) for t in save_times], dtype=int)
    return np.diff(nodes), save_index


def rk4_solve(vector_field: Callable, y0: jax.Array, args, t0: float, dts: np.ndarray,
              substeps: jax.Array | None = None) -> jax.Array:
    """States at every node of the grid ``t0 + cumsum(dts)``, shape ``(K + 1, n_states)`` (the first row is ``y0``).

    ``vector_field(t, y, args)`` is the right-hand side. One classical RK4 step per entry of ``dts``; with
    ``substeps`` (an integer array, possibly traced) each step is split into that many equal RK4 steps, so one
    compiled program solves the grid refined 2, 4, 8... times over (the screening grid check) without recompiling.
    """
    ts = t0 + np.concatenate([[0.0], np.cumsum(dts)[:-1]])

    def rk4(t, y, dt):
        k1 = vector_field(t, y, args)
        k2 = vector_field(t + 0.5 * dt, y + 0.5 * dt * k1, args)
        k3 = vector_field(t + 0.5 * dt, y + 0.5 * dt * k2, args)
        k4 = vector_field(t + dt, y + dt * k3, args)
        return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    if substeps is None:
        def step(y, tdt):
            y_next = rk4(tdt[0], y, tdt[1])
            return y_next, y_next
    else:
        def step(y, tdt):
            t, dt = tdt[0], tdt[1]
            h = dt / substeps.astype(dt.dtype)
            y_next = jax.lax.fori_loop(0, substeps, lambda i, yy: rk4(t + i * h, yy, h), y)
            return y_next, y_next

    _, ys = jax.lax.scan(step, y0, jnp.asarray(np.stack([ts, dts], axis=1)))
    return jnp.concatenate([y0[None, :], ys], axis=0)
