"""Weakly informative default priors, scaled to the data.

Each parameter gets a log-normal prior whose median follows from its role in the structure and from three scales of
the data, and whose spread (``sd_log = 2``, a factor of about 50 either way for 95% of the mass) leaves the data in
charge:

- ``T``: the observed time span (last minus first observation time);
- ``A``: the state scale: the mean dose amount, else the largest numeric initial value, else the largest observed mean;
- ``Y``: the observable scale: the largest absolute observed mean of the observable.

Roles, checked in this order:

1. in an exponent: median 1.5, ``sd_log`` 0.6 (a Hill coefficient, a shape exponent); but the exponent of a bare
   state outside any denominator (a power law ``r*x**alpha``: allometric, sub-exponential growth) gets median 0.75,
   ``sd_log`` 0.3, since an exponent above 1 there makes the solution blow up in finite time;
2. divides an observable (a volume, ``conc = amount / V``): median ``A / Y``;
3. added to a state (a half-saturation constant ``Km + x``, a level ``K - x`` that a state approaches): median ``A``;
4. in a ratio with a state, wherever the ratio stands (a capacity: ``x/K``, ``log(K/x)``, ``(x/K)**nu``): median
   ``A``; multiplying a state beside a number (a saturation written ``1 + a*x``): median ``1 / A``;
5. multiplies a right-hand-side term ``p * g``: the median makes the term's size, with states at ``A``, covariates at
   their largest value, volumes, levels and capacities (roles 2 to 4, outside a denominator) at their medians and
   other parameters at 1, equal to ``10 A / T`` (a state turning over about ten times across the observed span):
   ``10 / T`` for ``k*x`` and ``r*(K - x)``, ``10 V / T`` for a clearance ``CL*x/V``, ``10 A / T`` for a zero-order
   input or a saturated ``Vmax*x/(Km+x)``, ``10 N / (T A)`` for mass action ``b*S*I/N`` with a known ``N`` (``10 / T``
   when ``N`` is estimated). A rate that multiplies a bare state anywhere (``k*x``, or a relaxation
   ``ke0*(E0 + effect - x)`` towards a target) is a rate constant, ``10 / T``, whatever its other terms. A term that
   vanishes there (``r*x*log(K/x)`` at ``x = K``) is sized with the states at
   ``A / 2``;
6. in an initial value: the mean first observed of that state when an observable reports the state itself (a tumour
   volume, a score), else ``A``; in an observable offset: ``Y``;
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
    first_observed
        Per observable, the absolute mean at its earliest observation time (averaged over the cohorts observed then),
        where it is positive: the scale of an estimated initial value of a state reported as itself.
    """

    time_span: float
    state_scale: float
    observable_scale: dict[str, float]
    covariate_scale: dict[str, float] = field(default_factory=dict)
    first_observed: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data, model: ODEModel | None = None) -> DataScales:
        """Scales of a :class:`cohortode.CohortData` (and the model's numeric initial values)."""
        obs = data.observations
        t0, t1 = float(obs["time"].min()), float(obs["time"].max())
        span = t1 - t0 if t1 > t0 else max(t1, 1.0)
        yscale = {str(k): float(v) for k, v in obs.groupby("observable")["mean"].apply(lambda s: s.abs().max()).items()}
        yscale = {k: (v if v > 0 else 1.0) for k, v in yscale.items()}
        first = {}
        for k, rows in obs.groupby("observable"):
            at_first = rows.loc[rows["time"] == rows["time"].min(), "mean"].abs().to_numpy(dtype=float)
            if at_first.size and np.isfinite(at_first).all() and float(at_first.mean()) > 0:
                first[str(k)] = float(at_first.mean())
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
        return cls(float(span), float(state), yscale, cov_scale, first)


def _in_denominator(sub: sympy.Expr, exprs) -> bool:
    """Whether ``sub`` occurs inside the base of a negative power (a denominator) in any of ``exprs``."""
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Pow) and node.exp.is_number and node.exp < 0 and node.base.has(sub):
                return True
    return False


def _is_level(p: sympy.Symbol, states: list[sympy.Symbol], exprs) -> tuple[bool, bool]:
    """Whether ``p`` is added to a state somewhere (``Km + x``, ``K - x``), and whether only outside denominators."""
    found, outside = False, True
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Pow) and node.exp.is_number and node.exp < 0:
                base = node.base
                if isinstance(base, sympy.Add) and p in base.args and any(s in base.free_symbols for s in states):
                    found, outside = True, False
            elif isinstance(node, sympy.Add) and p in node.args and any(s in node.free_symbols for s in states):
                found = True
    return found, outside


def _is_capacity(p: sympy.Symbol, states: list[sympy.Symbol], exprs) -> bool:
    """Whether ``p`` stands in a ratio with a state anywhere (``x/K``, ``K/x``, inside a log or a power)."""
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if not isinstance(node, sympy.Mul):
                continue
            powers = node.as_powers_dict()
            k = powers.get(p)
            if k is None or not k.is_number:
                continue
            if any(s in powers and powers[s].is_number and powers[s] * k < 0 for s in states):
                return True
        for term in sympy.Add.make_args(sympy.expand(e)):  # x/K after expansion, e.g. r*x*(1 - x/K)
            powers = term.as_powers_dict()
            if p in powers and powers[p].is_number and powers[p] < 0 and any(s in term.free_symbols for s in states):
                return True
    return False


def _scale_role(model: ODEModel, name: str, scales: DataScales) -> tuple[float, float, bool] | None:
    """Roles 1-4 of the module docstring: ``(median, sd_log, usable as a scale in role 5)``, or ``None``."""
    p = symbol(name)
    states = [symbol(s) for s in model.states]
    A = scales.state_scale
    exprs = [*model.rhs.values(), *model.observables.values()]
    # 1. exponents
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Pow) and p in node.exp.free_symbols:
                if node.base in states and not _in_denominator(node, exprs):
                    return 0.75, 0.3, False
                return 1.5, 0.6, False
    # 2. divides an observable
    for o, e in model.observables.items():
        if p in e.free_symbols and p not in sympy.simplify(e * p).free_symbols:
            return A / scales.observable_scale.get(o, 1.0), DEFAULT_SD_LOG, True
    # 3. added to a state: half-saturation constant or level
    level, outside = _is_level(p, states, model.rhs.values())
    if level:
        return A, DEFAULT_SD_LOG, outside
    # 4. capacity: in a ratio with a state
    if _is_capacity(p, states, model.rhs.values()):
        return A, DEFAULT_SD_LOG, True
    # 4b. inverse capacity: 1 + a*x, a saturation written as a product with a state beside a number
    for e in model.rhs.values():
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Add) and any(arg.is_number for arg in node.args):
                for arg in node.args:
                    if arg.free_symbols and arg.free_symbols <= {p, *states} and p in arg.free_symbols:
                        powers = arg.as_powers_dict()
                        if powers.get(p) == 1 and any(powers.get(x) == 1 for x in states):
                            return 1.0 / A, DEFAULT_SD_LOG, False
    return None


def _rate_median(model: ODEModel, name: str, scales: DataScales, others: dict[sympy.Symbol, float]) -> float | None:
    """Role 5: the median that sizes the parameter's smallest right-hand-side term at ``10 A / T``."""
    p = symbol(name)
    states = [symbol(s) for s in model.states]
    T, A = scales.time_span, scales.state_scale
    terms = [term for e in model.rhs.values() for term in sympy.Add.make_args(sympy.expand(e))
             if p in term.free_symbols]
    if any(_is_first_order(term / p, states) for term in terms):
        # a rate constant of a state (k*x, ke0*(E0 + effect - response)): the other terms of a relaxation towards a
        # target (the baseline, the drug effect) say nothing of how fast the state turns over
        return 10.0 / T
    for state_value in (A, A / 2):
        # exact rationals: a term that vanishes at the scale (r*x*log(K/x) at x = K = A) must give exactly 0; with
        # floats log(K/x) came out as 1.7e-13 for A = 1495.041136, and the median of r as 2e15
        at_scale = ({s: sympy.Rational(float(state_value)) for s in states}
                    | {k: sympy.Rational(float(v)) for k, v in others.items()})
        magnitudes = []
        for term in terms:
            try:
                g = abs(complex((term / p).xreplace(at_scale).evalf()))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                continue
            if math.isfinite(g) and g > 0:
                magnitudes.append(g)
        if magnitudes:
            g = min(magnitudes)  # the term where the parameter matters most (e.g. r*x rather than r*x^2/K)
            return 10.0 * A / (T * g)
    return None


def _is_first_order(factor: sympy.Expr, states: list[sympy.Symbol]) -> bool:
    """Whether a term's factor beside the parameter is a bare state times a number (the term ``±k*x``)."""
    coeff, rest = factor.as_coeff_Mul()
    return rest in states and coeff.is_number and coeff != 0


def _initial_median(model: ODEModel, name: str, scales: DataScales) -> float | None:
    """Role 6: an initial value (the state's first observed mean where reported as itself) or observable offset."""
    p = symbol(name)
    for state, e in model.initial.items():
        if p in e.free_symbols:
            reported = [o for o, oe in model.observables.items() if oe == symbol(state)]
            first = [scales.first_observed[o] for o in reported if o in scales.first_observed]
            if e == p and first:
                return first[0]
            return scales.state_scale
    for o, e in model.observables.items():
        if p in e.free_symbols:
            return scales.observable_scale.get(o, 1.0)
    return None


def default_priors(model: ODEModel, scales: DataScales) -> dict[str, Prior]:
    """Data-scaled default priors of every parameter's typical value (see the module docstring for the rules)."""
    roles = {name: _scale_role(model, name, scales) for name in model.parameter_names}
    others = {symbol(q): 1.0 for q in (*model.parameter_names, "t")}
    others.update({symbol(q): role[0] for q, role in roles.items() if role is not None and role[2]})
    others.update({symbol(c): scales.covariate_scale.get(c, 1.0) for c in model.covariates})
    out = {}
    for name in model.parameter_names:
        if roles[name] is not None:
            median, sd = roles[name][:2]
        else:
            sd = DEFAULT_SD_LOG
            rest = {k: v for k, v in others.items() if k != symbol(name)}
            median = _rate_median(model, name, scales, rest)
            if median is None:
                median = _initial_median(model, name, scales)
            if median is None:
                median = 1.0
        if not (math.isfinite(median) and median > 0):
            median = 1.0
        out[name] = Prior.lognormal(float(f"{median:.4g}"), sd)
    return out


def resolve_priors(model: ODEModel, scales: DataScales) -> dict[str, Prior]:
    """The prior of each parameter: the one the model gives, else the data-scaled default."""
    defaults = default_priors(model, scales)
    return {p.name: (p.prior if p.prior is not None else defaults[p.name]) for p in model.parameters}
