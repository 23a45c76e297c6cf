"""The motif library: named mechanisms (PK, PD, epidemic, growth, disease progression) that compose into structures,
and mutations of structures."""

from ._block import Block, Draft, Family
from ._library import MotifLibrary, default_library
from ._mutate import MUTATIONS, mutate

__all__ = ["Block", "Draft", "Family", "MotifLibrary", "default_library", "mutate", "MUTATIONS"]
