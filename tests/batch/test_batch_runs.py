"""``cohortode batch`` over three cohort directories, one of them broken: a discovery run and a report for each good
one, an index that shows the broken one with its error, on the default process pool and on a Dask ``LocalCluster``,
resumed after an interruption; and fits of given model files to each cohort (``-m``), resumed."""

import json
import shutil
from importlib.metadata import entry_points

import pytest

from cohortode.datasets import cohorts_dir

THEO = cohorts_dir() / "theophylline"
MODEL = str(THEO / "model_onecomp_oral.toml")
FILES = ("cohort.toml", "observations.csv", "dosing.csv", "covariates.csv")


@pytest.fixture
def cohorts(tmp_path):
    """Two copies of theophylline (one as a plain CSV pair) and one whose observation file is broken at row 3."""
    paths = []
    for name in ("theo_a", "theo_b", "theo_broken"):
        d = tmp_path / "cohorts" / name
        d.mkdir(parents=True)
        for f in FILES:
            shutil.copy(THEO / f, d / f)
        paths.append(d)
    lines = (paths[2] / "observations.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",12,", ",twelve,")
    (paths[2] / "observations.csv").write_text("\n".join(lines) + "\n")
    return [str(p) for p in paths]


def _cli():
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "cohortode"]
    return ep.load()


def _check(out, capsys):
    index = (out / "index.html").read_text()
    entries = {e["name"]: e for e in json.loads((out / "batch.json").read_text())}
    assert set(entries) == {"theo_a", "theo_b", "theo_broken"}
    for name in ("theo_a", "theo_b"):
        assert entries[name]["status"] == "ok", entries[name]
        assert (out / name / "report.html").is_file()
        assert f'href="{name}/report.html"' in index
    broken = entries["theo_broken"]
    assert broken["status"] == "failed" and "row 3" in broken["error"] and "column 'n'" in broken["error"]
    assert "row 3" in index and "1 failed" in index
    assert "theo_broken: FAILED" in capsys.readouterr().out
    return entries


ARGS = ["-m", MODEL, "--method", "map", "--starts", "1", "--workers", "2"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_batch_on_a_process_pool_then_resume(cohorts, tmp_path, capsys):
    out = tmp_path / "batch"
    assert _cli()(["batch", *cohorts, *ARGS, "-o", str(out)]) == 1
    _check(out, capsys)
    stamp = (out / "theo_a" / "report.html").stat().st_mtime_ns
    # resumed: the finished cohorts are not run again (in process, so this costs no new interpreter)
    assert _cli()(["batch", *cohorts, "-m", MODEL, "--method", "map", "--starts", "1", "--workers", "1",
                   "-o", str(out)]) == 1
    entries = _check(out, capsys)
    assert entries["theo_a"].get("resumed") and entries["theo_b"].get("resumed")
    assert (out / "theo_a" / "report.html").stat().st_mtime_ns == stamp


#: the smallest real discovery: the motif library's first structure (one-compartment oral, linear), 2 x 30 NUTS draws
DISCOVER = ["--no-llm", "--domain", "pk", "--budget", "rounds=1,candidates_per_round=1,top_k=1,max_final=1",
            "--warmup", "30", "--samples", "30", "--chains", "2"]


def _events(run_dir):
    return [json.loads(line)["event"] for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _check_discovery(out, capsys):
    entries = _check(out, capsys)
    index = (out / "index.html").read_text()
    for name in ("theo_a", "theo_b"):
        assert _events(out / name / "run")[-1] == "finished"
        assert (out / name / "run" / "data" / "observations.csv").is_file()
        assert entries[name]["best"].startswith("d(depot)/dt") and entries[name]["best"] in index
    assert not (out / "theo_broken" / "run").exists()
    return entries


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_batch_discovers_on_a_process_pool_then_resumes_an_interrupted_cohort(cohorts, tmp_path, capsys):
    out = tmp_path / "batch_discover"
    assert _cli()(["batch", *cohorts, *DISCOVER, "--workers", "2", "-o", str(out)]) == 1
    _check_discovery(out, capsys)
    # theo_a is interrupted after its NUTS fit (no comparison, no report yet); theo_b finished
    run_a = out / "theo_a" / "run"
    events = (run_a / "events.jsonl").read_text().splitlines()
    (run_a / "events.jsonl").write_text("\n".join(events[:-1]) + "\n")
    (out / "theo_a" / "report.html").unlink()
    (out / "theo_a" / "result.json").unlink()
    stamp_b = (out / "theo_b" / "report.html").stat().st_mtime_ns
    # in process this time (--workers 1): no new interpreter
    assert _cli()(["batch", *cohorts, *DISCOVER, "--workers", "1", "-o", str(out)]) == 1
    entries = _check_discovery(out, capsys)
    assert entries["theo_b"].get("resumed") and (out / "theo_b" / "report.html").stat().st_mtime_ns == stamp_b
    assert not entries["theo_a"].get("resumed")
    # theo_a went on from its run directory: nothing screened or fitted again, only compared and reported
    after = _events(run_a)
    assert [after.count(e) for e in ("proposed", "screened", "fitted", "finished")] == [1, 1, 1, 1]
    assert after[-1] == "finished" and (out / "theo_a" / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_batch_discovers_on_a_dask_local_cluster(cohorts, tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "batch_discover_dask"
    # one single-threaded worker process: the cohorts go through the cluster one after another
    assert _cli()(["batch", *cohorts, *DISCOVER, "--workers", "1", "--scheduler", "local", "-o", str(out)]) == 1
    _check_discovery(out, capsys)
    assert "Executor" in (out / "index.html").read_text()
