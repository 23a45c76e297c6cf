"""Moment engines: population mean and variance of predictions under random effects."""

from .base import MomentEngine as MomentEngine
from .base import Moments as Moments
from .linearisation import Linearisation as Linearisation
from .monte_carlo import MonteCarlo as MonteCarlo
from .sigma_points import SigmaPoints as SigmaPoints


def get_engine(spec: "str | MomentEngine") -> MomentEngine:
    """An engine from a name: ``"sigma"``, ``"sigma5"`` (degree-5 rule), ``"mc"`` (or ``"mc:N"`` for N virtual patients), ``"fo"``."""
    if isinstance(spec, MomentEngine):
        return spec
    if spec == "sigma":
        return SigmaPoints()
    if spec == "sigma5":
        return SigmaPoints(degree=5)
    if spec == "fo":
        return Linearisation()
    if spec == "mc" or (isinstance(spec, str) and spec.startswith("mc:")):
        n = int(spec.split(":", 1)[1]) if ":" in spec else 256
        return MonteCarlo(n)
    raise ValueError(f"unknown moment engine {spec!r}; use 'sigma', 'mc', 'mc:N' or 'fo'")
