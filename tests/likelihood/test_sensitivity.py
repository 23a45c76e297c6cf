"""Derivatives through a solve with one tangent per model parameter (:mod:`cohortode.likelihood._sensitivity`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cohortode
from cohortode import AggregateLikelihood, ODEModel
from cohortode.likelihood import _aggregate, _sensitivity

COHORT = "synthetic_onecomp_oral"
MM = ODEModel(states=["depot", "central"],
              rhs={"depot": "-ka*depot", "central": "ka*depot - Vmax*central/(Km + central)"},
              observables={"conc": "central/V"})
LINEAR = ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                  observables={"conc": "central/V"})
VALUES = {"ka": 1.2, "ke": 0.15, "V": 0.6, "Vmax": 0.9, "Km": 4.0, "omega_ka": 0.4, "omega_ke": 0.25, "omega_V": 0.2,
          "omega_Vmax": 0.3, "omega_Km": 0.2, "sigma_add": 0.3, "sigma_prop": 0.1}


def _forward_gradient(lik: AggregateLikelihood, names: list[str], x: np.ndarray, substeps=None) -> np.ndarray:
    """Log-likelihood gradient in forward mode, one tangent per site (as the objectives and NUTS take it)."""
    def total(v):
        values = dict(zip(names, v))
        return lik(values) if substeps is None else lik(values, substeps)
    basis = jnp.eye(len(x))
    _, tangents = jax.jit(jax.vmap(lambda t: jax.jvp(total, (jnp.asarray(x),), (t,)), out_axes=(None, 0)))(basis)
    return np.asarray(tangents)


@pytest.mark.parametrize("model, solver, engine", [
    (LINEAR, "linear", "sigma"), (LINEAR, "linear", "fo"), (MM, "tsit5", "sigma"), (MM, "rk4", "sigma"),
    (MM, "tsit5", "fo")])
def test_gradients_with_the_rule_equal_plain_forward_mode(model, solver, engine, monkeypatch):
    data = cohortode.load_cohort(COHORT)
    lik = AggregateLikelihood(model, data, engine=engine, solver=solver)
    assert lik.sensitivity_rule
    names = [n for n in VALUES if n in model.parameter_names or n.removeprefix("omega_") in model.parameter_names
             or n.startswith("sigma_")]
    x = np.array([VALUES[n] for n in names])
    substeps = jnp.asarray(2, dtype=jnp.int32) if solver == "rk4" else None
    with_rule = _forward_gradient(lik, names, x, substeps)
    monkeypatch.setattr(_aggregate, "worth_sensitivities", lambda *_: False)
    plain_lik = AggregateLikelihood(model, data, engine=engine, solver=solver)
    assert not plain_lik.sensitivity_rule
    plain = _forward_gradient(plain_lik, names, x, substeps)
    assert np.all(np.isfinite(plain)) and np.any(np.abs(plain) > 1e-3)
    np.testing.assert_allclose(with_rule, plain, rtol=1e-9, atol=1e-9 * np.max(np.abs(plain)))


def test_the_rule_is_used_where_sites_outnumber_parameters_enough():
    assert _sensitivity.worth_sensitivities(3, 8)  # three parameters with IIV, combined error
    assert not _sensitivity.worth_sensitivities(6, 7)  # six parameters, no IIV, additive error
    assert not _sensitivity.worth_sensitivities(3, 4)
    data = cohortode.load_cohort(COHORT)
    assert AggregateLikelihood(LINEAR, data).sensitivity_rule  # 3 parameters, 3 omegas, 2 residual SDs
    no_iiv = LINEAR.with_parameters(ka={"iiv": False}, ke={"iiv": False}, V={"iiv": False})
    assert not AggregateLikelihood(no_iiv, data, error="additive").sensitivity_rule  # 3 parameters, 4 sites
