"""Tests of the OpenAI-compatible HTTP backend against a real local HTTP server (no model needed)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cohortode._errors import LLMBackendError
from cohortode.propose.backends import OpenAIHTTPBackend, clear_backend_cache, resolve_backend
from cohortode.propose.backends.http_backend import _chatml

MODEL = "tiny-chat"
CHAT = [{"role": "user", "content": "What is 2+2?"}]


class _FakeServer(ThreadingHTTPServer):
    """An OpenAI-compatible server with canned answers; records the requests it receives."""

    daemon_threads = True

    def __init__(self, *, honor_n: bool = True, echo_logprobs: bool = True):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.honor_n = honor_n
        self.echo_logprobs = echo_logprobs
        self.requests: list[tuple[str, dict]] = []


def _token_logprob(token: str) -> float:
    return -0.5 * len(token)


class _Handler(BaseHTTPRequestHandler):
    server: _FakeServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, request))
        if self.path not in ("/v1/chat/completions", "/v1/completions") or (
            self.path == "/v1/completions" and not self.server.echo_logprobs
        ):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
        elif request.get("model") != MODEL:
            self._send(404, {"error": {"message": f"model '{request.get('model')}' not found, try pulling it first"}})
        elif self.path == "/v1/chat/completions":
            n = request.get("n", 1) if self.server.honor_n else 1
            choices = [
                {"index": i, "message": {"role": "assistant", "content": f"  reply {request['seed']}-{i}\n"},
                 "finish_reason": "stop"}
                for i in range(n)
            ]
            self._send(200, {"object": "chat.completion", "model": MODEL, "choices": choices})
        else:  # /v1/completions with echo: whitespace-separated "tokens", log-probability -len/2 each
            choices = []
            for i, prompt in enumerate(request["prompt"]):
                tokens = [m.group() for m in re.finditer(r"\S+|\s+", prompt)]
                offsets = [m.start() for m in re.finditer(r"\S+|\s+", prompt)]
                logprobs = [None] + [_token_logprob(t) for t in tokens[1:]]
                choices.append({"index": i, "text": prompt, "finish_reason": "length",
                                "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets}})
            self._send(200, {"object": "text_completion", "model": MODEL, "choices": choices[::-1]})


def _serve(server: _FakeServer) -> Iterator[tuple[str, _FakeServer]]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[tuple[str, _FakeServer]]:
    yield from _serve(_FakeServer())


@pytest.fixture
def lazy_server() -> Iterator[tuple[str, _FakeServer]]:
    """A server that ignores ``n`` and cannot echo log-probabilities (like ollama)."""
    yield from _serve(_FakeServer(honor_n=False, echo_logprobs=False))


@pytest.fixture(autouse=True)
def _fresh_resolver_cache() -> Iterator[None]:
    clear_backend_cache()
    yield
    clear_backend_cache()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_generate_honors_n_in_one_request(server):
    url, srv = server
    backend = OpenAIHTTPBackend(url + "/v1/", MODEL)  # a trailing /v1 is accepted
    assert backend.available_models == [MODEL]
    assert backend.supports_grammar is False
    replies = backend.generate(CHAT, n=3, grammar='root ::= "A"', temperature=0.5, max_new_tokens=7, seed=11)
    assert replies == ["reply 11-0", "reply 11-1", "reply 11-2"]
    posts = [r for path, r in srv.requests if path == "/v1/chat/completions"]
    assert len(posts) == 1
    assert posts[0] == {"model": MODEL, "messages": CHAT, "n": 3, "temperature": 0.5, "top_p": 0.95,
                        "max_tokens": 7, "seed": 11}


def test_generate_loops_when_the_server_ignores_n(lazy_server):
    url, srv = lazy_server
    replies = OpenAIHTTPBackend(url, MODEL).generate(CHAT, n=3, seed=5)
    assert replies == ["reply 5-0", "reply 6-0", "reply 7-0"]  # distinct seeds per extra request
    assert len(srv.requests) == 3


def test_score_uses_echoed_logprobs_in_one_batch(server):
    url, srv = server
    continuations = ["4", "purple elephant"]
    scores = OpenAIHTTPBackend(url, MODEL).score(CHAT, continuations)
    # the continuations start right after the ChatML assistant header; each "token" scores -len/2
    expected = [_token_logprob("4"), _token_logprob("purple") + _token_logprob(" ") + _token_logprob("elephant")]
    np.testing.assert_allclose(scores, expected)
    assert scores[0] > scores[1]
    (path, request), = srv.requests
    assert path == "/v1/completions"
    assert request["prompt"] == [_chatml(CHAT) + c for c in continuations]
    assert request["echo"] is True and request["logprobs"] == 1 and request["max_tokens"] == 0


def test_score_without_logprob_support_is_not_implemented(lazy_server):
    url, _ = lazy_server
    with pytest.raises(NotImplementedError, match="cannot score.*TransformersBackend"):
        OpenAIHTTPBackend(url, MODEL).score(CHAT, ["4"])


def test_wrong_url_names_the_url():
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(LLMBackendError, match=re.escape(url)):
        OpenAIHTTPBackend(url, MODEL, timeout=5)
    backend = OpenAIHTTPBackend(url, MODEL, timeout=5, check=False)
    with pytest.raises(LLMBackendError, match=re.escape(url)):
        backend.generate(CHAT)


def test_wrong_path_on_a_live_server_is_a_404_error(server):
    url, _ = server
    with pytest.raises(LLMBackendError, match=r"HTTP 404.*base_url"):
        OpenAIHTTPBackend(url + "/api", MODEL)


def test_unknown_model_names_the_model(server):
    url, _ = server
    with pytest.raises(LLMBackendError, match=r"'no-such-model'.*tiny-chat"):
        OpenAIHTTPBackend(url, "no-such-model")
    backend = OpenAIHTTPBackend(url, "no-such-model", check=False)
    with pytest.raises(LLMBackendError, match="no-such-model"):
        backend.generate(CHAT)
    with pytest.raises(LLMBackendError, match="no-such-model"):
        backend.score(CHAT, ["4"])


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="base_url"):
        OpenAIHTTPBackend("127.0.0.1:8080", MODEL, check=False)
    with pytest.raises(ValueError, match="model"):
        OpenAIHTTPBackend("http://127.0.0.1:8080", "", check=False)


def test_resolve_backend_builds_and_caches_http_backends(server, monkeypatch):
    url, srv = server
    monkeypatch.delenv("COHORTODE_LLM_MODEL", raising=False)
    backend = resolve_backend(f"{url}#{MODEL}")
    assert isinstance(backend, OpenAIHTTPBackend) and backend.model == MODEL
    assert resolve_backend(f"{url}#{MODEL}") is backend
    with pytest.raises(LLMBackendError, match="COHORTODE_LLM_MODEL"):
        resolve_backend(url)
    monkeypatch.setenv("COHORTODE_LLM_MODEL", MODEL)
    assert resolve_backend(url).model == MODEL
    monkeypatch.setenv("COHORTODE_LLM", f"{url}#{MODEL}")
    assert resolve_backend() is backend


class _Hostile(ThreadingHTTPServer):
    """A server that answers /v1/models, then either a huge body or a slow trickle of bytes."""

    daemon_threads = True

    def __init__(self, mode: str):
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.mode = mode


class _HostileHandler(BaseHTTPRequestHandler):
    server: _Hostile

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body runs until the connection closes
        try:
            if self.server.mode == "huge":
                for _ in range(64):
                    self.wfile.write(b" " * 65536)
            else:
                import time

                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.mark.parametrize("mode", ["huge", "trickle"])
def test_response_size_and_time_per_call_are_capped(mode):
    server = _Hostile(mode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = OpenAIHTTPBackend(f"http://127.0.0.1:{server.server_address[1]}", MODEL, timeout=5.0,
                                    call_timeout=0.5, max_response_bytes=100_000)
        with pytest.raises(LLMBackendError, match="max_response_bytes" if mode == "huge" else "per call"):
            backend.generate(CHAT, n=1)
    finally:
        server.shutdown()
        server.server_close()
