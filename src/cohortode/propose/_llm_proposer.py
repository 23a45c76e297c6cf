"""A proposer driven by a language model: mechanism choices from a motif library, and free-form equations.

Two levels (``level="both"`` runs both and interleaves their candidates):

**Mechanism level.** The model's choice among named library blocks. Free token-by-token sampling among listed
blocks is strongly biased towards the first-listed option; scoring complete answers is not. So for each category
(absorption, distribution, ...) the model scores every block name as the answer to "which <category> mechanism
explains these data best?" (:meth:`LLMBackend.score`), calibrated by subtracting half the score under a neutral
prompt without data, context and feedback (``calibration=0.5``; 0 is the raw log-probability, 1 pointwise mutual
information). A composition's score is the sum of its blocks' scores; normalised over all compositions that fit the
problem this is the *structure prior*. The model's own choices are draws without replacement from it at the sampling
temperature (Gumbel-top-k, seeded). Scoring whole mechanism lines against a block menu (``prior_unit=
"composition"``) is available but ranked the expert mechanisms worse (see ``benchmarks/llm_mechanisms.py``).

**Expression level.** One batched, grammar-constrained :meth:`LLMBackend.generate` call writes
``samples_per_call`` sets of ``d(state)/dt = ...`` lines; each is parsed by the whitelist parser and validated.
A failure gets one repair prompt quoting the reason (``source="repair"``); if that fails too, the candidate is
returned as ``status="rejected"`` with both reasons. Valid structures are scored by the model (``log_prior`` = total
log-probability of the equation text).

Candidates are deduplicated (also against the feedback's ``tried`` structures), ranked by ``log_prior`` within each
level, and the first ``k`` valid ones are returned, followed by the rejected ones. If the model yields nothing valid,
the :class:`~cohortode.propose.MotifProposer` fills in; its candidates have ``source="motif"`` and say so in their
description.

Backends without grammar support (HTTP) go through the same parser; backends that cannot score leave ``log_prior``
as ``None`` and the mechanism level then parses sampled mechanism lines instead.

For the local transformers backend two faster paths are used: scoring encodes the shared prompt once and the answers
against its cached keys and values (same numbers as :meth:`LLMBackend.score`), and generation encodes the prompt once
for all samples, decodes from a preallocated cache and drops finished samples from the batch (same sampling
distribution as :meth:`LLMBackend.generate`, identical replies when greedy).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import CandidateRejected, ModelSpecError
from ._candidate import Candidate
from ._feedback import Feedback, model_from_equations
from ._grammar import expression_grammar, mechanism_grammar
from ._parse_output import parse_equations, parse_mechanism
from ._problem import Problem
from ._prompt import build_category_messages, build_messages, build_repair_messages, model_lines
from ._validate import deduplicate, validate_model
from .backends._kv_cache import cache_keyword, output_cache
from .base import Proposer

if TYPE_CHECKING:
    from .backends import LLMBackend
    from .motifs import MotifLibrary

__all__ = ["LLMProposer", "PRIOR_UNITS", "gumbel_top_k"]

logger = logging.getLogger(__name__)

PRIOR_UNITS = ("category", "composition")
"""What the mechanism prior scores: each category's blocks separately (summed), or whole compositions."""
_LEVELS = ("both", "mechanism", "expression")
_PRIOR_TEXTS = ("name", "description")
_HASH = re.compile(r"^[0-9a-f]{16}$")
_BASE_PARAMETERS = (
    "k", "ka", "ke", "kel", "ktr", "k12", "k21", "k13", "k31", "ke0", "kin", "kout", "V", "V1", "V2", "CL", "Q", "F",
    "Vmax", "Km", "Emax", "EC50", "Imax", "IC50", "n", "h", "r", "K", "a", "b", "c", "d", "g", "alpha", "beta", "gamma",
    "delta", "sigma", "omega", "mu", "nu", "rho", "theta", "tau", "q", "N", "tlag",
)
"""Parameter names the expression grammar always offers (besides those of the library's structures)."""
_EXTRA_STATES = {"pk": ("peripheral",), "pd": ("effect",), "epidemic": ("E",), "growth": (), "progression": ()}


def gumbel_top_k(log_weights: np.ndarray, k: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` draws without replacement from ``softmax(log_weights / temperature)``, in draw order.

    Adds independent Gumbel noise to ``log_weights / temperature`` and sorts (the Gumbel-top-k trick). A temperature
    of 0 gives the ``k`` largest weights, largest first.
    """
    w = np.asarray(log_weights, dtype=float)
    k = min(int(k), w.size)
    if temperature <= 0:
        keys = w.copy()
    else:
        keys = w / float(temperature) + rng.gumbel(size=w.size)
    keys[~np.isfinite(keys)] = -np.inf
    return np.argsort(-keys, kind="stable")[:k]


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common beginning of two token sequences."""
    n = min(len(a), len(b))
    for j in range(n):
        if a[j] != b[j]:
            return j
    return n


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    return m + math.log(float(np.sum(np.exp(x - m))))


class _LocalModel:
    """Faster scoring and sampling with a local :class:`TransformersBackend`, sharing one encoding of the prompt.

    The backend's own methods run the prompt through the model once per continuation (``score``) or once per sample
    (``generate``), keep every sample in the batch until the longest ends, and grow their key/value cache by
    concatenation (copying it at every token). With prompts of several hundred tokens those costs dominate. Here a
    prompt is encoded once (batch size 1; the last few encodings are kept, so scoring the replies of a generate call
    reuses it) and

    * :meth:`score` runs the continuations against copies of the prompt's cached keys and values; the numbers are
      those of :meth:`TransformersBackend.score` (the log-probabilities of the reply's tokens, end of turn excluded;
      continuations whose tokenisation does not split cleanly at the prompt are left to the backend);
    * :meth:`generate` copies the prompt's keys and values into a preallocated (static) cache of ``n`` rows and runs
      a plain sampling loop on the unfinished rows only. Sampling is the backend's: grammar mask (its compiled
      xgrammar grammar), temperature, nucleus (top-p) filtering, a multinomial draw from a generator seeded with
      ``seed``; a reply ends at an end-of-sequence token or after ``max_new_tokens`` tokens. Greedy decoding gives
      the backend's replies exactly; sampled replies follow the same distribution, not the same random stream.
    """

    batch_size = 16
    """Continuations per forward pass in :meth:`score`."""
    keep_prompts = 4
    """Encoded prompts kept."""

    def __init__(self, backend: Any):
        from .backends import transformers_backend as tb
        from .backends.base import validate_messages, validate_sampling

        for name in ("model", "tokenizer", "_compiled_grammar", "_stop_ids"):
            if not hasattr(backend, name):
                raise AttributeError(name)
        if not hasattr(tb, "_import_xgrammar"):
            raise AttributeError("_import_xgrammar")
        import torch

        self.backend = backend
        self.model = backend.model
        self.tokenizer = backend.tokenizer
        self.torch = torch
        self.tb = tb
        self.validate_messages = validate_messages
        self.validate_sampling = validate_sampling
        self.device = next(self.model.parameters()).device
        self._cache_kw = cache_keyword(self.model)
        self._prompts: dict[tuple[int, ...], tuple[Any, Any]] = {}

    # ------------------------------------------------------------------------------------------ shared
    def _render(self, messages: list[dict[str, str]], text: str | None) -> str:
        if text is None:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": text}],
                                                  tokenize=False, add_generation_prompt=False)

    def _encode(self, prompt_ids: list[int]) -> tuple[Any, Any]:
        """``(cache, last_logits)`` of a prompt: its keys and values (batch 1) and the next-token logits."""
        key = tuple(prompt_ids)
        if key not in self._prompts:
            with self.torch.inference_mode():
                out = self.model(input_ids=self.torch.tensor([prompt_ids], device=self.device), use_cache=True)
            if len(self._prompts) >= self.keep_prompts:
                self._prompts.pop(next(iter(self._prompts)))
            self._prompts[key] = (output_cache(out, self._cache_kw), out.logits[0, -1].to("cpu").float())
        return self._prompts[key]

    def _pad_id(self) -> int:
        pad = getattr(self.backend, "_pad_id", None)
        pad = self.tokenizer.pad_token_id if pad is None else pad
        return 0 if pad is None else int(pad)

    # ------------------------------------------------------------------------------------------ scoring
    def score(self, messages: list[dict[str, str]], continuations: Sequence[str]) -> np.ndarray:
        return self.score_group([(messages, continuations)])[0]

    def score_group(self, requests: Sequence[tuple[list[dict[str, str]], Sequence[str]]]) -> list[np.ndarray]:
        """Scores of several ``(messages, continuations)`` requests whose prompts share a beginning.

        The prompts' common beginning is encoded once; each prompt's own end is encoded against a copy of those keys
        and values, and its continuations run against copies of the prompt's. Prompts that differ only in their last
        section (the category prompts of one round) thus cost one encoding of the shared part. The split depends on
        the requests alone, so the same requests give the same numbers whatever was scored before; a single request
        is scored exactly as before (one encoding of its whole prompt).
        """
        prepared = [self._score_rows(messages, continuations) for messages, continuations in requests]
        prompts = [prompt for prompt, _, _ in prepared if prompt]
        shared = min((len(p) for p in prompts), default=0)
        for prompt in prompts[1:]:
            shared = min(shared, _common_length(prompts[0], prompt))
        base = self._encode(prompts[0][:shared]) if len(prompts) > 1 and shared > 0 else None
        out: list[np.ndarray] = []
        for (messages, continuations), (prompt, rows, slow) in zip(requests, prepared):
            values = np.zeros(len(continuations), dtype=np.float64)
            if rows:
                if base is None or shared == len(prompt):
                    encoded = base if base is not None else self._encode(prompt)
                else:
                    encoded = self._extend(base, prompt[shared:])
                self._score_against(encoded, len(prompt), rows, values)
            if slow:
                values[slow] = np.asarray(self.backend.score(messages, [continuations[i] for i in slow]),
                                          dtype=np.float64)
            out.append(values)
        return out

    def _score_rows(self, messages: list[dict[str, str]], continuations: Sequence[str]
                    ) -> tuple[list[int], list[tuple[int, list[int], list[int]]], list[int]]:
        """The prompt's token ids, the rows ``(index, reply ids, scored positions in them)`` that split cleanly at
        the prompt, and the indices of the continuations that do not (left to the backend)."""
        messages = self.validate_messages(messages)
        prefix = self._render(messages, None)
        prefix_ids = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        n_prefix = len(prefix_ids)
        rows: list[tuple[int, list[int], list[int]]] = []
        slow: list[int] = []
        for i, text in enumerate(continuations):
            full = self._render(messages, text)
            if not text or not (full.startswith(prefix) and full[len(prefix):].startswith(text)):
                slow.append(i)
                continue
            enc = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
            ids = list(enc["input_ids"])
            start, end = len(prefix), len(prefix) + len(text)
            positions = [j for j, (a, b) in enumerate(enc["offset_mapping"]) if a < end and b > start and j > 0]
            if ids[:n_prefix] != prefix_ids or not positions or positions[0] < n_prefix:
                slow.append(i)
                continue
            rows.append((i, ids[n_prefix: positions[-1] + 1], [p - n_prefix for p in positions]))
        return (list(prefix_ids) if rows else []), rows, slow

    def _extend(self, encoded: tuple[Any, Any], ids: list[int]) -> tuple[Any, Any]:
        """``(cache, last_logits)`` of an encoded beginning followed by ``ids`` (the beginning's cache is copied)."""
        cache = copy.deepcopy(encoded[0])
        with self.torch.inference_mode():
            out = self.model(input_ids=self.torch.tensor([ids], device=self.device), use_cache=True,
                             **{self._cache_kw: cache})
        return output_cache(out, self._cache_kw), out.logits[0, -1].to("cpu").float()

    def _score_against(self, encoded: tuple[Any, Any], n_prefix: int, rows: list[tuple[int, list[int], list[int]]],
                       out: np.ndarray) -> None:
        """Write into ``out`` the log-probability of each row's reply tokens after an encoded prompt."""
        torch = self.torch
        cache, last_logits = encoded
        first_logp = torch.log_softmax(last_logits, dim=-1)
        with torch.inference_mode():
            for lo in range(0, len(rows), self.batch_size):
                chunk = rows[lo: lo + self.batch_size]
                width = max(len(ids) for _, ids, _ in chunk)
                ids_t = torch.full((len(chunk), width), self._pad_id(), dtype=torch.long)
                mask = torch.zeros((len(chunk), n_prefix + width), dtype=torch.long)
                mask[:, :n_prefix] = 1
                for r, (_, ids, _) in enumerate(chunk):
                    ids_t[r, : len(ids)] = torch.tensor(ids)
                    mask[r, n_prefix: n_prefix + len(ids)] = 1
                batch_cache = copy.deepcopy(cache)
                batch_cache.batch_repeat_interleave(len(chunk))
                logits = self.model(input_ids=ids_t.to(self.device), attention_mask=mask.to(self.device),
                                    use_cache=True, **{self._cache_kw: batch_cache}).logits.to("cpu").float()
                logp = torch.log_softmax(logits, dim=-1)
                for r, (i, ids, positions) in enumerate(chunk):
                    out[i] = sum(float((first_logp if p == 0 else logp[r, p - 1])[ids[p]]) for p in positions)

    # ------------------------------------------------------------------------------------------ sampling
    def generate(self, messages: list[dict[str, str]], *, n: int, grammar: str | None, temperature: float,
                 top_p: float, max_new_tokens: int, seed: int) -> list[str]:
        torch = self.torch
        messages = self.validate_messages(messages)
        self.validate_sampling(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        n, max_new_tokens = int(n), int(max_new_tokens)
        prompt = self.tokenizer(self._render(messages, None), add_special_tokens=False)["input_ids"]
        vocab = int(self.model.config.vocab_size)
        stop = {int(t) for t in self.backend._stop_ids}
        xgr = compiled = bitmask = None
        if grammar is not None:
            compiled = self.backend._compiled_grammar(grammar)
            xgr = self.tb._import_xgrammar()
            bitmask = xgr.allocate_token_bitmask(n, vocab)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        outputs: list[list[int]] = [[] for _ in range(n)]
        rows = list(range(n))  # original index of each row still in the batch
        matchers = [xgr.GrammarMatcher(compiled) for _ in rows] if compiled is not None else []
        prompt_cache, last_logits = self._encode(prompt)
        cache = None
        logits = last_logits.expand(n, -1).clone()
        with torch.inference_mode():
            for step in range(max_new_tokens):
                if compiled is not None:
                    for i, matcher in enumerate(matchers):
                        matcher.fill_next_token_bitmask(bitmask, i)
                    xgr.apply_token_bitmask_inplace(logits, bitmask[: len(rows)],
                                                    vocab_size=min(vocab, logits.shape[-1]))
                tokens = self._sample(logits, temperature, top_p, generator)
                keep: list[int] = []
                for i, token in enumerate(tokens.tolist()):
                    if token in stop:
                        continue
                    outputs[rows[i]].append(token)
                    if compiled is not None:
                        if not matchers[i].accept_token(token):
                            raise RuntimeError(f"sampled token {token} violates the grammar mask")
                        if matchers[i].is_terminated():
                            continue
                    keep.append(i)
                if not keep or step == max_new_tokens - 1:
                    break
                if cache is None:
                    cache = self._expand(prompt_cache, len(rows), len(prompt) + max_new_tokens + 1)
                if len(keep) < len(rows):
                    index = torch.tensor(keep, dtype=torch.long)
                    cache = self._select(cache, index.to(self.device))
                    rows = [rows[i] for i in keep]
                    matchers = [matchers[i] for i in keep] if matchers else []
                    tokens = tokens[index]
                out = self.model(input_ids=tokens[:, None].to(self.device), use_cache=True,
                                 **{self._cache_kw: cache})
                logits = out.logits[:, -1, :].to("cpu").float()
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in outputs]

    def _sample(self, logits: Any, temperature: float, top_p: float, generator: Any) -> Any:
        torch = self.torch
        if temperature <= 0:
            return logits.argmax(dim=-1)
        logits = logits / float(temperature)
        if top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
            remove = sorted_logits.softmax(dim=-1).cumsum(dim=-1) <= (1.0 - float(top_p))
            remove[..., -1] = False  # keep at least the most probable token
            logits = logits.masked_fill(remove.scatter(1, order, remove), float("-inf"))
        return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]

    def _expand(self, cache: Any, n: int, length: int) -> Any:
        """A static (preallocated) cache of ``n`` rows holding copies of a batch-1 prompt cache."""
        from transformers import StaticCache

        static = StaticCache(config=self.model.config, max_cache_len=length)
        for i, layer in enumerate(cache.layers):
            static.update(layer.keys.expand(n, -1, -1, -1).contiguous(),
                          layer.values.expand(n, -1, -1, -1).contiguous(), i)
        return static

    @staticmethod
    def _select(cache: Any, index: Any) -> Any:
        """Keep only the rows ``index`` of a static cache."""
        for layer in cache.layers:
            layer.keys = layer.keys.index_select(0, index)
            layer.values = layer.values.index_select(0, index)
            if hasattr(layer, "batch_size"):
                layer.batch_size = int(index.numel())
        return cache


class LLMProposer(Proposer):
    """Proposes structures with a language model (see the module documentation).

    Parameters
    ----------
    backend
        An :class:`~cohortode.propose.LLMBackend`, or a specification for
        :func:`~cohortode.propose.resolve_backend` (``None``: ``$COHORTODE_LLM`` or the embedded model). Resolved
        on first use, so constructing a proposer loads nothing.
    library
        The motif library (default :func:`~cohortode.propose.default_library`).
    level
        ``"both"``, ``"mechanism"`` or ``"expression"``.
    temperature
        Sampling temperature of generated text (0: greedy). The default 0.9 with ``top_p=1`` gave the most valid
        distinct structures per minute on the reference problems (32/min, against 20/min at 0.8 with top-p 0.95,
        93% of samples valid; ``benchmarks/llm_throughput.py``).
    prior_temperature
        Temperature of the Gumbel-top-k draws of compositions from the structure prior at the mechanism level
        (0: the most probable compositions first).
    samples_per_call
        Equation sets sampled in one batched generate call (expression level).
    repair
        Give each failed equation set one repair prompt carrying the error.
    score_prior
        Score valid equation sets by the model (``log_prior``); the mechanism level always scores.
    max_new_tokens
        Token budget of one equation set; ``None``: 40 per state line plus 8.
    top_p
        Nucleus-sampling mass of generation (1: no truncation).
    calibration
        Weight ``c`` of the neutral prompt in the mechanism prior: a block's score is
        ``log p(answer | problem prompt) - c * log p(answer | neutral prompt)``, the neutral prompt having no data,
        context or feedback. ``0`` is the raw log-probability, ``1`` pointwise mutual information; the default
        ``0.5`` ranked the expert best on the reference problems (``benchmarks/llm_mechanisms.py``).
    prior_unit
        ``"category"`` (default): for each category, the model scores each block as the answer to "which
        <category> mechanism explains these data best?", and a composition's score is the sum over its blocks;
        ``"composition"``: the model scores whole mechanism lines as the answer to the block-menu prompt.
    prior_text
        The scored answer: ``"name"`` (block names, or the mechanism line of names; default) or ``"description"``
        (the blocks' plain-English descriptions).
    prior_orders
        Number of block listing orders the prior is averaged over (the first is the library's order, the others
        are fixed shuffles within categories); more orders reduce position bias at proportional cost.
    mechanism_sampling
        ``"prior"`` (default): Gumbel-top-k draws from the structure prior; ``"grammar"``: grammar-constrained
        generation of mechanism lines (biased towards first-listed blocks with small models).
    max_repairs
        Most repair prompts per call.
    n_examples
        Library structures shown to the model as examples of valid equations at the expression level (drawn from
        the structure prior when the mechanism level ran, else uniformly; seeded). A small model mostly writes
        variations of what it is shown, so examples raise the share of valid equations a lot.
    extra_states
        States the expression level may add (one optional line each); ``None``: by domain (``peripheral`` for
        PK, ``effect`` for PD, ``E`` for epidemics, none otherwise).
    fallback
        Fill in with the motif proposer when the model yields nothing valid.
    max_parameters, max_complexity
        Validation limits (see :func:`~cohortode.propose.validate_model`).

    Attributes
    ----------
    last_stats : dict
        Counts and timings of the last :meth:`propose` call (samples, parsed, valid, repairs, fallback, seconds).
    """

    def __init__(
        self,
        backend: LLMBackend | str | None = None,
        library: MotifLibrary | None = None,
        *,
        level: str = "both",
        temperature: float = 0.9,
        prior_temperature: float = 0.8,
        samples_per_call: int = 16,
        repair: bool = True,
        score_prior: bool = True,
        max_new_tokens: int | None = None,
        top_p: float = 1.0,
        calibration: float = 0.5,
        prior_unit: str = "category",
        prior_text: str = "name",
        prior_orders: int = 1,
        mechanism_sampling: str = "prior",
        max_repairs: int = 4,
        n_examples: int = 4,
        extra_states: Sequence[str] | None = None,
        fallback: bool = True,
        max_parameters: int = 12,
        max_complexity: int = 200,
    ):
        if level not in _LEVELS:
            raise ValueError(f"level: expected one of {_LEVELS}, got {level!r}")
        for name, value in (("temperature", temperature), ("prior_temperature", prior_temperature)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
        for name, value, low in (("samples_per_call", samples_per_call, 1), ("prior_orders", prior_orders, 1),
                                 ("max_repairs", max_repairs, 0), ("n_examples", n_examples, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        if max_new_tokens is not None and (isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int)
                                           or max_new_tokens < 1):
            raise ValueError(f"max_new_tokens: expected a positive integer or None, got {max_new_tokens!r}")
        if not (isinstance(calibration, (int, float)) and 0.0 <= calibration <= 1.0):
            raise ValueError(f"calibration: expected a number in [0, 1] (0: raw, 1: PMI), got {calibration!r}")
        if prior_unit not in PRIOR_UNITS:
            raise ValueError(f"prior_unit: expected one of {PRIOR_UNITS}, got {prior_unit!r}")
        if prior_text not in _PRIOR_TEXTS:
            raise ValueError(f"prior_text: expected one of {_PRIOR_TEXTS}, got {prior_text!r}")
        if mechanism_sampling not in ("prior", "grammar"):
            raise ValueError(f"mechanism_sampling: expected 'prior' or 'grammar', got {mechanism_sampling!r}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p: expected a number in (0, 1], got {top_p!r}")
        self._backend_spec = backend
        self._backend: LLMBackend | None = None
        self._library = library
        self.level = level
        self.temperature = float(temperature)
        self.prior_temperature = float(prior_temperature)
        self.samples_per_call = samples_per_call
        self.repair = bool(repair)
        self.score_prior = bool(score_prior)
        self.max_new_tokens = max_new_tokens
        self.top_p = float(top_p)
        self.calibration = float(calibration)
        self.prior_unit = prior_unit
        self.prior_text = prior_text
        self.prior_orders = prior_orders
        self.mechanism_sampling = mechanism_sampling
        self.max_repairs = max_repairs
        self.n_examples = n_examples
        self.extra_states = None if extra_states is None else tuple(extra_states)
        self.fallback = bool(fallback)
        self.max_parameters = max_parameters
        self.max_complexity = max_complexity
        self.last_stats: dict[str, Any] = {}
        self._score_cache: dict[str, np.ndarray] = {}
        self._local_model: Any = None
        self._vocabulary: dict[tuple, list[str]] = {}

    # ------------------------------------------------------------------------------------------ resources
    @property
    def backend(self) -> LLMBackend:
        """The language-model backend (resolved, and possibly loaded, on first access)."""
        if self._backend is None:
            from .backends import resolve_backend

            self._backend = resolve_backend(self._backend_spec)
        return self._backend

    @property
    def library(self) -> MotifLibrary:
        """The motif library."""
        if self._library is None:
            from .motifs import default_library

            self._library = default_library()
        return self._library

    def _local(self) -> _LocalModel | None:
        """The fast local path for a :class:`TransformersBackend`, or ``None``."""
        if self._local_model is None:
            self._local_model = False
            try:
                from .backends.transformers_backend import TransformersBackend

                if isinstance(self.backend, TransformersBackend):
                    self._local_model = _LocalModel(self.backend)
            except (ImportError, AttributeError):  # pragma: no cover - depends on the installed backend
                self._local_model = False
        return self._local_model or None

    def generate(self, messages: list[dict[str, str]], *, n: int, grammar: str | None, max_new_tokens: int,
                 seed: int) -> list[str]:
        """Sample ``n`` replies with the proposer's temperature and top-p.

        Uses the fast path for local transformers backends (see ``_LocalModel``), else
        :meth:`LLMBackend.generate`.
        """
        kwargs = dict(n=int(n), grammar=grammar, temperature=self.temperature, top_p=self.top_p,
                      max_new_tokens=int(max_new_tokens), seed=int(seed))
        local = self._local()
        if local is not None:
            try:
                return local.generate(messages, **kwargs)
            except (AttributeError, TypeError, ImportError, NotImplementedError) as exc:  # pragma: no cover
                logger.warning("fast local generation failed (%s: %s); using the backend's generate from now on",
                               type(exc).__name__, exc)
                self._local_model = False
        return self.backend.generate(messages, **kwargs)

    def score(self, messages: list[dict[str, str]], continuations: Sequence[str]) -> np.ndarray:
        """Total log-probabilities of ``continuations`` as replies to ``messages`` (cached per call arguments).

        Uses the fast path for local transformers backends (see ``_LocalModel``), else :meth:`LLMBackend.score`.

        Raises
        ------
        NotImplementedError
            When the backend cannot score.
        """
        return self.score_many([(messages, continuations)])[0]

    def score_many(self, requests: Sequence[tuple[list[dict[str, str]], Sequence[str]]]) -> list[np.ndarray]:
        """:meth:`score` of several ``(messages, continuations)`` requests, as one group (cached per group).

        With the fast local path the requests' common beginning is encoded once (``_LocalModel.score_group``);
        other backends score the requests one by one.

        Raises
        ------
        NotImplementedError
            When the backend cannot score.
        """
        requests = [(messages, list(continuations)) for messages, continuations in requests]
        key = hashlib.sha256(repr((self.backend.name, requests)).encode()).hexdigest()
        if key not in self._score_cache:
            local = self._local()
            if local is not None and all(continuations for _, continuations in requests):
                groups = local.score_group(requests)
            else:
                groups = [self.backend.score(messages, continuations) if continuations else np.zeros(0)
                          for messages, continuations in requests]
            values = [np.asarray(v, dtype=np.float64) for v in groups]
            for v, (_, continuations) in zip(values, requests):
                if v.shape != (len(continuations),):
                    raise ValueError(f"backend.score returned shape {v.shape}, expected ({len(continuations)},)")
            if len(self._score_cache) > 256:
                self._score_cache.clear()
            self._score_cache[key] = values
        return [v.copy() for v in self._score_cache[key]]

    # ------------------------------------------------------------------------------------------ helpers
    def _validate(self, model: Any, problem: Problem) -> str:
        try:
            validate_model(model, problem, max_parameters=self.max_parameters, max_complexity=self.max_complexity)
        except CandidateRejected as exc:
            return exc.reason
        return ""

    def _extra(self, problem: Problem) -> tuple[str, ...]:
        extra = self.extra_states
        if extra is None:
            extra = _EXTRA_STATES.get(problem.domain or "", ()) if problem.domain else ("peripheral",)
        taken = set(problem.state_names) | set(problem.covariates)
        return tuple(s for s in extra if s not in taken)

    def _parameters(self, problem: Problem) -> list[str]:
        """Parameter vocabulary of the expression grammar: the library's names for this problem, then common ones."""
        key = (problem.name, problem.state_names, tuple(problem.observables.items()), problem.domain,
               problem.dose_targets)
        if key not in self._vocabulary:
            names: list[str] = []
            for choice in self.library.compositions(problem):
                try:
                    names.extend(self.library.build(problem, choice).parameter_names)
                except (ModelSpecError, ValueError):
                    continue
            names.extend(_BASE_PARAMETERS)
            taken = set(problem.state_names) | set(self._extra(problem))
            self._vocabulary[key] = [n for n in dict.fromkeys(names)
                                     if n not in taken and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,11}", n)]
        return list(self._vocabulary[key])

    def _tokens(self, problem: Problem) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return 40 * (len(problem.state_names) + len(self._extra(problem))) + 8

    def _seen(self, problem: Problem, feedback: Feedback | None) -> tuple[set[str], set[tuple[str, ...]]]:
        """Structure hashes and mechanisms of everything in the feedback (tried and best)."""
        hashes: set[str] = set()
        mechanisms: set[tuple[str, ...]] = set()
        if feedback is None:
            return hashes, mechanisms
        blocks = set(self.library.mechanisms())
        texts = list(feedback.tried)
        for s in feedback.best:
            if s.mechanism:
                mechanisms.add(tuple(s.mechanism))
            texts.append("\n".join(s.equations))
        for text in texts:
            text = str(text).strip()
            if _HASH.match(text):
                hashes.add(text)
                continue
            names = [p.strip() for p in re.split(r"[;,\n]", text) if p.strip()]
            plain = [p.split(":", 1)[1].strip() if ":" in p else p for p in names]
            if plain and all(p in blocks for p in plain):
                mechanisms.add(tuple(plain))
                continue
            if text.startswith("d/dt "):  # a canonical text
                hashes.add(hashlib.sha256(text.encode()).hexdigest()[:16])
                continue
            try:
                model = model_from_equations(text, covariates=problem.covariates)
            except (ModelSpecError, ValueError):
                parsed = parse_equations(text.replace(";", "\n"), problem)
                if parsed.model is None:
                    continue
                model = parsed.model
            hashes.add(model.structure_hash)
        return hashes, mechanisms

    # ------------------------------------------------------------------------------------------ mechanism
    def _line(self, choice: Sequence[str]) -> str:
        lib = self.library
        return "; ".join(f"{lib.block(n).category}: {n}" for n in choice)

    def _prior_texts(self, choices: Sequence[tuple[str, ...]]) -> list[str]:
        if self.prior_text == "description":
            return [self.library.describe(c) for c in choices]
        return [self._line(c) for c in choices]

    @staticmethod
    def _shuffled(blocks: Sequence[Any], order: int) -> list[Any]:
        if order == 0:
            return list(blocks)
        rng = np.random.default_rng(10_007 * order)
        return [blocks[i] for i in rng.permutation(len(blocks))]

    def _category_scores(self, problem: Problem, feedback: Feedback | None) -> dict[tuple[str, str], float]:
        """(category, block name) -> score of the block as the answer for its category, averaged over orders.

        The prompts of all categories share their beginning (problem, data and feedback), so they are scored as one
        group (:meth:`score_many`), which encodes that beginning once.
        """
        categories = list(self.library.categories(problem).items())
        requests: list[tuple[list[dict[str, str]], list[str]]] = []
        neutral: list[tuple[list[dict[str, str]], list[str]]] = []
        for category, blocks in categories:
            texts = [b.description if self.prior_text == "description" else b.name for b in blocks]
            for order in range(self.prior_orders):
                listed = self._shuffled(blocks, order)
                requests.append((build_category_messages(problem, feedback, category, listed), texts))
                if self.calibration:
                    neutral.append((build_category_messages(problem, None, category, listed, neutral=True), texts))
        values = self.score_many(requests)
        if self.calibration:
            values = [v - self.calibration * b for v, b in zip(values, self.score_many(neutral))]
        out: dict[tuple[str, str], float] = {}
        for c, (category, blocks) in enumerate(categories):
            total = sum(values[c * self.prior_orders: (c + 1) * self.prior_orders])
            for b, v in zip(blocks, total / self.prior_orders):
                out[(category, b.name)] = float(v)
        return out

    def _composition_scores(self, problem: Problem, feedback: Feedback | None,
                            choices: Sequence[tuple[str, ...]]) -> np.ndarray:
        categories = self.library.categories(problem)
        texts = self._prior_texts(choices)
        total = np.zeros(len(choices))
        for order in range(self.prior_orders):
            cats = {c: self._shuffled(b, order) for c, b in categories.items()}
            values = self.score(build_messages(problem, feedback, kind="mechanism", categories=cats), texts)
            if self.calibration:
                values = values - self.calibration * self.score(
                    build_messages(problem, None, kind="mechanism", categories=cats, neutral=True), texts)
            total += values
        return total / self.prior_orders

    def mechanism_prior(self, problem: Problem, feedback: Feedback | None = None) -> tuple[list[tuple[str, ...]],
                                                                                         np.ndarray | None]:
        """Every composition that fits ``problem`` and its log prior probability under the model.

        Returns
        -------
        choices, log_prior
            The compositions (library order) and a normalised log-probability for each (``logsumexp == 0``), or
            ``None`` when the backend cannot score.
        """
        choices = [tuple(c) for c in self.library.compositions(problem)]
        if not choices:
            return choices, None
        try:
            if self.prior_unit == "category":
                per_block = self._category_scores(problem, feedback)
                total = np.array([sum(per_block[(self.library.block(n).category, n)] for n in c) for c in choices])
            else:
                total = self._composition_scores(problem, feedback, choices)
        except NotImplementedError:
            return choices, None
        return choices, total - _logsumexp(total)

    def _mechanism_candidates(self, problem: Problem, feedback: Feedback | None, n: int, rng: np.random.Generator,
                              seen_hashes: set[str], seen_mechanisms: set[tuple[str, ...]],
                              prior: tuple[list[tuple[str, ...]], np.ndarray | None],
                              stats: dict[str, Any]) -> tuple[list[Candidate], list[Candidate]]:
        choices, log_prior = prior
        if not choices:
            return [], []
        order: list[int]
        sampled_texts: dict[int, str] = {}
        if log_prior is not None and self.mechanism_sampling == "prior":
            order = list(gumbel_top_k(log_prior, len(choices), self.prior_temperature, rng))
        else:
            order = self._grammar_mechanisms(problem, feedback, choices, rng, sampled_texts, stats)
        valid: list[Candidate] = []
        rejected: list[Candidate] = []
        for i in order:
            if len(valid) >= n:
                break
            choice = choices[i]
            if choice in seen_mechanisms:
                continue
            lp = None if log_prior is None else float(log_prior[i])
            text = sampled_texts.get(i, self._line(choice))
            desc = self.library.describe(choice)
            try:
                model = self.library.build(problem, choice)
            except (ModelSpecError, ValueError) as exc:
                rejected.append(Candidate(None, text, "llm-mechanism", mechanism=choice, description=desc,
                                          log_prior=lp, status="rejected", reason=str(exc)))
                continue
            reason = self._validate(model, problem)
            if reason:
                rejected.append(Candidate(model, text, "llm-mechanism", mechanism=choice, description=desc,
                                          log_prior=lp, status="rejected", reason=reason))
                continue
            if model.structure_hash in seen_hashes:
                continue
            valid.append(Candidate(model, text, "llm-mechanism", mechanism=choice, description=desc, log_prior=lp))
        stats["mechanism_scored"] = len(choices) if log_prior is not None else 0
        return valid, rejected

    def _grammar_mechanisms(self, problem: Problem, feedback: Feedback | None, choices: list[tuple[str, ...]],
                            rng: np.random.Generator, sampled_texts: dict[int, str],
                            stats: dict[str, Any]) -> list[int]:
        """Indices of compositions named by sampled mechanism lines, in order of first appearance."""
        families = [cats for _, cats in self.library.family_categories(problem)]
        categories = self.library.categories(problem)
        messages = build_messages(problem, feedback, kind="mechanism", categories=categories)
        grammar = mechanism_grammar(families) if self.backend.supports_grammar else None
        texts = self.generate(messages, n=self.samples_per_call, grammar=grammar,
                              max_new_tokens=24 * len(categories) + 16, seed=int(rng.integers(2**31 - 1)))
        index = {c: i for i, c in enumerate(choices)}
        order: list[int] = []
        stats["mechanism_samples"] = len(texts)
        for text in texts:
            parsed = parse_mechanism(text, families)
            if parsed.choice is not None and parsed.choice in index and index[parsed.choice] not in order:
                order.append(index[parsed.choice])
                sampled_texts[index[parsed.choice]] = text
        return order

    # ------------------------------------------------------------------------------------------ expression
    def _examples(self, problem: Problem, extra: Sequence[str], rng: np.random.Generator,
                  prior: tuple[list[tuple[str, ...]], np.ndarray | None] | None,
                  seen: set[str] = frozenset()) -> list[list[str]]:
        """Equations of up to ``n_examples`` library structures over the problem's states and ``extra``, not
        among the structure hashes ``seen`` (already tried structures would only be copied again)."""
        if self.n_examples == 0:
            return []
        if prior is None:
            prior = ([tuple(c) for c in self.library.compositions(problem)], None)
        choices, log_prior = prior
        if not choices:
            return []
        weights = np.zeros(len(choices)) if log_prior is None else log_prior
        allowed = set(problem.state_names) | set(extra)
        out: list[list[str]] = []
        for i in gumbel_top_k(weights, len(choices), max(self.temperature, 1.0), rng):
            try:
                model = self.library.build(problem, choices[i])
            except (ModelSpecError, ValueError):
                continue
            if set(model.states) <= allowed and model.structure_hash not in seen:
                out.append(model_lines(model))
            if len(out) >= self.n_examples:
                break
        return out

    def _expression_candidates(self, problem: Problem, feedback: Feedback | None, seed: int,
                               rng: np.random.Generator,
                               prior: tuple[list[tuple[str, ...]], np.ndarray | None] | None,
                               seen: set[str], stats: dict[str, Any]) -> tuple[list[Candidate], list[Candidate]]:
        backend = self.backend
        extra = self._extra(problem)
        examples = self._examples(problem, extra, rng, prior, seen)
        messages = build_messages(problem, feedback, kind="expression", extra_states=extra, examples=examples)
        grammar = (expression_grammar(problem.state_names, extra_states=extra, parameters=self._parameters(problem))
                   if backend.supports_grammar else None)
        allow = extra if grammar is not None else True
        tokens = self._tokens(problem)
        start = time.perf_counter()
        texts = self.generate(messages, n=self.samples_per_call, grammar=grammar, max_new_tokens=tokens,
                              seed=int(seed))
        stats["generate_seconds"] = time.perf_counter() - start
        stats["samples"] = len(texts)
        valid: list[Candidate] = []
        failed: dict[str, str] = {}
        parsed_ok = 0
        for text in texts:
            if text in failed:
                continue
            parsed = parse_equations(text, problem, allow_extra_states=allow)
            reason = parsed.reason
            if parsed.model is not None:
                parsed_ok += 1
                reason = self._validate(parsed.model, problem)
                if not reason:
                    valid.append(Candidate(parsed.model, text, "llm-expression",
                                           description="equations written by the language model"))
                    continue
            failed[text] = reason
        stats["parsed"] = parsed_ok
        stats["valid_samples"] = len(valid)
        rejected: list[Candidate] = []
        repairs = 0
        repaired = 0
        start = time.perf_counter()
        for i, (text, reason) in enumerate(failed.items()):
            if self.repair and repairs < self.max_repairs:
                repairs += 1
                fix_messages = build_repair_messages(problem, text, reason, feedback, kind="expression",
                                                     extra_states=extra, examples=examples)
                fixed = self.generate(fix_messages, n=1, grammar=grammar, max_new_tokens=tokens,
                                      seed=int(seed) + 1 + i)[0]
                parsed = parse_equations(fixed, problem, allow_extra_states=allow)
                reason2 = parsed.reason or self._validate(parsed.model, problem)
                if not reason2:
                    repaired += 1
                    valid.append(Candidate(parsed.model, fixed, "repair",
                                           description=f"repaired equations (first attempt rejected: {reason})"))
                    continue
                reason = f"{reason}; repair also rejected: {reason2}"
                text = f"{text}\n--- repair attempt ---\n{fixed}"
            model = None
            rejected.append(Candidate(model, text, "llm-expression", status="rejected", reason=reason))
        stats["repairs"] = repairs
        stats["repaired"] = repaired
        stats["repair_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        if self.score_prior and valid:
            # every reply is scored, re-tokenised canonically, as an answer to the same (first) prompt: the
            # log-probabilities of the sampled tokens are no substitute, because grammar-constrained sampling often
            # picks non-canonical token splits that the model finds far less likely (by about 40 nats on a
            # ten-token reply in a test with the embedded model)
            unique = list(dict.fromkeys(c.raw_text for c in valid))
            scores = {}
            try:
                scores = dict(zip(unique, self.score(messages, unique)))
            except NotImplementedError:
                pass
            valid = [replace(c, log_prior=float(scores[c.raw_text])) if c.raw_text in scores else c for c in valid]
        stats["score_seconds"] = time.perf_counter() - start
        return valid, rejected

    # ------------------------------------------------------------------------------------------ propose
    def propose(self, problem: Problem, feedback: Feedback | None = None, k: int = 16, *,
                seed: int = 0) -> list[Candidate]:
        """Propose up to ``k`` valid candidate structures, followed by the rejected proposals.

        Parameters
        ----------
        problem
            What to explain.
        feedback
            Results of earlier rounds, or ``None``.
        k
            Most valid candidates returned.
        seed
            Seed of the sampling (Gumbel draws and generation); same inputs and seed give the same candidates.

        Returns
        -------
        list of Candidate
            Valid, new candidates first (at most ``k``; level ``"both"`` alternates mechanism and expression
            candidates, each ranked by ``log_prior``), then rejected ones (``status="rejected"`` with a reason).
        """
        if not isinstance(problem, Problem):
            raise TypeError(f"problem: expected a cohortode.propose.Problem, got {type(problem).__name__}")
        if feedback is not None and not isinstance(feedback, Feedback):
            raise TypeError(f"feedback: expected a Feedback or None, got {type(feedback).__name__}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k: expected a positive integer, got {k!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        k, seed = int(k), int(seed)
        start = time.perf_counter()
        stats: dict[str, Any] = {"fallback": False}
        rng = np.random.default_rng(seed)
        seen_hashes, seen_mechanisms = self._seen(problem, feedback)
        mech: list[Candidate] = []
        expr: list[Candidate] = []
        rejected: list[Candidate] = []
        prior = None
        if self.level in ("both", "mechanism"):
            t0 = time.perf_counter()
            prior = self.mechanism_prior(problem, feedback)
            stats["prior_seconds"] = time.perf_counter() - t0
            valid, bad = self._mechanism_candidates(problem, feedback, k, rng, seen_hashes, seen_mechanisms, prior,
                                                    stats)
            mech, rejected = valid, rejected + bad
        if self.level in ("both", "expression"):
            valid, bad = self._expression_candidates(problem, feedback, seed, rng, prior, seen_hashes, stats)
            expr, rejected = valid, rejected + bad
        seen = set(seen_hashes)  # deduplicate() adds the hashes it keeps: expressions cannot repeat mechanisms
        mech = deduplicate(mech, seen)
        expr = deduplicate(expr, seen)
        stats["duplicates"] = sum(c.status == "duplicate" for c in (*mech, *expr))
        out = _interleave(_rank(mech), _rank(expr))[:k]
        if not out and self.fallback:
            stats["fallback"] = True
            logger.warning("the language model proposed no valid new structure for %r; using the motif proposer",
                           problem.name)
            from ._motif_proposer import MotifProposer

            motif = MotifProposer(self.library, max_parameters=self.max_parameters,
                                  max_complexity=self.max_complexity)
            out = [replace(c, source="motif", description=(
                       "fallback (the language model proposed nothing valid): " + c.description).strip())
                   for c in motif.propose(problem, feedback, k, seed=seed) if c.status == "valid"][:k]
        stats["valid"] = len(out)
        stats["rejected"] = len(rejected)
        stats["seconds"] = time.perf_counter() - start
        self.last_stats = stats
        return out + rejected


def _rank(candidates: list[Candidate]) -> list[Candidate]:
    """Valid candidates by ``log_prior``, highest first (``None`` last; ties keep their order)."""
    valid = [c for c in candidates if c.status == "valid"]
    return sorted(valid, key=lambda c: -c.log_prior if c.log_prior is not None else math.inf)


def _interleave(a: list[Candidate], b: list[Candidate]) -> list[Candidate]:
    out: list[Candidate] = []
    for i in range(max(len(a), len(b))):
        out.extend(x[i] for x in (a, b) if i < len(x))
    return out
