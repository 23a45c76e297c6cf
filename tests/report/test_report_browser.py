"""A report from a real discovery run, opened in headless Chromium: no console error, no network, every image
decoded.

The session's tiny discovery on the real theophylline cohort (``tiny_discovery`` in ``tests/conftest.py``: two linear
structures screened, fitted by NUTS and weighed) is reported from its run directory alone through the installed
``cohortode`` entry point (``cohortode report RUN_DIR``, no ``--cohort``); the report is then loaded over the DevTools
protocol. In CI (``$CI`` set) a missing Chromium fails the test instead of skipping it.
"""

import os
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from cohortode.report import find_chromium

PAGE_FACTS = """(() => {
  const imgs = [...document.images];
  return {images: imgs.length, undecoded: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
          comparisonRows: document.querySelectorAll('table#comparison tbody tr').length,
          equations: document.querySelectorAll('img.equation').length,
          equationAlts: [...document.querySelectorAll('img.equation')].map(i => i.alt),
          sections: [...document.querySelectorAll('section')].map(s => s.id),
          scripts: document.scripts.length};
})()"""


def _browser_or_skip():
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    pytest.importorskip("tornado")
    from _browser import open_page

    return open_page


def cohortode_entry_point():
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "cohortode"]
    return ep.load()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_report_of_a_real_discovery_run_in_headless_chromium(tiny_discovery, tmp_path, capsys):
    open_page = _browser_or_skip()
    disc, run_dir = tiny_discovery
    out = tmp_path / "theophylline.html"
    code = cohortode_entry_point()(["report", str(run_dir), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    html = out.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html

    visit = open_page(out, PAGE_FACTS, tmp_path / "report.png")
    artifacts = os.environ.get("COHORTODE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(visit.screenshot, Path(artifacts) / "report.png")
        shutil.copy(out, Path(artifacts) / "report.html")
    facts = visit.result
    assert visit.console_errors == []
    assert visit.network == []
    assert facts["images"] >= 5 and facts["undecoded"] == [], facts
    assert facts["comparisonRows"] == len(disc.table()) == 2
    # one image per equation line (2 rates + 1 observable) for each of the two fitted structures, at least
    assert facts["equations"] >= 6, facts
    assert "d(central)/dt = depot*ka - central*ke" in facts["equationAlts"]
    assert {"data", "structures", "comparison-section", "vpc", "weights", "members", "diagnostics",
            "provenance"} <= set(facts["sections"])
    assert visit.screenshot.stat().st_size > 10_000


def test_the_harness_sees_network_requests_and_console_errors(tmp_path):
    """A negative control: a page that fetches from the network and logs an error is caught."""
    open_page = _browser_or_skip()
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://192.0.2.1/x.png" alt="remote">'
                    '<script>console.error("boom")</script></body></html>')
    visit = open_page(page, "document.images[0].naturalWidth", tmp_path / "bad.png", timeout=60)
    assert any("192.0.2.1" in u for u in visit.network)
    assert any("boom" in e for e in visit.console_errors)
    assert visit.result == 0


def test_print_to_pdf(tmp_path):
    _browser_or_skip()
    from cohortode.report import print_pdf, render_index

    page = render_index([{"name": "a", "status": "ok", "report": "a/report.html"}], path=tmp_path / "index.html")
    pdf = print_pdf(page)
    assert pdf == page.with_suffix(".pdf") and pdf.read_bytes().startswith(b"%PDF")
