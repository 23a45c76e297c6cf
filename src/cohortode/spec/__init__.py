"""Model specifications: ODE structures in sympy, a whitelist parser, priors, canonical forms."""

from ._canonical import canonical_form as canonical_form
from ._default_priors import DEFAULT_IIV_PRIOR as DEFAULT_IIV_PRIOR
from ._default_priors import DataScales as DataScales
from ._default_priors import default_priors as default_priors
from ._default_priors import resolve_priors as resolve_priors
from ._model import TIME as TIME
from ._model import ODEModel as ODEModel
from ._model import Parameter as Parameter
from ._parser import ALLOWED_FUNCTIONS as ALLOWED_FUNCTIONS
from ._parser import parse_expression as parse_expression
from ._parser import symbol as symbol
from ._prior import Prior as Prior
from ._toml import model_from_toml as model_from_toml
from ._toml import model_to_toml as model_to_toml
