"""Process-wide settings: JAX's persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import platformdirs

__all__ = ["cache_dir", "enable_compilation_cache"]


def cache_dir() -> Path:
    """cohortode's user cache directory (``COHORTODE_CACHE_DIR`` overrides it)."""
    return Path(os.environ.get("COHORTODE_CACHE_DIR") or platformdirs.user_cache_dir("cohortode"))


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at ``<cache>/jax`` unless the user configured it or opted out."""
    setting = os.environ.get("COHORTODE_JAX_CACHE", "")
    if setting == "0" or jax.config.jax_compilation_cache_dir:
        return None
    path = Path(setting) if setting else cache_dir() / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
