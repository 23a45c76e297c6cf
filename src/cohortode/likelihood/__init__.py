"""Population likelihood of aggregate cohort statistics, with pluggable moment engines and residual errors."""

from ._aggregate import AggregateLikelihood as AggregateLikelihood
from ._aggregate import CohortLayout as CohortLayout
from ._aggregate import row_loglik as row_loglik
from ._residual import ResidualError as ResidualError
from .moments import Linearisation as Linearisation
from .moments import MomentEngine as MomentEngine
from .moments import Moments as Moments
from .moments import MonteCarlo as MonteCarlo
from .moments import SigmaPoints as SigmaPoints
from .moments import get_engine as get_engine
