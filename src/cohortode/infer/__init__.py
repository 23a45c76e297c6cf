"""Inference: MAP, Laplace and NUTS fits of a structure to aggregate data or to counts of one population."""

from ._diagnostics import GOOD_RHAT as GOOD_RHAT
from ._diagnostics import MIN_ESS_PER_CHAIN as MIN_ESS_PER_CHAIN
from ._diagnostics import diagnose as diagnose
from ._count_fit import CountFit as CountFit
from ._fit import Fit as Fit
from ._fit import fit as fit
from ._fit import fit_from_chains as fit_from_chains
from ._fit import start_nuts as start_nuts
from ._nuts_start import NutsStart as NutsStart
from ._settings import FitSettings as FitSettings
from ._optimize import MapResult as MapResult
from ._optimize import find_map as find_map
from ._problem import BayesianProblem as BayesianProblem
