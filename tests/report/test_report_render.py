"""The renderer's pieces without fits: equations, band mixing, the index page, the PDF printer's error."""

import numpy as np
import pandas as pd
import pytest

from cohortode import ODEModel
from cohortode.report import render_index
from cohortode.report._equations import equation_image, latex_lines
from cohortode.report._figures import mix_predictions


def test_every_equation_line_renders_as_an_svg():
    m = ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                 observables={"conc": "central/V"})
    lines = latex_lines(m.latex())
    assert len(lines) == 3 and all("&" not in line for line in lines)
    assert r"\cdot" in lines[1]
    for line in lines:
        uri = equation_image(line)
        assert uri is not None and uri.startswith("data:image/svg+xml;base64,")


def _band(mean, half):
    return pd.DataFrame({"cohort": "a", "observable": "y", "time": [0.0, 1.0], "mean": mean, "mean_lower":
                         np.subtract(mean, half), "mean_upper": np.add(mean, half), "sd": [1.0, 1.0],
                         "sd_lower": [0.9, 0.9], "sd_upper": [1.1, 1.1]})


def test_mixing_bands():
    a, b = _band([1.0, 2.0], 0.1), _band([3.0, 4.0], 0.1)
    same = mix_predictions([a, b], [1.0, 0.0])
    pd.testing.assert_frame_equal(same, a)
    mixed = mix_predictions([a, b], [0.5, 0.5])
    # disagreeing members widen the band to cover both
    assert (mixed["mean_lower"] < a["mean_upper"]).all() and (mixed["mean_upper"] > b["mean_lower"]).all()
    equal = mix_predictions([a, a], [0.5, 0.5])
    np.testing.assert_allclose(equal["mean_upper"], a["mean_upper"], rtol=1e-3)


def test_index_lists_failures_with_their_error(tmp_path):
    path = render_index([{"name": "ok1", "status": "ok", "report": "ok1/report.html", "best": "M1", "seconds": 1.5},
                         {"name": "bad", "status": "failed", "error": "CohortDataError: row 3 <b>"}],
                        path=tmp_path / "index.html")
    html = path.read_text()
    assert 'href="ok1/report.html"' in html and "row 3 &lt;b&gt;" in html and "1 failed" in html


def test_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    from cohortode.report import print_pdf

    monkeypatch.setenv("COHORTODE_CHROMIUM", str(tmp_path / "no-such-browser"))
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    with pytest.raises(RuntimeError, match="install it"):
        print_pdf(page)


class _FakeFit:
    """The parts of a Fit the renderer reads, with fixed numbers (no JAX): a fast test of the whole page."""

    method, solver, seconds = "nuts", "linear", 1.0

    def __init__(self, data, model, shift=0.0):
        self.data, self.model, self.shift = data, model, shift
        self.diagnostics = {"max_r_hat": 1.03, "min_ess_bulk": 150.0, "min_ess_tail": 90.0, "divergences": 2,
                            "ok": False, "problems": ["R-hat above 1.01"]}

    def summary(self, level=0.9):
        rows = {"ka": 1.5, "ke": 0.09, "V": 0.47, "omega_ka": 0.5, "sigma_add": 0.2, "sigma_prop": 0.1}
        return pd.DataFrame({"mean": rows, "sd": 0.1, "median": rows, "q0.05": 0.0, "q0.95": 2.0, "map": rows})

    def predict(self, times, cohort=None, *, level=0.9):
        t = np.asarray(times, float)
        mean = 10 * (np.exp(-0.09 * t) - np.exp(-1.5 * t)) + self.shift
        return pd.DataFrame({"cohort": "theophylline", "observable": "conc", "time": t, "mean": mean,
                             "mean_lower": mean - 0.5, "mean_upper": mean + 0.5, "sd": 1.5 + 0 * t,
                             "sd_lower": 1.0 + 0 * t, "sd_upper": 2.0 + 0 * t})


def test_whole_page_with_counterfactual_and_plain_diagnostics(tmp_path):
    from cohortode import load_cohort
    from cohortode.datasets import cohorts_dir
    from cohortode.report import Member, render_report

    data = load_cohort("theophylline")
    model = ODEModel.from_toml(cohorts_dir() / "theophylline" / "model_onecomp_oral.toml")
    a, b = _FakeFit(data, model), _FakeFit(data, model, shift=1.0)
    comparison = pd.DataFrame({"rank": [1, 2], "name": ["A", "B"], "equations": ["x", "y"], "elpd_loo": [-30.0, -35.0],
                               "se": [5.0, 6.0], "n_high_k": [3, 0], "weight_stacking": [0.8, 0.2]})
    double = a.predict([0, 1, 2, 4, 8, 24]).assign(mean=lambda d: 2 * d["mean"])
    path = render_report(data, [Member("A", a, 0.8), Member("B", b, 0.2)], comparison=comparison,
                         candidates=pd.DataFrame({"source": ["motif"], "status": ["valid"]}),
                         counterfactual={"label": "dose doubled", "prediction": double,
                                         "baseline": a.predict([0, 1, 2, 4, 8, 24]), "description": "8 mg/kg"},
                         provenance={"seed": 3, "llm": "embedded"}, path=tmp_path / "r" / "report.html")
    html = path.read_text()
    for needle in ('id="comparison"', 'id="candidates"', 'id="counterfactual"', "Counterfactual: dose doubled",
                   "chains disagree", "divergent transitions", "3 of 11 data rows", "data hash (sha256)",
                   "absorption rate constant", "1/h", "L/kg", "between-subject SD of ka", "version of jax"):
        assert needle in html, needle
    assert html.count("data:image/png;base64,") >= 5 and html.count('class="equation"') == 6  # 3 lines per member
    assert "<script" not in html and "http://" not in html
