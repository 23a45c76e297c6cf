"""Test-wide settings: float64 JAX, offline Hugging Face, an empty cohortode configuration file."""

import os

import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# an empty configuration file: the tests never see the developer's own ~/.config/cohortode/config.toml
_CONFIG = os.path.join(tempfile.mkdtemp(prefix="cohortode_test_config_"), "config.toml")
open(_CONFIG, "w").close()
os.environ["COHORTODE_CONFIG"] = _CONFIG

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
