"""Read and write models as TOML.

Format::

    name = "one-compartment oral"
    states = ["depot", "central"]
    covariates = []

    [rhs]
    depot = "-ka*depot"
    central = "ka*depot - ke*central"

    [observables]
    conc = "central / V"

    [initial]          # optional; states not listed start at 0
    central = "0"

    [parameters.ka]    # optional per parameter
    prior = { family = "lognormal", median = 1.0, sd_log = 1.0 }
    iiv = true         # true, false, a fixed SD, or a prior table
    description = "absorption rate constant (1/h)"

Every expression goes through the whitelist parser.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import sympy
import tomli_w
from sympy.printing.str import StrPrinter

from .._errors import ModelSpecError
from ._model import ODEModel, Parameter
from ._prior import Prior

__all__ = ["model_from_toml", "model_to_toml"]

_TOP_KEYS = {"name", "description", "states", "covariates", "rhs", "observables", "initial", "parameters"}


def model_from_toml(source: str | Path) -> ODEModel:
    """Build an :class:`ODEModel` from a TOML file path or TOML text."""
    where = "TOML text"
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(".toml")):
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelSpecError(f"cannot read model file {where!r}: {exc.strerror}") from None
    else:
        text = str(source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelSpecError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise ModelSpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    for key in ("states", "rhs", "observables"):
        if key not in doc:
            raise ModelSpecError(f"{where}: missing required key {key!r}")
    parameters = None
    if "parameters" in doc:
        parameters = {}
        for name, spec in doc["parameters"].items():
            if not isinstance(spec, dict):
                raise ModelSpecError(f"{where}: [parameters.{name}] must be a table")
            try:
                prior = Prior.from_dict(spec["prior"]) if "prior" in spec else None
                iiv = spec.get("iiv", True)
                if isinstance(iiv, dict):
                    iiv = Prior.from_dict(iiv)
            except ValueError as exc:
                raise ModelSpecError(f"{where}: parameter {name!r}: {exc}") from None
            parameters[name] = Parameter(name, prior=prior, iiv=iiv, description=str(spec.get("description", "")))
    try:
        return ODEModel(
            states=doc["states"], rhs=doc["rhs"], observables=doc["observables"], parameters=parameters,
            initial=doc.get("initial"), covariates=doc.get("covariates", ()), name=doc.get("name", ""),
            description=doc.get("description", ""),
        )
    except ModelSpecError as exc:
        raise ModelSpecError(f"{where}: {exc}") from None


class _ParserTextPrinter(StrPrinter):
    """Prints sympy in the syntax the whitelist parser reads back (``min``, ``max``, ``abs``, ``exp(1)``)."""

    def _print_Min(self, expr):
        return self._minmax("min", expr.args)

    def _print_Max(self, expr):
        return self._minmax("max", expr.args)

    def _minmax(self, name, args):
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{name}({out}, {self._print(a)})"
        return out

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Float(self, expr):
        return repr(float(expr))


def expression_text(expr: sympy.Expr) -> str:
    """Text of ``expr`` that :func:`~cohortode.spec.parse_expression` reads back to the same expression."""
    return _ParserTextPrinter({"order": "none"}).doprint(expr)


def model_to_toml(model: ODEModel) -> str:
    """TOML text of ``model`` (round-trips through :func:`model_from_toml`)."""
    text = expression_text

    doc: dict[str, object] = {"name": model.name, "description": model.description, "states": list(model.states),
                              "covariates": list(model.covariates),
                              "rhs": {s: text(model.rhs[s]) for s in model.states},
                              "observables": {o: text(e) for o, e in model.observables.items()},
                              "initial": {s: text(e) for s, e in model.initial.items() if e != 0}}
    params: dict[str, dict[str, object]] = {}
    for p in model.parameters:
        entry: dict[str, object] = {}
        if p.prior is not None:
            entry["prior"] = p.prior.to_dict()
        entry["iiv"] = p.iiv.to_dict() if isinstance(p.iiv, Prior) else p.iiv
        if p.description:
            entry["description"] = p.description
        params[p.name] = entry
    doc["parameters"] = params
    return tomli_w.dumps(doc)
