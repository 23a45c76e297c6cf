"""Turn a backend specification (``None``, a URL or a local path) into a loaded :class:`LLMBackend`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ..._errors import LLMBackendError
from ._settings import configured_model
from .base import LLMBackend
from .http_backend import ENV_API_KEY, OpenAIHTTPBackend
from .transformers_backend import ENV_MODEL, TransformersBackend, select_model

__all__ = ["resolve_backend", "clear_backend_cache", "ENV_HTTP_MODEL"]

ENV_HTTP_MODEL = "COHORTODE_LLM_MODEL"
"""Environment variable naming the server-side model when the backend is an ``http(s)://`` URL."""

_BACKENDS: dict[tuple[str, ...], LLMBackend] = {}
_LOCK = threading.Lock()


def resolve_backend(spec: str | os.PathLike[str] | LLMBackend | None = None) -> LLMBackend:
    """Return the language-model backend described by ``spec``.

    Parameters
    ----------
    spec
        - an :class:`LLMBackend`: returned unchanged;
        - ``None``: ``$COHORTODE_LLM`` if set, else ``[llm] model`` of the configuration file
          (``$COHORTODE_CONFIG`` or ``~/.config/cohortode/config.toml``), else the embedded SmolLM2-135M-Instruct
          model;
        - ``"http://..."`` or ``"https://..."``: an :class:`OpenAIHTTPBackend`; the model name is the
          ``#model`` suffix (``http://127.0.0.1:11434#qwen2.5:0.5b``) or ``$COHORTODE_LLM_MODEL``;
        - anything else: a local ``.gguf`` file or model directory for :class:`TransformersBackend`.

    Returns
    -------
    LLMBackend
        Backends are cached per process (per resolved path, or per URL and model), so a model is
        loaded once however often it is resolved.

    Raises
    ------
    LLMBackendError
        If the model cannot be found, loaded or reached, or a URL has no model name.
    TypeError
        If ``spec`` has an unsupported type.
    """
    if isinstance(spec, LLMBackend):
        return spec
    if spec is None:
        spec = os.environ.get(ENV_MODEL) or None
    if spec is None and (configured := configured_model()) is not None:
        spec = configured[0]
    if spec is not None and not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"spec: expected None, a path, an http(s):// URL or an LLMBackend, got {type(spec).__name__}"
        )
    key: tuple[str, ...]
    factory: Callable[[], LLMBackend]
    if isinstance(spec, str) and spec.startswith(("http://", "https://")):
        url, _, fragment = spec.partition("#")
        model = fragment or os.environ.get(ENV_HTTP_MODEL, "")
        if not model:
            raise LLMBackendError(
                f"no model name for the LLM server {url!r}: append it to the URL ({url}#<model>) "
                f"or set ${ENV_HTTP_MODEL}"
            )
        key = ("http", url.rstrip("/"), model, os.environ.get(ENV_API_KEY, ""))
        factory = lambda: OpenAIHTTPBackend(url, model)  # noqa: E731
    else:
        path, _ = select_model(spec)
        key = ("local", str(path))
        factory = lambda: TransformersBackend(path)  # noqa: E731
    with _LOCK:
        if key not in _BACKENDS:
            _BACKENDS[key] = factory()
        return _BACKENDS[key]


def clear_backend_cache() -> None:
    """Forget the backends cached by :func:`resolve_backend` (the next call loads again)."""
    with _LOCK:
        _BACKENDS.clear()
