"""A proposed model structure with where it came from and whether it passed validation."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import ODEModel

__all__ = ["Candidate", "SOURCES", "STATUSES"]

SOURCES = ("llm-mechanism", "llm-expression", "motif", "mutation", "repair")
"""Where a candidate can come from."""
STATUSES = ("valid", "rejected", "duplicate")
"""What validation said about a candidate."""


@dataclass
class Candidate:
    """One proposed structure.

    Attributes
    ----------
    model
        The structure, or ``None`` when the text could not be turned into a model.
    raw_text
        The text that produced it (a language model's output, or the motif choice).
    source
        One of :data:`SOURCES`.
    mechanism
        Library block names when composed from blocks, e.g.
        ``("first_order_absorption", "one_compartment", "linear_elimination")``.
    description
        Natural-language description.
    log_prior
        A language model's plausibility score of the structure (natural log), or ``None``.
    status
        ``"valid"``, ``"rejected"`` or ``"duplicate"``.
    reason
        Why it was rejected, or what it duplicates.
    parent
        For a mutation: the structure hash of the scored structure it was derived from (``""`` otherwise). The
        discovery loop starts the child's fit from the parent's optimum.
    """

    model: ODEModel | None
    raw_text: str
    source: str
    mechanism: tuple[str, ...] = ()
    description: str = ""
    log_prior: float | None = None
    status: str = "valid"
    reason: str = ""
    parent: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Candidate status must be one of {STATUSES}, got {self.status!r}")
        self.mechanism = tuple(self.mechanism)

    @property
    def structure_hash(self) -> str:
        """The model's structure hash, or ``""`` without a model."""
        return self.model.structure_hash if self.model is not None else ""

    @property
    def is_valid(self) -> bool:
        """Whether the candidate has a model and passed validation."""
        return self.model is not None and self.status == "valid"
