"""The analyst's configuration file: which language model to use when no argument or environment variable says.

The file is TOML, at ``$COHORTODE_CONFIG`` if set, else ``config.toml`` in the user configuration directory
(``~/.config/cohortode/config.toml`` on Linux)::

    [llm]
    model = "/models/qwen2.5-7b-instruct"          # a local model directory or .gguf file (relative: to this file)
    # model = "http://127.0.0.1:11434#qwen2.5:7b"  # or an OpenAI-compatible server on a local address

Precedence, highest first: the argument (Python ``backend=``, CLI ``--llm``), ``$COHORTODE_LLM``, this file, the
embedded SmolLM2-135M-Instruct model.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from ..._errors import LLMBackendError

__all__ = ["ENV_CONFIG", "config_file", "configured_model"]

ENV_CONFIG = "COHORTODE_CONFIG"
"""Environment variable with the path of the configuration file."""


def config_file() -> Path:
    """Path of the configuration file (it need not exist)."""
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cohortode")) / "config.toml"


def configured_model() -> tuple[str, str] | None:
    """``(model, origin)`` from the configuration file's ``[llm] model``, or ``None`` when it names none.

    A relative local path is taken relative to the file's folder; URLs are returned unchanged.

    Raises
    ------
    LLMBackendError
        If the file exists but is not valid TOML, or ``[llm] model`` is not a non-empty string; the message names
        the file.
    """
    path = config_file()
    if not path.is_file():
        if os.environ.get(ENV_CONFIG):
            raise LLMBackendError(f"${ENV_CONFIG} names {str(path)!r}, which is not a file")
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LLMBackendError(f"configuration file {str(path)!r} is not valid TOML: {exc}") from exc
    section = data.get("llm", {})
    if not isinstance(section, dict) or "model" not in section:
        return None
    value = section["model"]
    if not isinstance(value, str) or not value.strip():
        raise LLMBackendError(f"configuration file {str(path)!r}: [llm] model must be a non-empty string, "
                              f"got {value!r}")
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        local = Path(value).expanduser()
        value = str(local if local.is_absolute() else (path.parent / local))
    return value, f"configuration file {path}"
