"""Comparing fitted structures: PSIS-LOO with an exact-refit fallback, K-fold
cross-validation over blocks of time points, stacking and pseudo-BMA+ weights (arviz),
and posterior model probabilities from marginal likelihoods (bridge sampling)."""

from ._marginal import MarginalLikelihood as MarginalLikelihood
from ._marginal import bridge_sampling as bridge_sampling
from ._marginal import importance_sampling as importance_sampling
from ._comparison import TABLE_COLUMNS as TABLE_COLUMNS
from ._comparison import Comparison as Comparison
from ._comparison import compare as compare
from ._kfold import KFold as KFold
from ._kfold import kfold as kfold
from ._kfold import time_blocks as time_blocks
from ._refit import data_without_row as data_without_row
from ._refit import data_without_rows as data_without_rows
from ._refit import heldout_terms as heldout_terms
from ._refit import exact_loo_term as exact_loo_term
from ._parsimony import PARSIMONY_FLOOR as PARSIMONY_FLOOR
from ._parsimony import elpd_difference as elpd_difference
from ._parsimony import parsimony_exclusions as parsimony_exclusions
