"""Printing a report to PDF with headless Chromium (Debian's ``chromium`` package), when it is installed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["find_chromium", "print_pdf", "CHROMIUM_NAMES", "chromium_flags", "chromium_process"]

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


@contextlib.contextmanager
def chromium_process(exe: str, args: list[str], **popen: object) -> Iterator[subprocess.Popen]:
    """Run Chromium with a scratch profile; on exit end its whole process group and remove the profile.

    Chromium's helpers (renderer, crash handler) can outlive the browser process for a moment and keep writing into
    the profile, so the profile is removed only after the process group is gone, with a few retries.

    Parameters
    ----------
    exe
        The Chromium executable.
    args
        Arguments after the headless flags and the profile.
    **popen
        Passed to :class:`subprocess.Popen` (e.g. ``stderr=subprocess.PIPE``).
    """
    profile = tempfile.mkdtemp(prefix="cohortode_chromium_")
    proc = None
    try:
        proc = subprocess.Popen([exe, *chromium_flags(profile), *args], start_new_session=True, **popen)
        yield proc
    finally:
        if proc is not None:
            _end_group(proc)
        _remove_profile(profile)


def _end_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # helpers that outlived the browser process
        os.killpg(proc.pid, signal.SIGKILL)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _remove_profile(profile: str, attempts: int = 20, pause: float = 0.25) -> None:
    for _ in range(attempts):
        shutil.rmtree(profile, ignore_errors=True)
        if not os.path.exists(profile):
            return
        time.sleep(pause)


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
    args = ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()]
    with chromium_process(exe, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium could not print {html} to PDF within {timeout:g} s") from None
    if proc.returncode != 0 or not pdf.is_file():
        tail = (err or out).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"Chromium could not print {html} to PDF: {tail[0]}")
    return pdf
