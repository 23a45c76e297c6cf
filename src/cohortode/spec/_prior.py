"""Prior distributions of model parameters, as small serialisable records."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["Prior"]

Family = Literal["lognormal", "normal", "halfnormal", "uniform"]
_PARAMS: dict[str, tuple[str, ...]] = {
    "lognormal": ("median", "sd_log"),
    "normal": ("loc", "scale"),
    "halfnormal": ("scale",),
    "uniform": ("low", "high"),
}


@dataclass(frozen=True)
class Prior:
    """A prior distribution.

    Parameters
    ----------
    family
        ``"lognormal"`` (``median``, ``sd_log``), ``"normal"`` (``loc``, ``scale``), ``"halfnormal"`` (``scale``) or
        ``"uniform"`` (``low``, ``high``).
    params
        The family's parameters, in the order listed above.

    Examples
    --------
    >>> Prior.lognormal(1.0, 1.5)
    Prior.lognormal(median=1, sd_log=1.5)
    """

    family: Family
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.family not in _PARAMS:
            raise ValueError(f"unknown prior family {self.family!r}; use one of {', '.join(_PARAMS)}")
        names = _PARAMS[self.family]
        if len(self.params) != len(names):
            raise ValueError(f"a {self.family} prior takes {len(names)} parameters ({', '.join(names)}), "
                             f"got {len(self.params)}")
        values = tuple(float(v) for v in self.params)
        object.__setattr__(self, "params", values)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"prior parameters must be finite, got {values}")
        if self.family == "lognormal" and (values[0] <= 0 or values[1] <= 0):
            raise ValueError("a lognormal prior needs median > 0 and sd_log > 0")
        if self.family in ("normal",) and values[1] <= 0:
            raise ValueError("a normal prior needs scale > 0")
        if self.family == "halfnormal" and values[0] <= 0:
            raise ValueError("a halfnormal prior needs scale > 0")
        if self.family == "uniform" and not values[0] < values[1]:
            raise ValueError("a uniform prior needs low < high")

    @classmethod
    def lognormal(cls, median: float, sd_log: float) -> Prior:
        """Log-normal with the given median and standard deviation of the logarithm."""
        return cls("lognormal", (median, sd_log))

    @classmethod
    def normal(cls, loc: float, scale: float) -> Prior:
        """Normal with mean ``loc`` and standard deviation ``scale``."""
        return cls("normal", (loc, scale))

    @classmethod
    def halfnormal(cls, scale: float) -> Prior:
        """Half-normal on [0, inf) with scale ``scale``."""
        return cls("halfnormal", (scale,))

    @classmethod
    def uniform(cls, low: float, high: float) -> Prior:
        """Uniform on [low, high]."""
        return cls("uniform", (low, high))

    @property
    def positive(self) -> bool:
        """Whether the support is within (0, inf)."""
        return self.family in ("lognormal", "halfnormal") or (self.family == "uniform" and self.params[0] >= 0)

    def typical(self) -> float:
        """A central value (median) of the prior, used as a starting point."""
        if self.family == "lognormal":
            return self.params[0]
        if self.family == "normal":
            return self.params[0]
        if self.family == "halfnormal":
            return 0.6745 * self.params[0]
        return 0.5 * (self.params[0] + self.params[1])

    def to_numpyro(self):
        """The numpyro distribution."""
        import numpyro.distributions as dist

        if self.family == "lognormal":
            return dist.LogNormal(math.log(self.params[0]), self.params[1])
        if self.family == "normal":
            return dist.Normal(*self.params)
        if self.family == "halfnormal":
            return dist.HalfNormal(self.params[0])
        return dist.Uniform(*self.params)

    def to_dict(self) -> dict[str, object]:
        """A plain dictionary (for TOML and JSON)."""
        return {"family": self.family, **dict(zip(_PARAMS[self.family], self.params))}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Prior:
        """Inverse of :meth:`to_dict`."""
        family = d.get("family")
        if family not in _PARAMS:
            raise ValueError(f"prior needs 'family' one of {', '.join(_PARAMS)}, got {family!r}")
        names = _PARAMS[family]  # type: ignore[index]
        missing = [n for n in names if n not in d]
        extra = [k for k in d if k != "family" and k not in names]
        if missing or extra:
            raise ValueError(f"a {family} prior takes {', '.join(names)}; missing {missing}, unexpected {extra}")
        return cls(family, tuple(float(d[n]) for n in names))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={v:g}" for n, v in zip(_PARAMS[self.family], self.params))
        return f"Prior.{self.family}({args})"
