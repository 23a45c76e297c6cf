"""Powers with a non-integer exponent at a zero base: the value of ``x**h``, with finite derivatives at ``x = 0``."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import sympy

import cohortode as co
from cohortode.compile._jaxify import jax_function
from cohortode.infer._problem import BayesianProblem
from cohortode.propose import Problem
from cohortode.propose.motifs import default_library


def test_power_keeps_its_value_and_has_finite_derivatives_at_a_zero_base():
    x, h = sympy.symbols("x h")
    f = jax_function([x**h, sympy.sqrt(x), x ** sympy.Rational(3, 2)], [x, h])
    at = jnp.array([2.0, 0.6])
    assert np.allclose(f(at), [2.0**0.6, np.sqrt(2.0), 2.0**1.5], rtol=1e-15)
    assert np.allclose(jax.jacfwd(f)(at)[0], [0.6 * 2.0**-0.4, np.log(2.0) * 2.0**0.6], rtol=1e-12)
    zero = jnp.array([0.0, 0.6])
    assert np.array_equal(f(zero), [0.0, 0.0, 0.0])
    for jac in (jax.jacfwd(f)(zero), jax.jacrev(f)(zero)):
        assert np.all(np.isfinite(jac)), jac
    assert np.isnan(f(jnp.array([-1.0, 0.6]))[0])  # a negative base is not hidden


def test_sigmoid_emax_pd_structure_has_a_finite_gradient_after_an_oral_dose():
    """The concentration starts at 0 after an oral dose, and ``(central/V)**hill`` there made every gradient NaN: no
    start of the library's sigmoid-Emax indirect-response structures reached a finite density on the recovery suite's
    PD cohort (two oral dose levels). At the prior medians the sigma points put ``hill`` below 1."""
    root = Path(__file__).resolve().parents[2] / "cohorts" / "recovery" / "pd_indirect_response_inhibition_two_doses"
    data = co.CohortData.from_directory(root)
    problem = Problem.from_cohort(data, states=["depot", "central", "response"],
                                  observables={"conc": "central/V", "response": "response"}, domain="pd",
                                  initial={"response": "R0"})
    choice = ("first_order_absorption", "one_compartment", "sigmoid_emax_drug_effect", "indirect_response_3")
    model = default_library().build(problem, choice)
    assert "**hill" in " ".join(model.equations())
    bp = BayesianProblem.build(co.AggregateLikelihood(model, data, solver="rk4"))
    z = jnp.asarray(bp.unconstrain({k: p.typical() for k, p in bp.priors.items()}))
    value, grad = jax.value_and_grad(bp.log_density)(z)
    assert np.isfinite(value) and np.all(np.isfinite(np.asarray(grad)))
