"""The key/value-cache keyword of a ``transformers`` causal language model, across transformers versions.

transformers 5.24 renamed the forward pass's ``past_key_values`` argument (and the output field of the same name) to
``cache``; the old keyword still works there but warns that it goes away in 5.40. Earlier 5.x releases know only
``past_key_values``. The name is read from the model's own ``forward`` signature, so the code passes whichever the
installed version defines and never triggers the deprecation path.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["cache_keyword", "output_cache"]

_NEW, _OLD = "cache", "past_key_values"


def cache_keyword(model: Any) -> str:
    """``"cache"`` when ``model.forward`` takes that argument (transformers >= 5.24), else ``"past_key_values"``."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return _OLD
    return _NEW if _NEW in parameters else _OLD


def output_cache(output: Any, keyword: str) -> Any:
    """The key/value cache a forward pass returned, read from the field named like ``keyword``."""
    return getattr(output, keyword)
