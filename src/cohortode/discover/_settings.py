"""How much a discovery may search (:class:`Budget`) and how each structure is screened and fitted
(:class:`FitSettings`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Budget", "FitSettings"]


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class Budget:
    """Limits of a discovery run.

    Parameters
    ----------
    rounds
        Largest number of propose -> screen rounds.
    candidates_per_round
        Largest number of new structures screened per round.
    candidates
        Largest number of structures screened in the whole run.
    wall_time
        Seconds after which no new round starts and no further structure is submitted (``None``: no limit). A run
        stopped by wall time records where it stopped; with it, the same seed may stop at a different point.
    patience
        Stop after this many consecutive rounds that do not raise the best screening score by ``min_improvement``.
    min_improvement
        Smallest rise of the best approximate elpd that counts as an improvement.
    top_k
        Structures refitted with NUTS after screening (the best ``top_k`` by approximate elpd) ...
    elpd_margin
        ... plus every structure whose approximate elpd is within this distance of the best one.
    max_final
        Hard cap on the number of NUTS refits.
    occam
        Occam's window (Madigan and Raftery 1994, J Am Stat Assoc 89:1535) before choosing the NUTS refits. Two
        rules: a structure is left out when its BIC odds against the structure with the lowest BIC are below
        ``1/occam_odds`` (BIC above the lowest by more than ``2 ln(occam_odds)``), and when a structure with fewer
        parameters has a higher approximate elpd. The NUTS time then goes to structures the data support and that
        add something over simpler ones, not to extensions that predict no better (a Michaelis-Menten term or a
        third compartment on a structure that already fits): with a dozen data rows, the PSIS-LOO of a screen's
        Laplace draws can rank such an over-parameterised structure first. ``top_k`` and ``elpd_margin`` then apply
        to the structures that remain. After the NUTS fits, the second rule is applied again with the exact
        elpd_loo and its standard error: a structure enters the ensemble's weights only when it beats every fitted
        structure with fewer parameters by more than the standard error of their elpd difference and by more
        than ``occam_floor`` (the one-standard-error rule with a floor, :func:`cohortode.compare.parsimony_exclusions`); the
        others keep their row in the table, with weight 0 and the reason in ``left_out``. ``False`` refits by
        approximate elpd alone and weighs every fitted structure.
    occam_odds
        The odds ``C`` of the first rule (Madigan and Raftery suggest 20).
    occam_floor
        Smallest elpd difference by which a NUTS-fitted structure must beat every fitted structure with fewer
        parameters to get weight (default 2, :data:`cohortode.compare.PARSIMONY_FLOOR`, where the choice is
        explained; 0: the plain one-standard-error rule).
    """

    rounds: int = 4
    candidates_per_round: int = 8
    candidates: int = 40
    wall_time: float | None = None
    patience: int = 1
    min_improvement: float = 0.5
    top_k: int = 4
    elpd_margin: float = 2.0
    max_final: int = 8
    occam: bool = True
    occam_odds: float = 20.0
    occam_floor: float = 2.0

    def __post_init__(self) -> None:
        _check_int("rounds", self.rounds, 1)
        _check_int("candidates_per_round", self.candidates_per_round, 1)
        _check_int("candidates", self.candidates, 1)
        _check_int("patience", self.patience, 1)
        _check_int("top_k", self.top_k, 1)
        _check_int("max_final", self.max_final, 1)
        if not isinstance(self.occam, bool):
            raise ValueError(f"occam: expected True or False, got {self.occam!r}")
        if isinstance(self.occam_odds, bool) or not (isinstance(self.occam_odds, (int, float))
                                                      and math.isfinite(self.occam_odds) and self.occam_odds > 1):
            raise ValueError(f"occam_odds: expected a finite number > 1, got {self.occam_odds!r}")
        if self.wall_time is not None and not (isinstance(self.wall_time, (int, float)) and self.wall_time > 0):
            raise ValueError(f"wall_time: expected a positive number of seconds or None, got {self.wall_time!r}")
        for name in ("min_improvement", "elpd_margin", "occam_floor"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class FitSettings:
    """How candidates are screened (multi-start MAP and Laplace) and how the survivors are fitted (NUTS).

    Parameters
    ----------
    screen_starts
        MAP starts per screened structure.
    screen_draws
        Laplace draws per screened structure (PSIS-LOO is computed on them).
    num_warmup, num_samples, num_chains
        NUTS settings of the final fits. On an executor with several workers, a structure's fit is split into a
        start task (its MAP and starting metric) and one task per chain, so the chains of a slow structure run on
        every worker; each task runs one chain, so the pool is not oversubscribed. With one worker (the
        :class:`~cohortode.discover.SerialExecutor`) the chains run one after another in one task. The draws are the
        same either way (chain ``i`` has the same key).
    engine, error
        Moment engine and residual error model passed to :func:`cohortode.fit`.
    screen_timeout
        Seconds one structure's screening may take (``None``: no limit); a structure past it is rejected with the
        reason "timeout after X s". The default process pool leaves a hung fit on its worker while the
        other workers carry on, and ends its worker processes only when every worker holds a hung fit or the stage is
        over; another pool passed as ``executor`` keeps the hung worker busy until the fit ends (its result is
        dropped); the in-process :class:`~cohortode.discover.SerialExecutor` cannot enforce it.
    nuts_timeout
        Seconds one structure's final NUTS fit may take (``None``: no limit), enforced as ``screen_timeout`` is; a
        structure past it is left out of the comparison and the ensemble, and the run records "timeout after X s".
        When the chains are tasks of their own, the start may take ``nuts_timeout`` and each chain
        ``nuts_timeout / num_chains`` (the reason then names the chain, and the structure's other chains are not
        started).
        NUTS through an adaptive ODE solver on a weakly identified posterior can need hours on two cores (one
        compartment with Michaelis-Menten elimination on theophylline: still running after 20 minutes at the
        default 4 x (500 + 500) draws), which would hold the whole discovery. The default leaves a three-state ODE
        structure room: one chain of 500 + 500 of an indirect-response PD model took 272 s on one core.
    """

    screen_starts: int = 4
    screen_draws: int = 400
    num_warmup: int = 500
    num_samples: int = 500
    num_chains: int = 4
    engine: str = "sigma"
    error: str = "combined"
    screen_timeout: float | None = 300.0
    nuts_timeout: float | None = 1200.0

    def __post_init__(self) -> None:
        _check_int("screen_starts", self.screen_starts, 1)
        _check_int("screen_draws", self.screen_draws, 10)
        _check_int("num_warmup", self.num_warmup, 1)
        _check_int("num_samples", self.num_samples, 1)
        _check_int("num_chains", self.num_chains, 1)
        for name in ("screen_timeout", "nuts_timeout"):
            t = getattr(self, name)
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))
                                  or not (math.isfinite(t) and t > 0)):
                raise ValueError(f"{name}: expected a positive number of seconds or None, got {t!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)
