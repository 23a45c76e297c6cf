"""Process-wide settings: JAX's persistent compilation cache, and a guard on compiled code held in memory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax
import platformdirs

_log = logging.getLogger("cohortode")

__all__ = ["cache_dir", "enable_compilation_cache", "release_compiled_code_if_needed"]


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


MAP_COUNT_FRACTION = 0.5
"""Share of the kernel's memory-mapping limit above which compiled code is released (see below)."""


def _memory_mappings() -> tuple[int, int] | None:
    """Memory mappings of this process and the kernel's per-process limit (Linux), else ``None``."""
    try:
        with open("/proc/self/maps", "rb") as f:
            used = sum(1 for _ in f)
        with open("/proc/sys/vm/max_map_count") as f:
            limit = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return used, limit


def release_compiled_code_if_needed(fraction: float = MAP_COUNT_FRACTION) -> bool:
    """Clear JAX's in-memory compilation caches when this process nears its memory-mapping limit.

    XLA's CPU backend maps every compiled kernel into its own memory sections, and JAX keeps each executable as long
    as its cache entry lives: a compiled NUTS program holds several hundred mappings. A long batch of fits of
    different structures in one process would reach Linux's default ``vm.max_map_count`` of 65,530, and LLVM aborts
    the process ("Unable to allocate section memory"; seen after about 50 in-process NUTS fits when every chain
    recompiled). Called before each fit: above ``fraction`` of the limit, ``jax.clear_caches()`` frees them (later
    calls recompile, or load from the persistent cache on disk). Returns whether it cleared.
    """
    counts = _memory_mappings()
    if counts is None or counts[0] < fraction * counts[1]:
        return False
    _log.info("releasing compiled JAX code: %d of %d memory mappings in use", *counts)
    jax.clear_caches()
    return True
