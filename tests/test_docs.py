"""The documentation: ``mkdocs build --strict`` passes, the quickstart's commands are the README's, and the generated
pages (every data error message, the CLI reference) say what the code says today."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _two_commands(markdown: str) -> list[str]:
    """The commands of the first bash block after the heading "Two commands" (comments dropped)."""
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", markdown, flags=re.S).group(1)
    lines = [line.split("#")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


@pytest.mark.timeout(600)
def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for page in ("quickstart", "data-format", "models", "llm", "methods", "reports", "cli", "api"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "render_report" in api and "CohortData" in api


def test_quickstart_commands_are_the_readme_commands():
    readme = _two_commands((ROOT / "README.md").read_text())
    quickstart = _two_commands((ROOT / "docs" / "quickstart.md").read_text())
    assert readme == quickstart == ["make demo", "make test"]


def test_every_data_error_example_is_current():
    page = (ROOT / "docs" / "data-format.md").read_text()
    shown = re.search(r"<!-- BEGIN GENERATED: scripts/data_error_examples.py -->\n(.*?)\n<!-- END GENERATED -->",
                      page, flags=re.S).group(1)
    assert shown.strip() == _script("data_error_examples").section().strip(), (
        "docs/data-format.md is out of date: run scripts/data_error_examples.py and paste its output")
    assert shown.count("CohortDataError: ") >= 20


def test_cli_reference_is_current():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page.strip() == _script("cli_reference").reference().strip(), (
        "docs/cli.md is out of date: python scripts/cli_reference.py > docs/cli.md")
    for name in ("validate", "fit", "propose", "discover", "compare", "report", "batch", "demo"):
        assert f"## `cohortode {name}`" in page
