"""Population likelihood of aggregate cohort statistics (pluggable moment engines and residual errors) and of counts
of one population (pluggable observation models)."""

from ._aggregate import AggregateLikelihood as AggregateLikelihood
from ._aggregate import CohortLayout as CohortLayout
from ._aggregate import row_loglik as row_loglik
from ._count import CountLikelihood as CountLikelihood
from ._count import ObservableNoise as ObservableNoise
from ._residual import ResidualError as ResidualError
from .moments import Linearisation as Linearisation
from .moments import MomentEngine as MomentEngine
from .moments import Moments as Moments
from .moments import MonteCarlo as MonteCarlo
from .moments import SigmaPoints as SigmaPoints
from .moments import get_engine as get_engine
from .observation import ObservationModel as ObservationModel
from .observation import get_observation_model as get_observation_model
