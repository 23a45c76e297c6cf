"""The command line: a fit from the bundled files, and clear errors for bad input."""

import pytest

from cohortode.cli import main
from cohortode.datasets import cohorts_dir

THEO_MODEL = str(cohorts_dir() / "theophylline" / "model_onecomp_oral.toml")


def test_fit_map_prints_the_summary(capsys):
    assert main(["fit", "--cohort", "theophylline", "--model", THEO_MODEL, "--method", "map"]) == 0
    out = capsys.readouterr().out
    assert "MAP estimates" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:] if len(line.split()) == 2}
    assert {"ka", "ke", "V", "omega_ka", "sigma_add", "sigma_prop"} <= set(rows)
    assert 0.78 < float(rows["ka"]) < 3.2 and 0.04 < float(rows["ke"]) < 0.18  # near the published 1.57 and 0.088


def test_unknown_cohort_is_a_clear_error(capsys):
    assert main(["fit", "--cohort", "theophyline", "--model", THEO_MODEL, "--method", "map"]) == 2
    err = capsys.readouterr().err
    assert "cohortode fit: error" in err and "Did you mean 'theophylline'?" in err
    assert "Traceback" not in err


def test_bad_model_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "model.toml"
    bad.write_text('states = ["depot", "central"]\n[rhs]\ndepot = "-ka*depot"\ncentral = "__import__(\'os\')"\n'
                   '[observables]\nconc = "central/V"\n')
    assert main(["fit", "--cohort", "theophylline", "--model", str(bad), "--method", "map"]) == 2
    err = capsys.readouterr().err
    assert "cohortode fit: error" in err and "Traceback" not in err


def test_missing_model_file(tmp_path, capsys):
    assert main(["fit", "--cohort", "theophylline", "--model", str(tmp_path / "nope.toml"), "--method", "map"]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_unknown_subcommand_exits_with_usage():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
