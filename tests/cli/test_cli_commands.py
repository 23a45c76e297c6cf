"""Every subcommand through the installed ``cohortode`` entry point: help with an example, exit codes 0 / 1 / 2,
one-line errors naming file, row and column, and fits of a cohort given as plain CSV files (not a bundled name)."""

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import cohortode
from cohortode.datasets import cohorts_dir

THEO = cohorts_dir() / "theophylline"
MODEL = str(THEO / "model_onecomp_oral.toml")
SUBCOMMANDS = ["validate", "fit", "propose", "discover", "compare", "report", "batch", "demo"]


@pytest.fixture(scope="module")
def cohortode_cli():
    """The ``main`` the installed console script ``cohortode`` calls (run in this process: no new interpreter)."""
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "cohortode"]
    assert ep.value == "cohortode.cli:main"
    return ep.load()


@pytest.fixture
def csv_cohort(tmp_path):
    """The theophylline cohort as two loose CSV files (observations and dosing)."""
    obs = tmp_path / "obs.csv"
    obs.write_text((THEO / "observations.csv").read_text())
    dose = tmp_path / "dose.csv"
    dose.write_text((THEO / "dosing.csv").read_text())
    return obs, dose


@pytest.fixture
def bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("cohort,time,observable,mean,sd,n\n"
                    "a,0,conc,1.0,0.5,10\n"
                    "a,1,conc,abc,0.5,10\n"      # row 2: mean not a number
                    "a,2,conc,1.0,-0.5,10\n"     # row 3: negative SD
                    "a,3,conc,1.0,0.5,10\n")
    return path


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_has_an_example(cohortode_cli, name, capsys):
    assert cohortode_cli([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example:" in out and f"cohortode {name}" in out


def test_installed_script_rejects_a_bad_cohort_file_with_exit_2(bad_csv):
    """The console script itself (a fresh interpreter), on the source tree these tests import."""
    script = Path(sys.executable).parent / "cohortode"
    if not script.is_file():
        pytest.fail(f"the console script {script} is not installed (pip install -e .)")
    env = {**os.environ, "PYTHONPATH": str(Path(cohortode.__file__).parents[1])}
    proc = subprocess.run([str(script), "validate", str(bad_csv)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "row 2 (line 3 of the file), column 'mean'" in proc.stdout
    assert "row 3 (line 4 of the file), column 'sd'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_good_cohort_and_model(cohortode_cli, capsys):
    assert cohortode_cli(["validate", str(THEO), "-m", MODEL]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def test_validate_lists_every_problem_of_every_file(cohortode_cli, bad_csv, tmp_path, capsys):
    dose = tmp_path / "dose.csv"
    dose.write_text("cohort,time,amount,target\na,0,100,depot\nb,0,5,depot\n")
    model = tmp_path / "model.toml"
    model.write_text('states = ["gut", "central"]\n[rhs]\ngut = "-ka*gut"\ncentral = "ka*gut - ke*central"\n'
                     '[observables]\nconc = "central/V"\n')
    assert cohortode_cli(["validate", str(bad_csv), "--dosing", str(dose), "-m", str(model)]) == 2
    out = capsys.readouterr().out
    assert "column 'mean'" in out and "column 'sd'" in out
    assert f"file '{dose}', row 2 (line 3 of the file), column 'cohort'" in out
    assert "doses state 'depot'" in out
    assert "4 error(s)" in out


def test_fit_bad_cohort_is_one_line_exit_2(cohortode_cli, bad_csv, capsys):
    assert cohortode_cli(["fit", "-c", str(bad_csv), "-m", MODEL, "--method", "map"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cohortode fit: error: ") and len(err.strip().splitlines()) == 1
    assert "row 2" in err and "column 'mean'" in err and "Traceback" not in err


def test_debug_shows_the_exception(cohortode_cli, bad_csv):
    with pytest.raises(cohortode.CohortDataError):
        cohortode_cli(["--debug", "fit", "-c", str(bad_csv), "-m", MODEL, "--method", "map"])


def test_fit_a_csv_cohort_save_then_compare_and_report(cohortode_cli, csv_cohort, tmp_path, capsys):
    """A cohort given as loose CSV files: fit and save, then the comparison table and a report from the saved fit."""
    obs, dose = csv_cohort
    saved = tmp_path / "fit_onecomp"
    assert cohortode_cli(["fit", "-c", str(obs), "--dosing", str(dose), "-m", MODEL, "--method", "laplace",
                          "--starts", "2", "--save", str(saved)]) == 0
    assert "Posterior summary" in capsys.readouterr().out
    assert (saved / "model.toml").is_file()
    assert cohortode_cli(["compare", str(saved), "--no-refit", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert {"rank", "name", "elpd_loo", "se", "weight_stacking", "weight_pseudo_bma"} <= set(header)
    assert cohortode_cli(["compare", str(saved), "--cv", "kfold", "--folds", "3", "--format", "csv"]) == 0
    assert "kfold(3) over time blocks" in capsys.readouterr().out
    html = tmp_path / "saved.html"
    assert cohortode_cli(["report", str(saved), "--no-refit", "-o", str(html)]) == 0
    assert 'id="vpc"' in html.read_text()


def test_compare_and_report_need_inputs(cohortode_cli, capsys):
    assert cohortode_cli(["compare"]) == 2
    assert cohortode_cli(["report"]) == 2
    assert cohortode_cli(["compare", "-c", "theophylline", "-m", MODEL, "--format", "xlsx"]) == 2
    err = capsys.readouterr().err
    assert "--format 'xlsx'" in err
    assert cohortode_cli(["compare", "-c", "theophylline", "-m", MODEL, "--cv", "jackknife"]) == 2
    assert "--cv 'jackknife'" in capsys.readouterr().err


def test_discover_input_errors(cohortode_cli, bad_csv, capsys):
    assert cohortode_cli(["discover", str(bad_csv)]) == 2
    assert cohortode_cli(["discover", "theophylline", "--budget", "rounds"]) == 2
    err = capsys.readouterr().err
    assert "column 'mean'" in err and "KEY=VALUE" in err


def test_propose_input_errors(cohortode_cli, capsys):
    assert cohortode_cli(["propose", "--problem", "tumour"]) == 2
    assert cohortode_cli(["propose", "--cohort", "theophylline"]) == 2
    err = capsys.readouterr().err
    assert "choose one of" in err and "--states" in err


@pytest.mark.parametrize("command", [["demo", "--rounds", "1", "--candidates", "1"], ["propose", "--problem", "theophylline", "-k", "1"]])
def test_unreachable_language_model_is_a_failed_run(cohortode_cli, command, tmp_path, capsys):
    missing = str(tmp_path / "no-model.gguf")
    assert cohortode_cli([*command, "--llm", missing]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"cohortode {command[0]}: error: " + err[0].split("error: ", 1)[1]] and missing in err[0]


def test_batch_input_errors(cohortode_cli, tmp_path, capsys):
    assert cohortode_cli(["batch", "theophylline", "-m", str(tmp_path / "none.toml"), "-o", str(tmp_path)]) == 2
    assert "do not exist" in capsys.readouterr().err
    assert cohortode_cli(["batch", "theophylline", "--chains", "0", "-o", str(tmp_path)]) == 2
    assert cohortode_cli(["batch", "theophylline", "--budget", "max_candidates=3", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "num_chains" in err and "max_candidates" in err and not list(tmp_path.iterdir())


def test_report_of_a_folder_that_is_not_a_run_directory(cohortode_cli, tmp_path, capsys):
    assert cohortode_cli(["report", str(tmp_path)]) == 2
    assert "not a discovery run directory" in capsys.readouterr().err


def test_usage_error_exits_2(cohortode_cli):
    with pytest.raises(SystemExit) as info:
        cohortode_cli(["fit", "--no-such-option"])
    assert info.value.code == 2


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_discover_tiny_budget_motifs_only(cohortode_cli, tmp_path, capsys):
    """A real discovery through the command line (motif library only, one round, tiny NUTS, in this process)."""
    run = tmp_path / "run"
    assert cohortode_cli(["discover", "theophylline", "--no-llm", "--domain", "pk", "--budget",
                          "rounds=1,candidates_per_round=1,top_k=1,max_final=1,elpd_margin=0", "--warmup", "60",
                          "--samples", "60", "--chains", "2", "--workers", "1", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "| name |" in out and "elpd_loo" in out and "weight_stacking" in out
    assert (run / "events.jsonl").is_file()
