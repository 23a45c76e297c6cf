"""A backend for OpenAI-compatible chat servers (ollama, llama.cpp's server, vLLM), using only the stdlib.

Grammars are not enforced (``supports_grammar`` is false): callers must check the replies with a safe
parser.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from ..._errors import LLMBackendError
from .base import LLMBackend, validate_messages, validate_sampling

__all__ = ["OpenAIHTTPBackend", "ENV_API_KEY"]

MAX_RESPONSE_BYTES = 4_000_000
"""Default cap on the size of one response body (a reply of a few hundred tokens is a few kB)."""

ENV_API_KEY = "COHORTODE_LLM_API_KEY"
"""Environment variable holding the server's API key when ``api_key`` is not given."""

_URL_EXAMPLES = (
    "e.g. http://127.0.0.1:11434 (ollama), http://127.0.0.1:8080 (llama.cpp server) or http://127.0.0.1:8000 (vLLM)"
)


class _HTTPStatusError(LLMBackendError):
    """The server answered with an HTTP error status (internal; callers turn it into a clearer error)."""

    def __init__(self, url: str, status: int, detail: str):
        self.url, self.status, self.detail = url, status, detail
        super().__init__(f"the server at {url} answered HTTP {status}: {detail}")


def _chatml(messages: list[dict[str, str]]) -> str:
    """Render a chat in ChatML, followed by the header of the assistant's turn."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


class OpenAIHTTPBackend(LLMBackend):
    """A chat model served over an OpenAI-compatible HTTP API.

    Parameters
    ----------
    base_url
        The server root, e.g. ``http://127.0.0.1:11434``; a trailing ``/v1`` is accepted and removed.
    model
        The model name the server knows (``GET <base_url>/v1/models`` lists them).
    api_key
        Sent as ``Authorization: Bearer <api_key>``; default ``$COHORTODE_LLM_API_KEY`` (none if unset).
    timeout
        Seconds to wait for each HTTP request.
    call_timeout
        Total seconds one :meth:`generate` or :meth:`score` call may take, all its requests and the reading of their
        bodies together (a server that trickles bytes cannot hold a run); default ``timeout``.
    max_response_bytes
        Largest response body read; a larger one is refused with :class:`~cohortode.LLMBackendError`.
    check
        If true (default), ask ``/v1/models`` now, so that a wrong URL or model name fails here.

    Raises
    ------
    LLMBackendError
        If ``check`` is true and the server cannot be reached or does not serve ``model``.

    Notes
    -----
    :meth:`generate` ignores ``grammar``. :meth:`score` needs a server whose ``/v1/completions`` endpoint
    supports ``echo`` with ``logprobs`` (e.g. vLLM); the chat is rendered in ChatML for it, which is exact
    for ChatML models (SmolLM2, Qwen) and an approximation for others.
    """

    supports_grammar = False

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        check: bool = True,
        call_timeout: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http:// or https:// URL ({_URL_EXAMPLES}), got {base_url!r}")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model: expected the name of a model the server serves, got {model!r}")
        if not timeout > 0:
            raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError(f"call_timeout: expected a positive number of seconds or None, got {call_timeout!r}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ValueError(f"max_response_bytes: expected a positive integer, got {max_response_bytes!r}")
        self.call_timeout = float(timeout if call_timeout is None else call_timeout)
        self.max_response_bytes = max_response_bytes
        self._deadline: float | None = None
        url = base_url.rstrip("/")
        self.base_url = url[: -len("/v1")] if url.endswith("/v1") else url
        self.model = model
        self.name = f"{self.base_url}#{model}"
        self.api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY) or None
        self.timeout = float(timeout)
        self.available_models: list[str] | None = None
        if check:
            self.check()

    # ----------------------------------------------------------------------------------------- transport

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET (no payload) or POST JSON to ``base_url + path`` and return the decoded JSON answer."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        deadline = time.monotonic() + self.call_timeout
        if self._deadline is not None:
            deadline = min(deadline, self._deadline)
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            with urllib.request.urlopen(request, timeout=min(self.timeout, remaining)) as response:
                body = self._read_capped(response, url, deadline)
        except urllib.error.HTTPError as exc:
            raise _HTTPStatusError(url, exc.code, _error_detail(exc)) from exc
        except urllib.error.URLError as exc:
            raise LLMBackendError(
                f"cannot reach the LLM server at {url}: {exc.reason}. Check that the server is running and "
                f"that the base URL is right ({_URL_EXAMPLES})"
            ) from exc
        except TimeoutError as exc:
            raise LLMBackendError(
                f"the LLM server at {url} did not answer within {self.timeout:g} s per request and "
                f"{self.call_timeout:g} s per call; pass a larger timeout= or call_timeout=, or check the server"
            ) from exc
        except (http.client.HTTPException, ConnectionError) as exc:
            raise LLMBackendError(f"the connection to the LLM server at {url} failed: {exc!r}") from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise LLMBackendError(
                f"the server at {url} did not answer JSON; is {self.base_url} an OpenAI-compatible API server?"
            ) from exc
        if not isinstance(answer, dict):
            raise LLMBackendError(f"the server at {url} answered {type(answer).__name__}, expected a JSON object")
        return answer

    def _read_capped(self, response: Any, url: str, deadline: float) -> bytes:
        """The response body, read in pieces: at most ``max_response_bytes``, and not past ``deadline``."""
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_response_bytes:
            raise LLMBackendError(f"the server at {url} announced a response of {int(length)} bytes, more than "
                                  f"max_response_bytes={self.max_response_bytes}; refused")
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_response_bytes:
                raise LLMBackendError(f"the response of the server at {url} exceeds max_response_bytes="
                                      f"{self.max_response_bytes}; refused")
            chunks.append(chunk)

    def _about_model(self, detail: str) -> bool:
        """Whether an error message is about this backend's model (it names the model)."""
        return self.model.lower() in detail.lower() and "model" in detail.lower()

    def _explain(self, exc: _HTTPStatusError) -> LLMBackendError:
        """Turn an HTTP error status into an error that names the likely cause and its fix."""
        if self._about_model(exc.detail):
            return LLMBackendError(
                f"the server at {self.base_url} does not serve the model {self.model!r} ({exc.detail}). "
                f"Use a model it serves (GET {self.base_url}/v1/models lists them; "
                f"with ollama: ollama pull {self.model})"
            )
        if exc.status in (401, 403):
            return LLMBackendError(
                f"the server at {exc.url} refused the request (HTTP {exc.status}: {exc.detail}); pass api_key= "
                f"or set ${ENV_API_KEY}"
            )
        if exc.status == 404:
            return LLMBackendError(
                f"{exc.url} was not found (HTTP 404: {exc.detail}); base_url {self.base_url!r} should be the root of "
                f"an OpenAI-compatible server ({_URL_EXAMPLES})"
            )
        return LLMBackendError(
            f"the server at {exc.url} answered HTTP {exc.status} for model {self.model!r}: {exc.detail}"
        )

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._request(path, payload)
        except _HTTPStatusError as exc:
            raise self._explain(exc) from exc

    # ------------------------------------------------------------------------------------------- public

    def check(self) -> list[str]:
        """List the server's models (``GET /v1/models``) and check that :attr:`model` is one of them.

        Returns
        -------
        list of str
            The model names the server reports (also stored in :attr:`available_models`).

        Raises
        ------
        LLMBackendError
            If the server cannot be reached or does not list :attr:`model`.
        """
        try:
            answer = self._request("/v1/models")
        except _HTTPStatusError as exc:
            raise self._explain(exc) from exc
        entries = answer.get("data")
        names = [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)] if isinstance(
            entries, list
        ) else []
        self.available_models = names
        if names and self.model not in names and f"{self.model}:latest" not in names:
            shown = ", ".join(repr(m) for m in names[:20]) + (", ..." if len(names) > 20 else "")
            raise LLMBackendError(
                f"the server at {self.base_url} does not serve the model {self.model!r}; it serves {shown}. "
                "Pass one of these names (as `model`, the url#model suffix or $COHORTODE_LLM_MODEL)"
            )
        return names

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
        """Sample ``n`` replies from ``POST /v1/chat/completions``; ``grammar`` is ignored.

        If the server returns fewer than ``n`` choices (some ignore ``n``), further requests are sent with
        seeds ``seed + 1``, ``seed + 2``, ... until ``n`` replies are collected. See :meth:`LLMBackend.generate`.
        """
        messages = validate_messages(messages)
        validate_sampling(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        self._deadline = time.monotonic() + self.call_timeout
        try:
            return self._generate(messages, n, temperature, top_p, max_new_tokens, seed)
        finally:
            self._deadline = None

    def _generate(self, messages: list[dict[str, str]], n: int, temperature: float, top_p: float,
                  max_new_tokens: int, seed: int) -> list[str]:
        replies: list[str] = []
        attempt = 0
        while len(replies) < n:
            want = int(n) - len(replies)
            payload = {
                "model": self.model,
                "messages": messages,
                "n": want,
                "temperature": float(temperature),
                "top_p": float(top_p),
                "max_tokens": int(max_new_tokens),
                "seed": int(seed) + attempt,
            }
            choices = self._post("/v1/chat/completions", payload).get("choices")
            if not isinstance(choices, list) or not choices:
                raise LLMBackendError(
                    f"the server at {self.base_url} returned no choices for model {self.model!r}"
                )
            choices = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
            for choice in choices[:want]:
                message = choice.get("message") if isinstance(choice, dict) else None
                content = message.get("content") if isinstance(message, dict) else None
                replies.append((content or "").strip())
            attempt += 1
        return replies

    def score(self, messages: list[dict[str, str]], continuations: list[str]) -> np.ndarray:
        """Log-probability of each continuation via ``/v1/completions`` with ``echo`` and ``logprobs``.

        Raises
        ------
        NotImplementedError
            If the server does not return prompt log-probabilities (ollama and llama.cpp's server do not);
            use a :class:`TransformersBackend` for scoring then.
        LLMBackendError
            If the server cannot be reached or does not serve the model.
        """
        messages = validate_messages(messages)
        if isinstance(continuations, str) or not all(isinstance(c, str) for c in continuations):
            raise ValueError("continuations: expected a list of strings; wrap a single text as [text]")
        prefix = _chatml(messages)
        prompts = [prefix + c for c in continuations]
        if not prompts:
            return np.zeros(0)
        self._deadline = time.monotonic() + self.call_timeout
        try:
            choices = self._echo_logprobs(prompts)
            if len(choices) != len(prompts):  # server does not batch prompt lists: one request each
                choices = [self._echo_logprobs([p])[0] for p in prompts]
        finally:
            self._deadline = None
        return np.array([self._sum_logprobs(c, len(prefix), len(p)) for c, p in zip(choices, prompts)], dtype=float)

    def _unsupported(self, why: str) -> NotImplementedError:
        return NotImplementedError(
            f"the server at {self.base_url} cannot score continuations ({why}): scoring needs /v1/completions "
            "with echo=true and logprobs (vLLM supports it; ollama and llama.cpp's server do not). "
            "Use TransformersBackend for scoring"
        )

    def _echo_logprobs(self, prompts: list[str]) -> list[dict[str, Any]]:
        """Choices of a ``/v1/completions`` echo request, ordered like ``prompts``."""
        payload: dict[str, Any] = {
            "model": self.model,
            "prompt": prompts,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 0,
            "temperature": 0.0,
        }
        try:
            try:
                answer = self._request("/v1/completions", payload)
            except _HTTPStatusError as exc:
                if exc.status != 400 or self._about_model(exc.detail):
                    raise
                answer = self._request("/v1/completions", {**payload, "max_tokens": 1})  # some reject max_tokens=0
        except _HTTPStatusError as exc:
            if self._about_model(exc.detail) or exc.status in (401, 403):
                raise self._explain(exc) from exc
            if exc.status in (400, 404, 405, 422, 501):
                raise self._unsupported(f"HTTP {exc.status}: {exc.detail}") from exc
            raise self._explain(exc) from exc
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise self._unsupported("no choices in the answer")
        return sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)

    def _sum_logprobs(self, choice: Any, start: int, end: int) -> float:
        """Sum the log-probabilities of the echoed tokens that start in ``[start, end)``."""
        logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
        if not isinstance(logprobs, dict) or not all(
            isinstance(logprobs.get(k), list) for k in ("token_logprobs", "text_offset")
        ):
            raise self._unsupported("the answer has no token_logprobs/text_offset")
        total = 0.0
        for offset, value in zip(logprobs["text_offset"], logprobs["token_logprobs"]):
            if value is not None and start <= offset < end:
                total += float(value)
        return total


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The message of an HTTP error body (OpenAI-style ``{"error": ...}`` JSON or plain text)."""
    try:
        raw = exc.read().decode("utf-8", errors="replace")
    except OSError:
        raw = ""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.strip()[:300] or str(exc.reason)
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:300]
