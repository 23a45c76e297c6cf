"""Moment engines: population mean and variance of predictions under random effects."""

from .base import MomentEngine as MomentEngine
from .base import Moments as Moments
from .linearisation import Linearisation as Linearisation
from .monte_carlo import MonteCarlo as MonteCarlo
from .sigma_points import SigmaPoints as SigmaPoints


OLD_SIGMA_KAPPA_MIN = 0.5
"""``kappa`` of the sigma-point rule for ``d > 3`` random effects in fits saved before fit format 2."""


def get_engine(spec: "str | MomentEngine") -> MomentEngine:
    """An engine from a name: ``"sigma"``, ``"sigma5"`` (degree-5 rule), ``"mc"`` (or ``"mc:N"`` for N virtual
    patients), ``"fo"``; ``"sigma:kappa_min=K"`` and ``"sigma5:kappa_min=K"`` give the sigma-point rule of saved fits
    before format 2 (``kappa = K`` for ``d > 3``; see :class:`SigmaPoints`)."""
    if isinstance(spec, MomentEngine):
        return spec
    if isinstance(spec, str) and spec.split(":", 1)[0] in ("sigma", "sigma5"):
        degree = 5 if spec.startswith("sigma5") else 3
        if ":" not in spec:
            return SigmaPoints(degree=degree)
        option = spec.split(":", 1)[1]
        key, _, value = option.partition("=")
        if key != "kappa_min":
            raise ValueError(f"unknown moment engine {spec!r}; use 'sigma', 'sigma:kappa_min=K', 'mc', 'mc:N' or 'fo'")
        return SigmaPoints(kappa_min=float(value), degree=degree)
    if spec == "fo":
        return Linearisation()
    if spec == "mc" or (isinstance(spec, str) and spec.startswith("mc:")):
        n = int(spec.split(":", 1)[1]) if ":" in spec else 256
        return MonteCarlo(n)
    raise ValueError(f"unknown moment engine {spec!r}; use 'sigma', 'mc', 'mc:N' or 'fo'")
