"""What a user sees carries no third-party warning chatter."""

from __future__ import annotations

import os
import subprocess
import sys


def test_import_prints_no_third_party_warning(tmp_path):
    # A fresh cache folder: arviz shows its refactor notice once a day, at the first import of the day.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "COHORTODE_CACHE_DIR": str(tmp_path / "cohortode")}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-W", "default", "-c", "import cohortode, arviz"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert (tmp_path / "arviz").is_dir(), "arviz did not run its once-a-day notice check: the test proves nothing"
