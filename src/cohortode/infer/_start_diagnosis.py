"""Why a MAP start failed: one precise sentence (prior support, ODE solve, variance, scale of the prediction)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._problem import BayesianProblem

__all__ = ["diagnose_start", "SCALE_GAP_DECADES"]

SCALE_GAP_DECADES = 2.0
"""Predicted and observed means further apart than this many powers of ten mean the prior is far from the data."""


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in values.items())


def diagnose_start(problem: BayesianProblem, z: np.ndarray) -> str:
    """Explain why the log posterior density at the unconstrained point ``z`` is not finite or hopeless.

    Checks in order: a site outside its prior's support (or a prior density of zero); the ODE solve of the typical
    individual (all random effects zero); the solve of the virtual patients of the moment engine; the predicted
    variance; the scale of the typical prediction against the observed means; a finite density whose gradient is
    not. Runs only when a start failed, so its compilation costs nothing on the common path.

    Returns
    -------
    str
        One sentence; the site values are included so the failure can be reproduced.
    """
    z = np.asarray(z, dtype=float)
    if not np.all(np.isfinite(z)):
        bad = [n for n, v in zip(problem.site_names, z) if not np.isfinite(v)]
        return f"start value outside the support of the prior of {', '.join(bad)}"
    values = {k: float(v) for k, v in problem.constrain(z).items()}
    dists, _ = problem._transforms
    zero_prior = [n for n, d in zip(problem.site_names, dists) if not np.isfinite(float(d.log_prob(values[n])))]
    if zero_prior:
        return f"prior density zero at {', '.join(zero_prior)} ({_fmt(values)})"
    lik = problem.likelihood
    theta, omega, sigmas = lik.unpack({k: jnp.asarray(v) for k, v in values.items()})
    for layout in lik.layouts:
        f = lik.individual(theta, layout)
        # the engine's batch axis name must be bound (the linear path reduces over it), so a batch of one
        typical = np.asarray(jax.jit(jax.vmap(f, axis_name=lik.engine.batch_axis))(jnp.zeros((1, omega.shape[0]))))
        if not np.all(np.isfinite(typical)):
            return (f"ODE solve ({lik.compiled.solver}) failed for the typical individual of cohort {layout.name!r} "
                    f"(non-finite states: step limit reached or the solution blew up) at {_fmt(values)}")
    for layout in lik.layouts:
        m, total = jax.jit(lambda v, layout=layout: lik.moments(v, layout))(values)
        if not np.all(np.isfinite(np.asarray(m.mean))):
            return (f"ODE solve ({lik.compiled.solver}) failed for some virtual patients ({lik.engine.name} engine) "
                    f"of cohort {layout.name!r}, though the typical individual solves: the random effects reach "
                    f"parameter values where the solve fails, at {_fmt(values)}")
        if not np.all(np.asarray(total) > 0):
            return (f"predicted variance of an observation is not positive in cohort {layout.name!r} (every IIV and "
                    f"residual SD near zero?) at {_fmt(values)}")
    mu, _ = jax.jit(lik.row_moments)(values)
    mu = np.abs(np.asarray(mu))
    obs = np.abs(np.asarray(lik.ybar))
    keep = (mu > 0) & (obs > 0)
    if keep.any():
        gap = float(np.median(np.log10(mu[keep] / obs[keep])))
        if abs(gap) > SCALE_GAP_DECADES:
            return (f"prior far from the data's scale: predicted means are {10**gap:.3g} times the observed ones "
                    f"(median over rows) at {_fmt(values)}; give priors on the data's scale")
    value, grad = jax.jit(jax.value_and_grad(problem.log_density))(jnp.asarray(z))
    if np.isfinite(float(value)) and not np.all(np.isfinite(np.asarray(grad))):
        bad = [n for n, g in zip(problem.site_names, np.asarray(grad)) if not np.isfinite(g)]
        return (f"the log density is finite but its gradient is not (in {', '.join(bad)}): a derivative of the "
                f"right-hand side is infinite or undefined along the solution (a state divided by or raised to a "
                f"power at zero?), at {_fmt(values)}")
    return f"log density not finite for a reason the checks did not find, at {_fmt(values)}"
