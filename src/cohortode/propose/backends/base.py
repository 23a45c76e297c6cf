"""The interface every language-model backend of the proposer implements.

A backend turns a chat (a list of ``{"role", "content"}`` messages) into sampled replies
(:meth:`LLMBackend.generate`) and scores given replies (:meth:`LLMBackend.score`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

__all__ = ["LLMBackend", "validate_messages", "validate_sampling"]

_ROLES = ("system", "user", "assistant")


class LLMBackend(abc.ABC):
    """A chat language model that samples and scores replies.

    Attributes
    ----------
    name
        Human-readable identifier of the model (a path, or ``url#model``).
    supports_grammar
        ``True`` when :meth:`generate` enforces its ``grammar`` argument; ``False`` when it ignores it
        (callers must then validate the text with a safe parser).
    """

    name: str
    supports_grammar: bool

    @abc.abstractmethod
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
        """Sample ``n`` completions of a chat.

        Parameters
        ----------
        messages
            The chat, a list of ``{"role": ..., "content": ...}`` with roles ``system``, ``user`` or
            ``assistant``.
        n
            Number of completions.
        grammar
            An EBNF string in xgrammar's GBNF dialect whose start rule is ``root``; every output conforms
            to it (unless cut off by ``max_new_tokens``). Ignored when :attr:`supports_grammar` is false.
        temperature
            Sampling temperature; ``0`` means greedy decoding.
        top_p
            Nucleus-sampling mass in ``(0, 1]``.
        max_new_tokens
            Upper bound on the number of generated tokens per completion.
        seed
            Random seed; the same seed, chat and settings give the same completions.

        Returns
        -------
        list of str
            ``n`` replies (new text only, whitespace-stripped).
        """

    @abc.abstractmethod
    def score(self, messages: list[dict[str, str]], continuations: list[str]) -> np.ndarray:
        """Total log-probability (natural log) of each continuation as the assistant's reply to the chat.

        Parameters
        ----------
        messages
            The chat the continuations answer.
        continuations
            Candidate assistant replies, scored as one batch.

        Returns
        -------
        numpy.ndarray
            Float array of shape ``(len(continuations),)``.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def validate_messages(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Check a chat and return it as a list of plain ``{"role", "content"}`` dicts.

    Raises
    ------
    ValueError
        If ``messages`` is empty or an entry is not a dict with string ``role`` and ``content``.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or len(messages) == 0:
        raise ValueError(
            "messages: expected a non-empty list of {'role': ..., 'content': ...} dicts, "
            f"got {type(messages).__name__}; wrap a prompt as [{{'role': 'user', 'content': prompt}}]"
        )
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) or not isinstance(
            message.get("content"), str
        ):
            raise ValueError(
                f"messages[{i}]: expected a dict with string 'role' and 'content', got {message!r}"
            )
        if message["role"] not in _ROLES:
            raise ValueError(f"messages[{i}]['role']: expected one of {_ROLES}, got {message['role']!r}")
        out.append({"role": message["role"], "content": message["content"]})
    return out


def validate_sampling(*, n: int, temperature: float, top_p: float, max_new_tokens: int) -> None:
    """Check the common sampling arguments of :meth:`LLMBackend.generate`.

    Raises
    ------
    ValueError
        Naming the offending argument and its allowed range.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature: expected a finite number >= 0 (0 = greedy), got {temperature!r}")
    if not (0.0 < top_p <= 1.0):
        raise ValueError(f"top_p: expected a number in (0, 1], got {top_p!r}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens: expected a positive integer, got {max_new_tokens!r}")
