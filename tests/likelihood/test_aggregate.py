"""Tests of the aggregate-data likelihood: the per-row formula against SciPy, and AggregateLikelihood on a cohort."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import cohortode
from cohortode import AggregateLikelihood, CohortData, CohortDataError, ODEModel
from cohortode.datasets import cohorts_dir
from cohortode.likelihood import row_loglik

RTOL_LOGLIK = 1e-10  # row_loglik against scipy.stats
COHORT = "synthetic_onecomp_oral"
jit_row_loglik = jax.jit(row_loglik)  # one compilation per input shape instead of op-by-op dispatch


def scipy_row_loglik(ybar, s, n, mu, var, with_sd=True):
    ll = stats.norm.logpdf(ybar, loc=mu, scale=np.sqrt(var / n))
    if with_sd:
        ll = ll + stats.chi2.logpdf((n - 1) * s**2 / var, n - 1) + np.log((n - 1) / var)
    return ll


# ------------------------------------------------------------------------------------------------ row formula
@pytest.fixture(scope="module")
def random_rows():
    rng = np.random.default_rng(12345)
    k = 200
    n = rng.integers(2, 40, size=k).astype(float)
    mu = rng.uniform(-5.0, 20.0, size=k)
    var = rng.uniform(0.05, 9.0, size=k)
    ybar = mu + rng.normal(0.0, 1.0, size=k) * np.sqrt(var / n) * rng.uniform(0.2, 3.0, size=k)
    s = np.sqrt(var * rng.chisquare(n - 1) / (n - 1)) * rng.uniform(0.5, 2.0, size=k)
    return ybar, s, n, mu, var


def test_row_loglik_matches_scipy(random_rows):
    ybar, s, n, mu, var = random_rows
    got = np.asarray(jit_row_loglik(jnp.asarray(ybar), jnp.asarray(s**2), jnp.asarray(n),
                                jnp.ones(len(n), dtype=bool), jnp.asarray(mu), jnp.asarray(var)))
    np.testing.assert_allclose(got, scipy_row_loglik(ybar, s, n, mu, var), rtol=RTOL_LOGLIK)


def test_row_loglik_without_sd_is_the_mean_term_only(random_rows):
    ybar, s, n, mu, var = random_rows
    has_sd = np.arange(len(n)) % 3 != 0
    n = np.where(np.arange(len(n)) % 6 == 0, 1.0, n)  # some single-subject rows (never with an SD)
    s2 = np.where(has_sd, s**2, 0.0)
    got = np.asarray(jit_row_loglik(jnp.asarray(ybar), jnp.asarray(s2), jnp.asarray(n), jnp.asarray(has_sd),
                                jnp.asarray(mu), jnp.asarray(var)))
    want = np.where(has_sd, scipy_row_loglik(ybar, s, np.where(has_sd, n, 2.0), mu, var),
                    stats.norm.logpdf(ybar, loc=mu, scale=np.sqrt(var / n)))
    np.testing.assert_allclose(got, want, rtol=RTOL_LOGLIK)


@pytest.mark.parametrize(
    ("mu", "var"),
    [(np.nan, 1.0), (1.0, np.nan), (np.nan, np.nan), (np.inf, 1.0), (1.0, np.inf), (1.0, 0.0), (1.0, -1.0)],
    ids=["nan-mean", "nan-var", "nan-both", "inf-mean", "inf-var", "zero-var", "negative-var"],
)
def test_failed_prediction_gives_minus_inf(mu, var):
    ones = jnp.ones(3)
    ll = jit_row_loglik(ones * 2.0, ones, ones * 10.0, jnp.array([True, False, True]),
                    jnp.array([1.5, mu, 2.5]), jnp.array([1.0, var, 2.0]))
    ll = np.asarray(ll)
    assert ll[1] == -np.inf
    assert np.all(np.isfinite(ll[[0, 2]]))


def test_row_loglik_gradient_is_finite_where_a_row_failed():
    # The -inf row must not poison gradients of finite rows with NaN (jnp.where on both branches).
    def total(mu):
        ll = row_loglik(jnp.array([2.0, 2.0]), jnp.array([1.0, 1.0]), jnp.array([10.0, 10.0]),
                        jnp.array([True, True]), mu, jnp.array([1.0, 1.0]))
        return ll[0]
    g = jax.jit(jax.grad(total))(jnp.array([1.5, jnp.nan]))
    assert np.isfinite(float(g[0]))


# ------------------------------------------------------------------------------------------------ on a cohort
def oral_model(observable: str = "conc") -> ODEModel:
    return ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                    observables={observable: "central/V"})


@pytest.fixture(scope="module")
def truth():
    doc = json.loads((cohorts_dir() / COHORT / "truth.json").read_text())
    values = dict(doc["typical_parameters"])
    values.update({f"omega_{k}": v for k, v in doc["iiv_sd"].items()})
    values["sigma_prop"] = doc["residual_error"]["proportional"]
    assert doc["residual_error"]["additive"] == 0.0
    return {k: jnp.asarray(float(v)) for k, v in values.items()}


@pytest.fixture(scope="module")
def data():
    return cohortode.load_cohort(COHORT)


SINGLE_ROW = 2  # the third row is made a single-subject row in ``data_partial_sd``


def _variant(data, edit):
    df = data.observations[["cohort", "time", "observable", "mean", "sd", "n"]].copy()
    df = edit(df)
    return CohortData.from_dataframe(df, dosing=data.dosing[["cohort", "time", "amount", "target", "duration"]])


@pytest.fixture(scope="module")
def data_partial_sd(data):
    # One row from a single subject (n = 1, no SD): it gives only the mean term.
    def edit(df):
        df.loc[df.index[SINGLE_ROW], ["n", "sd"]] = [1, np.nan]
        return df
    return _variant(data, edit)


@pytest.fixture(scope="module")
def data_no_sd(data):
    # A table without spreads: every SD is NaN, every row gives only the mean term.
    return _variant(data, lambda df: df.drop(columns="sd"))


@pytest.fixture(scope="module")
def evaluate(data, data_partial_sd, data_no_sd):
    """The likelihoods of the three tables, evaluated by one jitted function (one compilation)."""
    liks = {key: AggregateLikelihood(oral_model(), d, engine="sigma", error="proportional")
            for key, d in [("full", data), ("partial", data_partial_sd), ("no_sd", data_no_sd)]}
    lik = liks["full"]

    @jax.jit
    def run(values):
        m, total = lik.moments(values, lik.layouts[0])
        return {"full": lik.pointwise(values), "partial": liks["partial"].pointwise(values),
                "no_sd": liks["no_sd"].pointwise(values), "mean": m.mean, "total": total, "sum": lik(values)}
    return liks, lambda values: {k: np.asarray(v) for k, v in run(values).items()}


def test_likelihood_is_finite_at_truth(evaluate, truth):
    liks, run = evaluate
    lik = liks["full"]
    out = run(truth)
    pointwise = out["full"]
    assert pointwise.shape == (lik.n_rows,) == (10,)
    assert np.all(np.isfinite(pointwise))
    assert np.isfinite(out["sum"])
    assert float(out["sum"]) == pytest.approx(pointwise.sum(), rel=1e-12)


def predicted(liks, out):
    layout = liks["full"].layouts[0]
    return out["mean"][layout.time_index, layout.obs_index], out["total"][layout.time_index, layout.obs_index]


def test_pointwise_matches_scipy_at_predicted_moments(evaluate, truth, data):
    liks, run = evaluate
    lik = liks["full"]
    out = run(truth)
    pointwise = out["full"]
    mean, total = out["mean"], out["total"]
    obs = data.observations
    layout = lik.layouts[0]
    mu = mean[layout.time_index, layout.obs_index]
    var = total[layout.time_index, layout.obs_index]
    assert np.all(var > 0)
    want = scipy_row_loglik(obs["mean"].to_numpy(float)[layout.rows], obs["sd"].to_numpy(float)[layout.rows],
                            obs["n"].to_numpy(float)[layout.rows], mu, var)
    np.testing.assert_allclose(pointwise[layout.rows], want, rtol=RTOL_LOGLIK)
    # The predicted mean tracks the observed means at the true values (within a few standard errors).
    se = np.sqrt(var / obs["n"].to_numpy(float)[layout.rows])
    assert np.all(np.abs(obs["mean"].to_numpy(float)[layout.rows] - mu) < 4 * se)


def test_rows_without_sd_contribute_only_the_mean_term(evaluate, truth, data_partial_sd, data_no_sd):
    liks, run = evaluate
    out = run(truth)
    mu, var = predicted(liks, out)
    assert list(np.asarray(liks["partial"].has_sd)) == [i != SINGLE_ROW for i in range(10)]
    assert not np.any(np.asarray(liks["no_sd"].has_sd))
    obs = data_partial_sd.observations
    assert obs["n"].iloc[SINGLE_ROW] == 1
    mean_terms = stats.norm.logpdf(obs["mean"].to_numpy(float), loc=mu,
                                   scale=np.sqrt(var / obs["n"].to_numpy(float)))
    assert out["partial"][SINGLE_ROW] == pytest.approx(mean_terms[SINGLE_ROW], rel=RTOL_LOGLIK)
    others = [i for i in range(10) if i != SINGLE_ROW]
    np.testing.assert_allclose(out["partial"][others], out["full"][others], rtol=RTOL_LOGLIK)
    n_full = data_no_sd.observations["n"].to_numpy(float)
    want = stats.norm.logpdf(data_no_sd.observations["mean"].to_numpy(float), loc=mu, scale=np.sqrt(var / n_full))
    np.testing.assert_allclose(out["no_sd"], want, rtol=RTOL_LOGLIK)


@pytest.mark.parametrize(
    "change",
    [dict(ka=5.0), dict(ke=3.0), dict(V=0.5), dict(omega_ka=5.0), dict(sigma_prop=8.0)],
    ids=["ka-x5", "ke-x3", "V-x0.5", "omega_ka-x5", "sigma_prop-x8"],
)
def test_likelihood_is_higher_at_truth_than_at_wrong_values(change, evaluate, truth):
    _, run = evaluate
    wrong = {k: (v * change[k] if k in change else v) for k, v in truth.items()}
    at_truth = run(truth)["full"].sum()
    at_wrong = run(wrong)["full"].sum()
    assert np.isfinite(at_wrong)
    assert at_truth > at_wrong + 1.0, (at_truth, at_wrong)


def test_nan_parameters_give_minus_inf(evaluate, truth):
    _, run = evaluate
    bad = {**truth, "ka": jnp.asarray(np.nan)}
    pointwise = run(bad)["full"]
    assert np.all(pointwise == -np.inf)


def test_observable_unknown_to_the_model_raises(data):
    with pytest.raises(CohortDataError, match="conc") as info:
        AggregateLikelihood(oral_model("cp"), data)
    assert info.value.column == "observable"
    assert info.value.row == 1


def test_dose_target_unknown_to_the_model_raises(data):
    model = ODEModel(states=["gut", "central"], rhs={"gut": "-ka*gut", "central": "ka*gut - ke*central"},
                     observables={"conc": "central/V"})
    with pytest.raises(CohortDataError, match="depot"):
        AggregateLikelihood(model, data)


def test_parameter_site_names(evaluate):
    lik = evaluate[0]["full"]
    assert set(lik.random_effects) == {"V", "ka", "ke"}
    assert lik.error.parameter_names == ("sigma_prop",)
