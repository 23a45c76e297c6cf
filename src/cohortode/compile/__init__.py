"""Compilation of model structures to JAX: sympy -> JAX vector fields -> diffrax or matrix-exponential solutions."""

from ._compiled import CompiledModel as CompiledModel
from ._compiled import SolverOptions as SolverOptions
from ._compiled import compile_model as compile_model
from ._jaxify import jax_function as jax_function
from ._schedule import DoseEvent as DoseEvent
from ._schedule import DoseSchedule as DoseSchedule
from ._schedule import Segment as Segment
