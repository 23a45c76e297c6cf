"""``Discovery.load``: a finished run read back from its run directory alone equals the run that wrote it."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from cohortode import CohortData, CohortodeError
from cohortode.data import data_hash
from cohortode.datasets import cohorts_dir
from cohortode.discover import Budget, Discovery, SerialExecutor, discover
from cohortode.propose._benchmark_problems import benchmark_problem

from . import _fakes


@pytest.fixture(scope="module")
def loaded(tiny_discovery):
    _, run_dir = tiny_discovery
    return Discovery.load(run_dir)


@pytest.mark.slow
def test_tables_timings_and_log_equal_the_run(tiny_discovery, loaded):
    disc, run_dir = tiny_discovery
    assert len(disc.table()) == 2 and disc.ensemble is not None
    pd.testing.assert_frame_equal(loaded.table(), disc.table())
    pd.testing.assert_frame_equal(loaded.candidates(), disc.candidates())
    assert loaded.timings == pytest.approx(disc.timings, rel=1e-12)
    assert loaded.stopped == disc.stopped and loaded.llm_log == disc.llm_log
    assert set(loaded.models) == set(disc.models) and set(loaded.posteriors) == set(disc.posteriors)
    assert {h: m.structure_hash for h, m in loaded.models.items()} == {h: h for h in disc.models}
    assert loaded.problem == disc.problem and loaded.run_dir == run_dir
    assert repr(loaded) == repr(disc)


@pytest.mark.slow
def test_the_run_directory_records_the_cohort_data(tiny_discovery, loaded):
    disc, run_dir = tiny_discovery
    assert (run_dir / "data" / "observations.csv").is_file() and (run_dir / "problem.json").is_file()
    assert data_hash(loaded.data) == data_hash(disc.data)
    pd.testing.assert_frame_equal(loaded.data.observations, disc.data.observations)


@pytest.mark.slow
def test_ensemble_predictions_equal_the_run(tiny_discovery, loaded):
    disc, _ = tiny_discovery
    assert loaded.ensemble.weights == pytest.approx(disc.ensemble.weights, abs=0)
    times = [0.5, 1.0, 4.0, 12.0, 24.0]
    pd.testing.assert_frame_equal(loaded.ensemble.predict(times, seed=3), disc.ensemble.predict(times, seed=3))


@pytest.mark.slow
def test_unfinished_foreign_or_edited_run_directories_are_one_line_errors(tiny_discovery, tmp_path):
    _, run_dir = tiny_discovery
    with pytest.raises(CohortodeError, match="not a discovery run directory"):
        Discovery.load(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    lines = (copy / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "finished"
    (copy / "events.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    with pytest.raises(CohortodeError, match="has not finished"):
        Discovery.load(copy)
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n")
    obs = copy / "data" / "observations.csv"
    obs.write_text(obs.read_text().replace(",12,", ",11,", 1))
    with pytest.raises(CohortodeError, match="hash"):
        Discovery.load(copy)


def test_fake_fits_load_back_and_a_resume_with_other_data_is_refused(tmp_path, monkeypatch):
    """With the loop's cheap fakes (no ensemble; fits stored as InferenceData), and a resume of the run directory
    with edited data, which its recorded data/ make detectable."""
    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    llm = _fakes.ScriptedLLM([[_fakes.ONECOMP, _fakes.ZERO_ORDER]])
    budget = Budget(rounds=1, candidates_per_round=2, top_k=2, elpd_margin=0.0)
    kw = dict(llm=llm, motifs=False, budget=budget, seed=3, run_dir=tmp_path / "run", executor=SerialExecutor(),
              progress=False)
    disc = discover(problem.data, problem, **kw)
    loaded = Discovery.load(tmp_path / "run")
    pd.testing.assert_frame_equal(loaded.table(), disc.table())
    pd.testing.assert_frame_equal(loaded.candidates(), disc.candidates())
    assert loaded.ensemble is None and set(loaded.posteriors) == set(disc.posteriors) and len(disc.posteriors) >= 1
    assert loaded.llm_log == disc.llm_log and loaded.problem == disc.problem

    theo = cohorts_dir() / "theophylline"
    obs = tmp_path / "obs.csv"
    obs.write_text((theo / "observations.csv").read_text().replace(",12,", ",11,", 1))
    other = CohortData.from_csv(obs, dosing=theo / "dosing.csv")
    with pytest.raises(ValueError, match="other cohort data"):
        discover(other, replace(problem, data=other), **kw)
