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
