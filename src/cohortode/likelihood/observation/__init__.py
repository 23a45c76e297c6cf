"""Observation models of counts and fractions of one population: one file per model, chosen by name."""

from .base import ObservationModel as ObservationModel
from .binomial import Binomial as Binomial
from .negative_binomial import DEFAULT_OVERDISPERSION_PRIOR as DEFAULT_OVERDISPERSION_PRIOR
from .negative_binomial import NegativeBinomial as NegativeBinomial
from .poisson import Poisson as Poisson
from .registry import COUNT_OBSERVATION_MODELS as COUNT_OBSERVATION_MODELS
from .registry import get_observation_model as get_observation_model
