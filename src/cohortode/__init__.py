"""cohortode: Bayesian ODE discovery from aggregate small-cohort data.

Importing cohortode turns on JAX's 64-bit mode (``jax_enable_x64``): ODE solutions and likelihoods need float64. It
also turns on JAX's persistent compilation cache in the user cache directory (``<cache>/cohortode/jax``), so a
structure compiled once is not compiled again in a later process; set ``COHORTODE_JAX_CACHE`` to another folder, or
to ``0`` to leave JAX's cache settings alone.

Unless ``EQX_ON_ERROR`` is already set (or equinox was imported first), it is set to ``nan``: equinox's run-time
checks inside diffrax then return NaN, which cohortode treats as a failed solve (log density ``-inf``), instead of a
Python callback. Compiled functions with Python callbacks cannot be stored in the persistent compilation cache, so
without this every new process would compile each structure again.
"""

import os as _os

_os.environ.setdefault("EQX_ON_ERROR", "nan")

import jax as _jax  # noqa: E402

from ._config import enable_compilation_cache as _enable_compilation_cache  # noqa: E402
from ._quiet import import_arviz as _import_arviz  # noqa: E402

_jax.config.update("jax_enable_x64", True)
_enable_compilation_cache()
_import_arviz()  # before any module imports it: its daily notice is not for cohortode's users

from ._errors import CandidateRejected as CandidateRejected  # noqa: E402
from ._errors import CohortDataError as CohortDataError  # noqa: E402
from ._errors import CohortDataWarning as CohortDataWarning  # noqa: E402
from ._errors import CohortodeError as CohortodeError  # noqa: E402
from ._errors import DiagnosticsWarning as DiagnosticsWarning  # noqa: E402
from ._errors import ExpressionError as ExpressionError  # noqa: E402
from ._errors import FitError as FitError  # noqa: E402
from ._errors import LLMBackendError as LLMBackendError  # noqa: E402
from ._errors import ModelSpecError as ModelSpecError  # noqa: E402
from .compare import Comparison as Comparison  # noqa: E402
from .compare import compare as compare  # noqa: E402
from .compare import kfold as kfold  # noqa: E402
from .compile import SolverOptions as SolverOptions  # noqa: E402
from .compile import compile_model as compile_model  # noqa: E402
from .data import CohortData as CohortData  # noqa: E402
from .data import CountData as CountData  # noqa: E402
from .discover import Budget as Budget  # noqa: E402
from .discover import Discovery as Discovery  # noqa: E402
from .discover import discover as discover  # noqa: E402
from .datasets import list_cohorts as list_cohorts  # noqa: E402
from .datasets import load_cohort as load_cohort  # noqa: E402
from .ensemble import Absolute as Absolute  # noqa: E402
from .ensemble import Ensemble as Ensemble  # noqa: E402
from .ensemble import Regimen as Regimen  # noqa: E402
from .infer import Fit as Fit  # noqa: E402
from .infer import FitSettings as FitSettings  # noqa: E402
from .infer import fit as fit  # noqa: E402
from .likelihood import AggregateLikelihood as AggregateLikelihood  # noqa: E402
from .likelihood import Linearisation as Linearisation  # noqa: E402
from .likelihood import MonteCarlo as MonteCarlo  # noqa: E402
from .likelihood import ResidualError as ResidualError  # noqa: E402
from .likelihood import SigmaPoints as SigmaPoints  # noqa: E402
from .spec import ODEModel as ODEModel  # noqa: E402
from .spec import Parameter as Parameter  # noqa: E402
from .spec import Prior as Prior  # noqa: E402
from .spec import parse_expression as parse_expression  # noqa: E402
from .synthetic import simulate_cohort as simulate_cohort  # noqa: E402

__version__ = "0.1.0"
