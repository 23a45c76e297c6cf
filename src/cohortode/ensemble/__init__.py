"""Ensembles of fitted structures: mixture predictions, counterfactual regimens and parameter changes, save/load."""

from ._ensemble import Ensemble as Ensemble
from ._ensemble import Member as Member
from ._mixture import weighted_quantile as weighted_quantile
from ._regimen import Absolute as Absolute
from ._regimen import Regimen as Regimen
