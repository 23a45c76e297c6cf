"""Comparing fitted structures: PSIS-LOO with an exact-refit fallback, stacking and pseudo-BMA+ weights (arviz),
and posterior model probabilities from marginal likelihoods (bridge sampling)."""

from ._marginal import MarginalLikelihood as MarginalLikelihood
from ._marginal import bridge_sampling as bridge_sampling
from ._marginal import importance_sampling as importance_sampling
