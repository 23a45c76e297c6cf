"""Printing a report to PDF with headless Chromium (Debian's ``chromium`` package), when it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "print_pdf", "CHROMIUM_NAMES", "chromium_flags"]

#: Executable names tried in order; ``$COHORTODE_CHROMIUM`` wins over them.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium executable, or ``None``."""
    override = os.environ.get("COHORTODE_CHROMIUM")
    if override:
        return shutil.which(override) or (override if Path(override).is_file() else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_flags(profile: str) -> list[str]:
    """Flags for a headless run that touches no network and no user profile."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]


def print_pdf(html: str | os.PathLike, pdf: str | os.PathLike | None = None, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF; returns the PDF path (default: the HTML path with ``.pdf``).

    Raises
    ------
    RuntimeError
        When no Chromium is installed (``apt-get install chromium``) or printing fails.
    """
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("--pdf needs headless Chromium; install it (Debian: apt-get install chromium) or set "
                           "COHORTODE_CHROMIUM to its path.")
    html = Path(html).resolve()
    pdf = html.with_suffix(".pdf") if pdf is None else Path(pdf).resolve()
    with tempfile.TemporaryDirectory(prefix="cohortode_chromium_") as profile:
        cmd = [exe, *chromium_flags(profile), "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not pdf.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"Chromium could not print {html} to PDF: {tail[0]}")
    return pdf
