"""The settings a fit was made with, recorded on the :class:`~cohortode.Fit` (and in its saved folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from ..compile import SolverOptions
from ..likelihood import Linearisation, MomentEngine, MonteCarlo, SigmaPoints

__all__ = ["FitSettings", "Method", "engine_spec"]

Method = Literal["map", "laplace", "nuts"]


@dataclass(frozen=True)
class FitSettings:
    """Everything :func:`~cohortode.fit` was asked to do, apart from the model, the data and prior overrides.

    Attributes
    ----------
    method
        ``"map"``, ``"laplace"`` or ``"nuts"``.
    engine
        Moment engine as a name (``"sigma"``, ``"sigma5"``, ``"fo"``, ``"mc:N"``), or ``""`` for an engine object
        that has no name (such a fit pickles but cannot be saved).
    error
        Residual error kind.
    solver
        The ODE path asked for (``"auto"`` by default; :attr:`Fit.solver` is the one used).
    solver_options
        Numerical settings of the ODE solver, or ``None`` for the defaults.
    num_warmup, num_samples, num_chains, target_accept_prob, dense_mass
        NUTS settings (``num_samples`` is the first run's; extensions add to it).
    laplace_draws_n
        Draws of the Laplace approximation.
    n_starts
        MAP starts.
    seed
        Seed of every random choice.
    until_converged
        Extend NUTS sampling until max R-hat <= 1.01 and bulk and tail ESS >= ``target_ess``, or until
        ``max_samples`` draws per chain.
    target_ess, max_samples
        The extension's targets and budget.
    mass_matrix
        Starting metric of NUTS: ``"laplace"`` (dense, from the Hessian at the MAP, adapted during warm-up) or
        ``"identity"`` (NumPyro's default start); a NUTS fit records which one ``"auto"`` chose. Fits saved before this setting existed read back as
        ``"identity"``, which is how they were sampled.
    screening
        Whether the fast screening path was used (``method`` ``"map"`` or ``"laplace"``; see
        :mod:`cohortode.infer._screening`).
    """

    method: Method = "nuts"
    engine: str = "sigma"
    error: str = "combined"
    solver: str = "auto"
    solver_options: SolverOptions | None = None
    num_warmup: int = 500
    num_samples: int = 500
    num_chains: int = 4
    target_accept_prob: float = 0.9
    dense_mass: bool = False
    laplace_draws_n: int = 1000
    n_starts: int = 8
    seed: int = 0
    until_converged: bool = False
    target_ess: float = 400.0
    max_samples: int = 4000
    screening: bool = False
    mass_matrix: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        out = asdict(self)
        out["solver_options"] = None if self.solver_options is None else asdict(self.solver_options)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FitSettings:
        """Inverse of :meth:`to_dict`; unknown keys are an error (``TypeError``)."""
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TypeError(f"unknown fit settings {unknown}")
        d.setdefault("mass_matrix", "identity")  # saved before the Laplace start existed
        if d.get("solver_options") is not None:
            d["solver_options"] = SolverOptions(**d["solver_options"])
        return cls(**d)


def engine_spec(engine: str | MomentEngine) -> str:
    """The name that :func:`~cohortode.likelihood.moments.get_engine` turns back into ``engine`` (``""`` if none)."""
    if isinstance(engine, str):
        return engine
    if type(engine) is SigmaPoints and engine.kappa is None and engine.kappa_min == 0.5 and engine.rule == "divided":
        return {3: "sigma", 5: "sigma5"}[engine.degree]
    if type(engine) is Linearisation:
        return "fo"
    if type(engine) is MonteCarlo and engine.seed == 0:
        return f"mc:{engine.n}"
    return ""
