"""The guard on compiled code held in memory (many fits in one process)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from cohortode import _config


@pytest.mark.skipif(_config._memory_mappings() is None, reason="needs Linux /proc")
def test_compiled_code_is_released_near_the_mapping_limit(monkeypatch):
    f = jax.jit(lambda x: jnp.sin(x) * 2.0)
    f(1.0)
    assert f._cache_size() == 1
    assert not _config.release_compiled_code_if_needed()  # far below the limit: nothing happens
    assert f._cache_size() == 1
    used, limit = _config._memory_mappings()
    monkeypatch.setattr(_config, "_memory_mappings", lambda: (limit - 10, limit))
    assert _config.release_compiled_code_if_needed()
    assert f._cache_size() == 0
    assert float(f(0.5)) == pytest.approx(2.0 * float(jnp.sin(0.5)))  # recompiles on demand
