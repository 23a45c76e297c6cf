"""Language-model backends of the proposer: a local ``transformers`` model or an OpenAI-compatible server."""

from .base import LLMBackend
from .http_backend import OpenAIHTTPBackend
from .resolve import clear_backend_cache, resolve_backend
from .transformers_backend import TransformersBackend, embedded_model_path

__all__ = [
    "LLMBackend",
    "OpenAIHTTPBackend",
    "TransformersBackend",
    "clear_backend_cache",
    "embedded_model_path",
    "resolve_backend",
]
