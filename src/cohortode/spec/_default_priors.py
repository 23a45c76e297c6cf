"""Weakly informative default priors, scaled to the data.

Each parameter gets a log-normal prior whose median follows from its role in the structure and from three scales of
the data, and whose spread (``sd_log = 2``, a factor of about 50 either way for 95% of the mass) leaves the data in
charge:

- ``T``: the observed time span (last minus first observation time);
- ``A``: the state scale: the mean dose amount, else the largest numeric initial value, else the largest observed mean;
- ``Y``: the observable scale: the largest absolute observed mean of the observable.

Roles, checked in this order:

1. in an exponent (Hill coefficients): median 1.5, ``sd_log`` 0.6;
2. divides an observable (a volume, ``conc = amount / V``): median ``A / Y``;
3. added to a state inside a denominator (a half-saturation constant, ``Km + x``): median ``A``;
4. divides a state in a right-hand side (a capacity, ``x/K``): median ``A``;
5. multiplies a right-hand-side term ``p * g``: the median makes the term's size, with states at ``A``, covariates at
   their largest value and other parameters at 1, equal to ``10 A / T`` (a state turning over about ten times across
   the observed span): ``10 / T`` for ``k*x``, ``10 A / T`` for a zero-order input or a saturated ``Vmax*x/(Km+x)``,
   ``10 N / (T A)`` for mass action ``b*S*I/N``;
6. in an initial value or an observable offset: median ``A`` or ``Y``;
7. otherwise median 1.

IIV standard deviations (log scale) get ``HalfNormal(0.5)``; residual error SDs get ``HalfNormal(0.1 * Y)`` (additive)
and ``HalfNormal(0.3)`` (proportional). Any of these is overridden by giving a prior explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import sympy

from ._parser import symbol
from ._prior import Prior

if TYPE_CHECKING:
    from ._model import ODEModel

__all__ = ["DataScales", "default_priors", "resolve_priors", "DEFAULT_SD_LOG", "DEFAULT_IIV_PRIOR"]

DEFAULT_SD_LOG = 2.0
"""Spread of the default log-normal priors of typical values."""
DEFAULT_IIV_PRIOR = Prior.halfnormal(0.5)
"""Default prior of an inter-individual SD on the log scale."""
DEFAULT_PROPORTIONAL_PRIOR = Prior.halfnormal(0.3)
"""Default prior of the proportional residual SD."""


@dataclass(frozen=True)
class DataScales:
    """The scales of a data set that default priors use.

    Attributes
    ----------
    time_span
        ``T``, last minus first observation time (> 0).
    state_scale
        ``A``, typical magnitude of the states (mean dose, or initial value).
    observable_scale
        ``Y`` per observable name.
    covariate_scale
        Largest absolute value of each covariate (covariates enter role checks at this value).
    """

    time_span: float
    state_scale: float
    observable_scale: dict[str, float]
    covariate_scale: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data, model: ODEModel | None = None) -> DataScales:
        """Scales of a :class:`cohortode.CohortData` (and the model's numeric initial values)."""
        obs = data.observations
        t0, t1 = float(obs["time"].min()), float(obs["time"].max())
        span = t1 - t0 if t1 > t0 else max(t1, 1.0)
        yscale = {str(k): float(v) for k, v in obs.groupby("observable")["mean"].apply(lambda s: s.abs().max()).items()}
        yscale = {k: (v if v > 0 else 1.0) for k, v in yscale.items()}
        amounts = data.dosing["amount"].to_numpy(dtype=float) if len(data.dosing) else np.array([])
        state = float(np.mean(np.abs(amounts))) if amounts.size else 0.0
        cov = getattr(data, "covariates", None)
        cov_scale = {}
        if cov is not None and len(getattr(cov, "columns", ())):
            for c in cov.columns:
                vals = np.abs(np.asarray(cov[c], dtype=float))
                if vals.size and np.isfinite(vals).all():
                    cov_scale[str(c)] = float(vals.max())
        if state <= 0 and model is not None:
            inits = []
            for e in model.initial.values():
                v = e.xreplace({symbol(k): sympy.Float(x) for k, x in cov_scale.items()})
                if v.is_number:
                    inits.append(abs(float(v)))
            state = max(inits, default=0.0)
        if state <= 0:
            state = max(yscale.values(), default=1.0)
        return cls(float(span), float(state), yscale, cov_scale)


def _role_median(model: ODEModel, name: str, scales: DataScales) -> tuple[float, float]:
    p = symbol(name)
    states = [symbol(s) for s in model.states]
    T, A = scales.time_span, scales.state_scale
    exprs = [*model.rhs.values(), *model.observables.values()]
    # 1. exponents
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Pow) and p in node.exp.free_symbols:
                return 1.5, 0.6
    # 2. divides an observable
    for o, e in model.observables.items():
        if p in e.free_symbols and p not in sympy.simplify(e * p).free_symbols:
            return A / scales.observable_scale.get(o, 1.0), DEFAULT_SD_LOG
    # 3. half-saturation constant
    for e in model.rhs.values():
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Add) and p in node.args and any(s in node.free_symbols for s in states):
                return A, DEFAULT_SD_LOG
    # 3b. capacity: a state divided by the parameter (x/K)
    for e in model.rhs.values():
        for term in sympy.Add.make_args(sympy.expand(e)):
            powers = term.as_powers_dict()
            if powers.get(p, 0) is not None and p in powers and powers[p].is_number and powers[p] < 0:
                if any(s in term.free_symbols for s in states):
                    return A, DEFAULT_SD_LOG
    # 4. rate-like parameters in the right-hand sides
    others = {symbol(q): 1.0 for q in (*model.parameter_names, "t") if q != name}
    others.update({symbol(c): scales.covariate_scale.get(c, 1.0) for c in model.covariates})
    magnitudes = []
    at_scale = {s: sympy.Float(A) for s in states} | {k: sympy.Float(v) for k, v in others.items()}
    for e in model.rhs.values():
        for term in sympy.Add.make_args(sympy.expand(e)):
            if p in term.free_symbols:
                try:
                    g = abs(complex((term / p).xreplace(at_scale).evalf()))
                except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                    continue
                if math.isfinite(g) and g > 0:
                    magnitudes.append(g)
    if magnitudes:
        g = min(magnitudes)  # the term where the parameter matters most (e.g. r*x rather than r*x^2/K)
        return 10.0 * A / (T * g), DEFAULT_SD_LOG
    # 6. initial values and observable offsets
    if any(p in e.free_symbols for e in model.initial.values()):
        return A, DEFAULT_SD_LOG
    for o, e in model.observables.items():
        if p in e.free_symbols:
            return scales.observable_scale.get(o, 1.0), DEFAULT_SD_LOG
    return 1.0, DEFAULT_SD_LOG


def default_priors(model: ODEModel, scales: DataScales) -> dict[str, Prior]:
    """Data-scaled default priors of every parameter's typical value (see the module docstring for the rules)."""
    out = {}
    for name in model.parameter_names:
        median, sd = _role_median(model, name, scales)
        if not (math.isfinite(median) and median > 0):
            median = 1.0
        out[name] = Prior.lognormal(float(f"{median:.4g}"), sd)
    return out


def resolve_priors(model: ODEModel, scales: DataScales) -> dict[str, Prior]:
    """The prior of each parameter: the one the model gives, else the data-scaled default."""
    defaults = default_priors(model, scales)
    return {p.name: (p.prior if p.prior is not None else defaults[p.name]) for p in model.parameters}
