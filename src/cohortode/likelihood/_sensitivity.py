"""Forward-mode derivatives of an ODE solve with one tangent per model parameter.

Every derivative in cohortode is taken in forward mode (the MAP search, the Laplace Hessian and NUTS push one
tangent per sampled site through the whole likelihood, see :func:`cohortode.infer._multistart.compiled_objective`).
A population model has more sampled sites than model parameters: each parameter's typical value, most parameters'
between-subject SDs (``omega_*``) and the residual SDs. Without help, every one of those tangents runs through the ODE
solve of every sigma point, although a solve depends on the sites only through its individual's parameter vector
``phi``.

:func:`parameter_sensitivities` gives the solve a JVP rule that computes the sensitivities ``d y / d phi`` (one
tangent per model parameter, batched) and contracts them with whatever tangent arrives. With ``k`` parameters and
``d`` sites the solve carries ``k`` tangents instead of ``d``: about half as many for a model whose parameters all
have a between-subject SD. Results equal the plain derivatives to rounding (``tests/likelihood``); figures:
``python benchmarks/gradient_cost.py`` and ``python benchmarks/screening.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["parameter_sensitivities", "worth_sensitivities"]

SITES_PER_PARAMETER = 4 / 3
"""The rule is used when the sampled sites that reach a solve outnumber the model parameters by more than this factor:
at or below it the tangents saved do not repay the second trace of the solve the rule costs at compile time."""


def parameter_sensitivities(solve: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """``solve(phi)`` (``phi``: the parameter vector, shape ``(k,)``) with a JVP rule of ``k`` batched tangents.

    The rule returns ``(solve(phi), J @ dphi)`` with ``J = d solve / d phi`` computed by ``k`` forward-mode tangents
    through ``solve``. Under a batch of outer tangents (``vmap`` over a basis, as the objectives do) ``phi`` carries
    no batch axis, so ``J`` is computed once and only the contraction is batched. Anything ``solve`` closes over
    (covariates, the dosing schedule, the grid's substeps) is a constant to the rule.
    """
    @jax.custom_jvp
    def solved(phi):
        return solve(phi)

    @solved.defjvp
    def solved_jvp(primals, tangents):
        (phi,), (dphi,) = primals, tangents
        basis = jnp.eye(phi.shape[0], dtype=phi.dtype)
        value, jt = jax.vmap(lambda v: jax.jvp(solve, (phi,), (v,)), out_axes=(None, 0))(basis)
        return value, jnp.tensordot(dphi, jt, axes=1)

    return solved


def worth_sensitivities(n_parameters: int, n_sites: int) -> bool:
    """Whether :func:`parameter_sensitivities` pays for a solve of ``n_parameters`` reached by ``n_sites`` sites."""
    return n_sites > SITES_PER_PARAMETER * n_parameters
