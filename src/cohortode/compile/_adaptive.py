"""A lean adaptive explicit Runge-Kutta solver: Tsitouras 5(4) with error control, in one ``lax.while_loop``.

Why not diffrax here: on XLA-CPU the cost of a diffrax step over a small state is per-operation overhead (the PID
controller, ``SaveAt(ts)`` with its inner save loop and interpolation, events, bookkeeping), not arithmetic. This
module does only what the ``"tsit5"`` path of :class:`~cohortode.compile.CompiledModel` needs:

- the Tsitouras 5(4) pair (Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
  simplifying assumption", Computers & Mathematics with Applications 62 (2011) 770-775), first same as last (FSAL);
- an error estimate in the mixed RMS norm ``rms(err / (atol + rtol * max(|y0|, |y1|)))`` (as diffrax), a step
  accepted when the norm is below 1;
- an integral (I) step-size controller ``h_new = h * clip(0.9 * norm**(-1/5), 0.2, 10)`` (at most ``0.9`` after a
  rejection), as diffrax's default ``PIDController``; a trial step whose state or error is not finite counts as a
  rejection with the smallest factor;
- an initial step from Hairer, Norsett and Wanner (Solving ODEs I, Sec. II.4) as diffrax;
- no dense output: every step is clipped so that it lands exactly on the next save time, where the state is recorded
  (a step within 10% of the remaining distance is stretched to land, rather than leaving a sliver; after a landing the
  next proposal is at least the unclipped one);
- a step limit (accepted and rejected steps) and an ``ok`` flag: ``False`` when the last save time was not reached
  or a recorded state is not finite. It never raises.

Step sizes carry no derivative (``stop_gradient``, as diffrax), so forward-mode derivatives (``jax.jvp``,
``jax.jacfwd``) are those of the discrete solution on the step sequence taken. Reverse mode is not supported (the loop
is a ``lax.while_loop``). It works under ``jax.vmap``: the loop then runs until every member is done.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["TSIT5_A", "TSIT5_B", "TSIT5_C", "TSIT5_E", "tsit5_solve"]

# --- Tsitouras (2011) 5(4) tableau, Table 1 (to double precision) ---------------------------------------------------
TSIT5_C = (0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0)
TSIT5_A = (
    (),
    (0.161,),
    (-0.008480655492356989, 0.335480655492357),
    (2.897153057105493, -6.359448489975075, 4.3622954328695815),
    (5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525),
    (5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383),
    (0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081, 2.324710524099774),
)
TSIT5_B = (0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081, 2.324710524099774,
           0.0)
# the embedded fourth-order weights b_hat of the paper; the error estimate is h * sum((b - b_hat) k)
_B_HAT = (0.09468075576583945, 0.009183565540343254, 0.4877705284247616, 1.234297566930479, -2.7077123499835256,
          1.866628418170587, 1.0 / 66.0)
TSIT5_E = tuple(b - bh for b, bh in zip(TSIT5_B, _B_HAT))

_SAFETY, _FACTOR_MIN, _FACTOR_MAX = 0.9, 0.2, 10.0
_ERROR_ORDER = 5.0  # local order of the 4th-order embedded estimate
_STRETCH = 1.1  # a step may grow by this factor to land on a save time


def _combine(coeffs, ks):
    """``sum(c * k)`` over the non-zero coefficients (a Python-unrolled sum, which XLA fuses)."""
    out = None
    for c, k in zip(coeffs, ks):
        if c == 0.0:
            continue
        term = c * k
        out = term if out is None else out + term
    return out


def _rms(x):
    return jnp.sqrt(jnp.mean(x * x))


def initial_step(fn: Callable, t0, y0, f0, args, rtol: float, atol: float):
    """Starting step size (Hairer, Norsett & Wanner, Solving ODEs I, Sec. II.4), without derivative."""
    y0 = lax.stop_gradient(y0)
    f0 = lax.stop_gradient(f0)
    args = lax.stop_gradient(args)
    scale = atol + rtol * jnp.abs(y0)
    d0 = _rms(y0 / scale)
    d1 = _rms(f0 / scale)
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = jnp.where(small, 1e-6, 0.01 * d0 / jnp.where(small, 1.0, d1))
    f1 = fn(t0 + h0, y0 + h0 * f0, args)
    d2 = _rms((f1 - f0) / scale) / h0
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(dmax <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / jnp.where(dmax <= 1e-15, 1.0, dmax)) ** (1.0 / _ERROR_ORDER))
    h = jnp.minimum(100.0 * h0, h1)
    return jnp.where(jnp.isfinite(h) & (h > 0), h, 1e-6)


def tsit5_solve(fn: Callable, y0, args, t0: float, targets: tuple[float, ...], *, rtol: float = 1e-6,
                atol: float = 1e-9, max_steps: int = 4096):
    """Integrate ``dy/dt = fn(t, y, args)`` from ``t0`` and return the states at ``targets``.

    Parameters
    ----------
    fn
        Vector field ``fn(t, y, args) -> dy/dt`` (``y`` a 1-D array).
    y0
        State at ``t0``.
    args
        Passed to ``fn`` (a pytree of arrays, may carry derivatives).
    t0
        Start time (static).
    targets
        Save times (static), strictly increasing and all ``> t0``; the last is the end of the integration.
    rtol, atol
        Tolerances of the mixed error norm.
    max_steps
        Limit on the number of trial steps (accepted and rejected); reaching it before the last target sets
        ``ok = False``.

    Returns
    -------
    ys, ok, n_accepted
        States at ``targets`` (shape ``(len(targets), n)``), whether the solve reached the end with finite states,
        and the number of accepted steps.
    """
    targets = tuple(float(t) for t in targets)
    if not targets or targets[0] <= t0 or any(b <= a for a, b in zip(targets[:-1], targets[1:])):
        raise ValueError(f"tsit5_solve: targets must be strictly increasing and after t0={t0}; got {targets}")
    m = len(targets)
    y0 = jnp.asarray(y0)
    dtype = y0.dtype
    target_arr = jnp.asarray(np.asarray(targets), dtype=dtype)
    slot = jnp.arange(m)
    t_start = jnp.asarray(t0, dtype=dtype)
    f0 = fn(t_start, y0, args)
    h_init = initial_step(fn, t_start, y0, f0, args, rtol, atol)
    ys_init = jnp.zeros((m,) + y0.shape, dtype=dtype)
    c, a, b, e = TSIT5_C, TSIT5_A, TSIT5_B, TSIT5_E

    # The carry is packed to keep the loop body small (under vmap every carry leaf costs a select per step):
    # (t, h) in one float vector, (next target, trial steps, accepted steps) in one int vector, (y, f(t, y)) in one
    # (2, n) array.
    def cond(carry):
        _, counts, _, _ = carry
        return (counts[0] < m) & (counts[1] < max_steps)

    def body(carry):
        th, counts, yk, ys = carry
        t, h = th[0], th[1]
        i = counts[0]
        y, k1 = yk[0], yk[1]
        target = target_arr[i]
        remaining = target - t
        # land on the target when it is within reach, stretching the proposed step by up to _STRETCH rather than
        # leaving a sliver for the next step
        land = _STRETCH * h >= remaining
        dt = jnp.where(land, remaining, h)
        ks = [k1]
        for s in range(1, 6):
            ys_stage = y + dt * _combine(a[s], ks)
            ks.append(fn(t + c[s] * dt, ys_stage, args))
        y1 = y + dt * _combine(b, ks)
        t1 = jnp.where(land, target, t + dt)
        k7 = fn(t1, y1, args)
        ks.append(k7)
        # error control, without derivative
        err = dt * _combine(e, [lax.stop_gradient(k) for k in ks])
        y0s, y1s = lax.stop_gradient(y), lax.stop_gradient(y1)
        norm = _rms(err / (atol + rtol * jnp.maximum(jnp.abs(y0s), jnp.abs(y1s))))
        good = jnp.isfinite(norm)
        accept = good & (norm < 1.0)
        raw = _SAFETY * jnp.where(good & (norm > 0), norm, 1.0) ** (-1.0 / _ERROR_ORDER)
        raw = jnp.where(good & (norm > 0), raw, jnp.where(good, _FACTOR_MAX, _FACTOR_MIN))
        factor = jnp.clip(raw, _FACTOR_MIN, jnp.where(accept, _FACTOR_MAX, _SAFETY))
        h_new = dt * factor
        # a step shortened to land on a save time says little about the step the solution allows
        h_new = jnp.where(accept & land, jnp.maximum(h_new, h), h_new)
        record = accept & land
        ys = jnp.where((slot == i)[:, None] & record, y1, ys)
        th = jnp.stack([jnp.where(accept, t1, t), h_new])
        counts = counts + jnp.stack([record, jnp.ones_like(record), accept]).astype(counts.dtype)
        yk = jnp.where(accept, jnp.stack([y1, k7]), yk)
        return th, counts, yk, ys

    carry = (jnp.stack([t_start, h_init]), jnp.zeros(3, dtype=jnp.int32), jnp.stack([y0, f0]), ys_init)
    _, counts, _, ys = lax.while_loop(cond, body, carry)
    i, n_acc = counts[0], counts[2]
    ok = (i == m) & jnp.all(jnp.isfinite(ys))
    return ys, ok, n_acc
