"""Exact solutions of linear, constant-coefficient segments ``dz/dt = M z``, evaluated at many times at once.

Three methods, chosen by the size ``k`` of ``M`` (see :func:`propagate`):

- ``k <= 2``: closed-form ``exp(M t)`` through the Cayley-Hamilton form ``exp(M t) = c(t) I + s(t) (M - mu I)``
  with ``mu = tr(M)/2`` (:func:`expm_two`). It is stable for coincident, real and complex eigenvalues alike, uses
  elementwise operations only, and so costs about as much as a hand-written analytic solution.
- ``k >= 3``: the eigendecomposition ``exp(M t) = V exp(Lambda t) V^-1`` (LAPACK ``geev``), with derivatives from
  the Daleckii-Krein formula (:func:`spectral_apply`). When ``V`` is ill-conditioned (nearly coincident eigenvalues
  with a near-defective ``M``, e.g. equal rate constants along a chain) it falls back to :func:`expm_fixed`.
- :func:`expm_fixed`: scaling and squaring at a fixed cost, the reference and the fallback.
- :func:`grid_apply`: when the times are known before tracing and all are integer multiples of one step ``h``
  (clinical schedules: 0.25, 0.5, 1, 2, 3.5, ... h), ``exp(M h)`` once, its powers ``exp(M h 2**j)`` by squaring,
  and each time's solution by a few matrix-vector products along the binary digits of ``t / h``. This is the
  squaring phase of one scaling and squaring shared by all times, about ten times cheaper than one exponential per
  time, and it replaces :func:`expm_fixed` in the fallback and the ``"expm"`` method when such a step exists.

Data-dependent branches are ``lax.cond`` on one predicate for the whole batch of virtual patients: the moment engines
``vmap`` with ``axis_name=batch_axis`` and the predicate is reduced over that axis, so only one branch runs (a plain
``cond`` under ``vmap`` would evaluate both).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["expm_fixed", "expm_two", "spectral_apply", "propagate", "LinearMethod", "static_grid", "grid_apply",
           "EXPM_SQUARINGS", "EXPM_TAYLOR_ORDER", "SPECTRAL_MIN_SEPARATION"]

LinearMethod = Literal["auto", "spectral", "expm"]
"""``"auto"`` (closed form for ``k <= 2``, spectral with fallback above), ``"spectral"`` or ``"expm"``."""

EXPM_SQUARINGS = 20
"""Squarings of the fixed-cost matrix exponential: exact to rounding for ``||M dt|| <= 2**19``."""
EXPM_TAYLOR_ORDER = 10

SPECTRAL_MIN_SEPARATION = 1e-6
"""Smallest accepted ``|u_j^H v_j|`` (unit left and right eigenvectors): the reciprocal condition number of each
eigenvalue. Below it the spectral solution could lose more than about ``1e-10`` relative accuracy, and the fixed-cost
exponential is used instead."""

_Q_SERIES = 1e-4  # |q| = |disc| t^2 below which the two-state formula uses its Taylor series


def _any_over_batch(flag: jnp.ndarray, batch_axis: str | None) -> jnp.ndarray:
    """``flag`` (a boolean scalar) or-reduced over the named ``vmap`` axis, so a ``cond`` on it stays a ``cond``."""
    if batch_axis is None:
        return flag
    return lax.pmax(flag.astype(jnp.int32), batch_axis) > 0


# ------------------------------------------------------------------------------------------ fixed-cost expm
def expm_fixed(m: jnp.ndarray) -> jnp.ndarray:
    """Matrix exponential by scaling and squaring with a Taylor polynomial, at a fixed cost.

    ``jax.scipy.linalg.expm`` chooses its Pade order with branches that all run under ``vmap``; this version has no
    data-dependent control flow: scale by ``2**-20``, a degree-10 Taylor polynomial (Horner), then 20 squarings. For
    ``||M|| <= 2**19`` the scaled norm is at most 0.5 and the truncation error below ``1e-16`` relative; larger norms
    give non-finite or inaccurate results, which the checks downstream treat as a failed solve. The Horner steps and
    the squarings are loops with fixed trip counts (see :func:`_taylor_exp`).
    """
    out = _taylor_exp(m / (2.0**EXPM_SQUARINGS))
    return lax.fori_loop(0, EXPM_SQUARINGS, lambda i, x: x @ x, out)


def _taylor_exp(a: jnp.ndarray) -> jnp.ndarray:
    """The degree-:data:`EXPM_TAYLOR_ORDER` Taylor polynomial of ``exp(a)`` (Horner), for a scaled ``a``.

    A loop with a fixed trip count rather than unrolled products: this exponential is compiled into every linear
    structure with three or more states (the fallback of :func:`spectral_apply`), once per dosing segment, and XLA
    compiles a loop body once. Unrolled, the fallback was about half of such a structure's compile time.
    """
    eye = jnp.eye(a.shape[0], dtype=a.dtype)
    order = jnp.asarray(EXPM_TAYLOR_ORDER, dtype=a.dtype)
    return lax.fori_loop(0, EXPM_TAYLOR_ORDER, lambda i, out: eye + (a @ out) / (order - i), eye)


def _expm_apply(m, z, dts):
    grid = static_grid(dts)
    if grid is not None:
        return grid_apply(m, z, *grid)
    return jax.vmap(lambda dt: expm_fixed(m * dt) @ z)(jnp.asarray(dts, dtype=m.dtype))


# ------------------------------------------------------------------------------------- times on a common grid
GRID_MAX_MULTIPLE = 2**16
"""Largest ``t / h`` that :func:`static_grid` accepts (16 squarings beyond ``exp(M h)``)."""
GRID_MAX_DENOMINATOR = 10_000


def static_grid(dts) -> tuple[float, list[int]] | None:
    """A step ``h`` and integers ``k_i`` with ``dts[i] == k_i h`` to rounding, or ``None``.

    ``dts`` must be concrete (known before tracing): a list, tuple or NumPy array of non-negative floats. Each time
    is read as a fraction with denominator at most 10,000 (it must equal the float to 1e-12 relative), and ``h`` is
    their greatest common divisor. ``None`` when the times are traced, not representable so, all zero, or when some
    ``t / h`` exceeds :data:`GRID_MAX_MULTIPLE`.
    """
    if isinstance(dts, jax.core.Tracer):
        return None
    try:
        d = np.asarray(dts, dtype=float)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return None
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d < 0):
        return None
    fractions = []
    for x in d:
        f = Fraction(float(x)).limit_denominator(GRID_MAX_DENOMINATOR)
        if abs(float(f) - x) > 1e-12 * max(1.0, abs(x)):
            return None
        fractions.append(f)
    den = 1
    for f in fractions:
        den = den * f.denominator // math.gcd(den, f.denominator)
    nums = [int(f * den) for f in fractions]
    g = 0
    for n in nums:
        g = math.gcd(g, n)
    if g == 0:
        return None
    ks = [n // g for n in nums]
    if max(ks) > GRID_MAX_MULTIPLE:
        return None
    return g / den, ks


def _expm_scaled(m: jnp.ndarray) -> jnp.ndarray:
    """``exp(M)`` by scaling and squaring with as few squarings as ``||M||_1`` needs (at most 20).

    Fewer squarings than :func:`expm_fixed` when ``||M||`` is small: each squaring roughly doubles the relative
    rounding error, and :func:`grid_apply` squares again after this. The count is a run-time value; the loop has a
    fixed trip count and skips the squarings past it.
    """
    norm = jnp.max(jnp.sum(jnp.abs(m), axis=0))
    squarings = jnp.clip(jnp.ceil(jnp.log2(jnp.maximum(norm, 1e-300) / 0.5)), 0, EXPM_SQUARINGS)
    squarings = jnp.where(jnp.isfinite(squarings), squarings, EXPM_SQUARINGS).astype(jnp.int32)
    out = _taylor_exp(m / (2.0 ** squarings.astype(m.dtype)))
    # a fixed trip count (a scan, not a while loop) keeps reverse-mode derivatives available
    return lax.fori_loop(0, EXPM_SQUARINGS, lambda i, x: jnp.where(i < squarings, x @ x, x), out)


def grid_apply(m: jnp.ndarray, z: jnp.ndarray, h: float, ks: list[int]) -> jnp.ndarray:
    """``exp(M k h) z`` for each integer ``k`` in ``ks`` (static); shape ``(len(ks), k)``.

    ``E_0 = exp(M h)``, ``E_j = E_{j-1}^2 = exp(M h 2**j)``, and the solution at ``k h`` is the solution at the
    previous time multiplied by the ``E_j`` of the binary digits of the difference (times in increasing order cost
    one chain of matrix-vector products; a decrease restarts from ``z``). The squarings and the chain are loops
    (``lax.scan``) over a schedule fixed before tracing, so the compiled program does not grow with the number of
    times.
    """
    n_powers = max(max(ks).bit_length(), 1)
    _, powers = lax.scan(lambda e, _: (e @ e, e), _expm_scaled(m * h), None, length=n_powers)
    # the chain as a flat schedule of products: (power index, restart from z first), and where each time ends
    power_index, restart, ends, previous = [], [], [], 0
    for k in ks:
        start_over = k < previous
        delta = k if start_over else k - previous
        digits = [j for j in range(n_powers) if delta >> j & 1] or [-1]  # -1: no product (a repeated time)
        for i, j in enumerate(digits):
            power_index.append(j)
            restart.append(start_over and i == 0)
        ends.append(len(power_index) - 1)
        previous = k

    def product(current, step):
        j, start_over = step
        current = jnp.where(start_over, z, current)
        current = jnp.where(j >= 0, powers[jnp.maximum(j, 0)] @ current, current)
        return current, current

    _, path = lax.scan(product, z, (jnp.asarray(power_index), jnp.asarray(restart)))
    return path[np.asarray(ends)]


# ----------------------------------------------------------------------------------------------- two states
def _c_and_s(mu, q, t, trig: bool):
    """``c = exp(mu t) cosh(sqrt q)`` and ``s = t exp(mu t) sinh(sqrt q)/sqrt q``, elementwise.

    Two exponentials ``exp((mu +- sqrt(disc)) t)`` (no overflow beyond the solution's own) where ``q > 1e-4``, the
    Taylor series in ``q`` where ``|q| <= 1e-4``, and with ``trig`` ``cos``/``sin`` where ``q < -1e-4`` (complex
    eigenvalues; without ``trig`` no ``q`` may lie there). Unused branches get safe arguments, so no NaN or
    infinity reaches a derivative.
    """
    pos = q > _Q_SERIES
    neg = (q < -_Q_SERIES) if trig else jnp.zeros_like(pos)
    mt = mu * t
    rp = jnp.sqrt(jnp.where(pos, q, _Q_SERIES))
    ea = jnp.exp(mt + rp)
    eb = jnp.exp(mt - rp)
    e_mt = jnp.exp(mt)
    qs = jnp.where(pos | neg, 0.0, q)
    c_other = 1.0 + qs * (1 / 2 + qs * (1 / 24 + qs * (1 / 720)))
    s_other = 1.0 + qs * (1 / 6 + qs * (1 / 120 + qs * (1 / 5040)))
    if trig:
        rn = jnp.sqrt(jnp.where(neg, -q, _Q_SERIES))
        c_other = jnp.where(neg, jnp.cos(rn), c_other)
        s_other = jnp.where(neg, jnp.sin(rn) / rn, s_other)
    c = jnp.where(pos, 0.5 * (ea + eb), e_mt * c_other)
    s = jnp.where(pos, (ea - eb) / (2.0 * rp), e_mt * s_other)
    return c, s * t


def expm_two(m: jnp.ndarray, z: jnp.ndarray, dts: jnp.ndarray, batch_axis: str | None = None) -> jnp.ndarray:
    """``exp(M t) z`` for a 2 x 2 (or 1 x 1) matrix at each ``t`` in ``dts``; shape ``(len(dts), k)``.

    With ``mu = tr(M)/2`` and ``disc = ((m00 - m11)/2)**2 + m01 m10`` (eigenvalues ``mu +- sqrt(disc)``),
    ``exp(M t) = c(t) I + s(t) (M - mu I)``, ``c = exp(mu t) cosh(sqrt(disc) t)``,
    ``s = exp(mu t) sinh(sqrt(disc) t) / sqrt(disc)``. Both are entire functions of ``q = disc t**2``: for small
    ``|q|`` (coincident eigenvalues, ``t`` near 0) a Taylor series in ``q`` is used, for ``q < 0`` (complex
    eigenvalues) ``cos`` and ``sin``, otherwise the two exponentials ``exp((mu +- sqrt disc) t)``. The trigonometric
    branch is compiled but only runs (``lax.cond``) when some patient of the batch needs it.
    """
    t = jnp.asarray(dts, dtype=m.dtype)
    if m.shape[0] == 1:
        return jnp.exp(m[0, 0] * t)[:, None] * z[None, :]
    m00, m01, m10, m11 = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    mu = 0.5 * (m00 + m11)
    h = 0.5 * (m00 - m11)
    disc = h * h + m01 * m10  # written this way, exact for triangular M (no cancellation of mu**2 - det)
    q = disc * t * t
    needs_trig = _any_over_batch(jnp.any(q < -_Q_SERIES), batch_axis)
    c, s = lax.cond(needs_trig, functools.partial(_c_and_s, trig=True), functools.partial(_c_and_s, trig=False),
                    mu, q, t)
    bz = jnp.stack([h * z[0] + m01 * z[1], m10 * z[0] - h * z[1]])  # (M - mu I) z
    return c[:, None] * z[None, :] + s[:, None] * bz[None, :]


# --------------------------------------------------------------------------------------------------- spectral
def _eigendecomposition(m):
    """Eigenvalues, right eigenvectors ``V``, ``V^-1`` and the smallest ``|u_j^H v_j|`` of a real matrix."""
    lam, left, right = lax.linalg.eig(m, compute_left_eigenvectors=True, compute_right_eigenvectors=True)
    overlap = jnp.sum(jnp.conj(left) * right, axis=0)  # u_j^H v_j; LAPACK normalises both to unit length
    inverse = jnp.conj(left).T / overlap[:, None]  # rows u_j^H / (u_j^H v_j) form V^-1
    return lam, right, inverse, jnp.min(jnp.abs(overlap))


def _phi1(x):
    """``expm1(x)/x`` (1 at 0), for complex ``x`` with ``Re x <= 0``."""
    small = jnp.abs(x) < 1e-8
    xs = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 + 0.5 * x, jnp.expm1(xs) / xs)


@jax.custom_jvp
def _with_eigen_derivatives(m, lam, v, w):
    """The decomposition ``(lam, V, V^-1)`` of ``m``, passed through, with first derivatives attached.

    The spectral solution's own JVP rule uses the decomposition; differentiating that rule again (Hessians for the
    Laplace approximation, the linearisation engine's gradients) needs how the decomposition moves with ``m``:
    ``d lam = diag(G)``, ``dV = V (F o G)``, ``d(V^-1) = -V^-1 dV V^-1`` with ``G = V^-1 dM V`` and
    ``F_ij = 1/(lam_j - lam_i)`` off the diagonal (zero where eigenvalues coincide to rounding).
    """
    return lam, v, w


@_with_eigen_derivatives.defjvp
def _with_eigen_derivatives_jvp(primals, tangents):
    m, lam, v, w = primals
    g = w @ tangents[0].astype(w.dtype) @ v
    gap = lam[None, :] - lam[:, None]
    distinct = jnp.abs(gap) > 1e-12 * (1.0 + jnp.max(jnp.abs(lam)))
    f = jnp.where(distinct, 1.0 / jnp.where(distinct, gap, 1.0), 0.0)
    dv = v @ (f * g)
    return (lam, v, w), (jnp.diagonal(g), dv, -w @ dv @ w)


@jax.custom_jvp
def _spectral_solution(m, z, dts, lam, v, w):
    """``Re(V exp(Lambda t) V^-1 z)``; ``lam, v, w`` are the (non-differentiated) decomposition of ``m``."""
    c = w @ z.astype(w.dtype)
    e = jnp.exp(lam[None, :] * dts[:, None])
    return jnp.real((e * c) @ v.T)


@_spectral_solution.defjvp
def _spectral_solution_jvp(primals, tangents):
    # Daleckii-Krein: d exp(M t) [E] = V (G o Phi(t)) V^-1 with G = V^-1 E V and Phi_ij(t) the divided difference of
    # exp(. t) at (lam_i, lam_j); computed as t exp(a) phi1(b - a), a the one with the larger real part, so it is
    # stable for close eigenvalues and never overflows beyond exp(lam t) itself.
    m, z, dts, lam, v, w = primals
    dm, dz = tangents[0], tangents[1]
    lam, v, w = _with_eigen_derivatives(m, lam, v, w)  # identity here; derivatives if this rule is differentiated
    c = w @ z.astype(w.dtype)
    x = lam[None, :] * dts[:, None]
    e = jnp.exp(x)
    y = jnp.real((e * c) @ v.T)
    xi, xj = x[:, :, None], x[:, None, :]
    i_larger = jnp.real(xi) >= jnp.real(xj)
    hi = jnp.where(i_larger, xi, xj)
    lo = jnp.where(i_larger, xj, xi)
    phi = dts[:, None, None] * jnp.exp(hi) * _phi1(lo - hi)
    g = w @ dm.astype(w.dtype) @ v
    u = jnp.einsum("ij,tij,j->ti", g, phi, c) + e * (w @ dz.astype(w.dtype))
    return y, jnp.real(u @ v.T)


def spectral_apply(m: jnp.ndarray, z: jnp.ndarray, dts: jnp.ndarray, batch_axis: str | None = None,
                   min_separation: float = SPECTRAL_MIN_SEPARATION) -> jnp.ndarray:
    """``exp(M t) z`` at each ``t`` in ``dts`` through the eigendecomposition of ``M``; shape ``(len(dts), k)``.

    Falls back to :func:`expm_fixed` for the whole batch when any patient's eigenvector basis is ill-conditioned
    (some ``|u_j^H v_j| < min_separation``) or the decomposition is not finite.
    """
    static_dts = dts
    dts = jnp.asarray(dts, dtype=m.dtype)
    lam, v, w, sep = _eigendecomposition(lax.stop_gradient(m))
    finite = jnp.all(jnp.isfinite(lam)) & jnp.all(jnp.isfinite(w))
    fallback = _any_over_batch(~(finite & (sep >= min_separation)), batch_axis)
    return lax.cond(fallback,
                    lambda m, z, lam, v, w: _expm_apply(m, z, static_dts),
                    lambda m, z, lam, v, w: _spectral_solution(m, z, dts, lam, v, w),
                    m, z, lam, v, w)


def propagate(m: jnp.ndarray, z: jnp.ndarray, dts, method: LinearMethod = "auto",
              batch_axis: str | None = None) -> jnp.ndarray:
    """``exp(M t) z`` at each ``t`` in ``dts`` (shape ``(len(dts), k)``), by the method for the size of ``M``.

    Parameters
    ----------
    m
        Real ``k x k`` matrix.
    z
        Initial value, shape ``(k,)``.
    dts
        Times since the start of the segment. Concrete times (a list or NumPy array, known before tracing) let the
        exponential fallback and ``"expm"`` share one exponential across times (:func:`grid_apply`).
    method
        ``"auto"`` (closed form for ``k <= 2``, else spectral with fallback), ``"spectral"`` or ``"expm"``.
    batch_axis
        Name of the ``vmap`` axis of virtual patients, if any, so branches are chosen once for the whole batch.
    """
    if method == "expm":
        return _expm_apply(m, z, dts)
    if method == "auto" and m.shape[0] <= 2:
        return expm_two(m, z, jnp.asarray(dts, dtype=m.dtype), batch_axis)
    if method in ("auto", "spectral"):
        return spectral_apply(m, z, dts, batch_axis)
    raise ValueError(f"unknown linear method {method!r}; use 'auto', 'spectral' or 'expm'")
