"""Structure proposers: a motif library, a language-model proposer, validation and deduplication of candidates.

The language-model backends import torch, transformers and xgrammar only when a model is loaded, so importing this
package needs none of them.
"""

from ._candidate import Candidate as Candidate
from ._feedback import Feedback as Feedback
from ._feedback import ScoredStructure as ScoredStructure
from ._grammar import expression_grammar as expression_grammar
from ._grammar import mechanism_grammar as mechanism_grammar
from ._llm_proposer import LLMProposer as LLMProposer
from ._motif_proposer import MotifProposer as MotifProposer
from ._parse_output import parse_equations as parse_equations
from ._parse_output import parse_mechanism as parse_mechanism
from ._infer_problem import infer_problem as infer_problem
from ._problem import Problem as Problem
from ._problem import StateInfo as StateInfo
from ._prompt import build_messages as build_messages
from ._summary import DataSummary as DataSummary
from ._summary import ObservableSummary as ObservableSummary
from ._summary import summarise as summarise
from ._validate import deduplicate as deduplicate
from ._validate import validate_model as validate_model
from .backends import LLMBackend as LLMBackend
from .backends import OpenAIHTTPBackend as OpenAIHTTPBackend
from .backends import TransformersBackend as TransformersBackend
from .backends import resolve_backend as resolve_backend
from .base import Proposer as Proposer
from .motifs import Block as Block
from .motifs import MotifLibrary as MotifLibrary
from .motifs import default_library as default_library
from .motifs import mutate as mutate

__all__ = [
    "Block",
    "Candidate",
    "DataSummary",
    "Feedback",
    "LLMBackend",
    "LLMProposer",
    "MotifLibrary",
    "MotifProposer",
    "ObservableSummary",
    "OpenAIHTTPBackend",
    "Problem",
    "Proposer",
    "ScoredStructure",
    "StateInfo",
    "TransformersBackend",
    "build_messages",
    "deduplicate",
    "default_library",
    "expression_grammar",
    "infer_problem",
    "mechanism_grammar",
    "mutate",
    "parse_equations",
    "parse_mechanism",
    "resolve_backend",
    "summarise",
    "validate_model",
]
