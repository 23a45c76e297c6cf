"""A :class:`Problem` from a cohort table, a context line and a domain, for analysts who give only those."""

from __future__ import annotations

from typing import Any

from .._errors import ModelSpecError
from ._infer_epidemic import epidemic_problem, observed_roles
from ._problem import DOMAINS, Problem, StateInfo

__all__ = ["infer_problem"]

_PK_CENTRAL = StateInfo("central", "drug amount in the body (plasma and well-perfused tissue)")
_MEANINGS = {"depot": "drug amount at the absorption site, where an oral dose goes",
             "central": _PK_CENTRAL.meaning}


def _fail(name: str, domain: str | None, why: str) -> ModelSpecError:
    return ModelSpecError(
        f"cannot infer the problem of {name!r} (domain {domain!r}): {why}. Build it yourself, e.g. "
        "Problem.from_cohort(data, states=['depot', 'central'], observables={'conc': 'central/V'}, domain='pk'), "
        "and pass problem=...; give every state (with the dose targets among them) and one expression per observed "
        "quantity")


def infer_problem(data: Any, *, context: str = "", domain: str | None = None, name: str = "") -> Problem:
    """States and observables inferred from the data and the domain.

    * ``"pk"``: the dose targets of the dosing table are states, plus ``central``; one observable (a concentration)
      is ``central/V``.
    * ``"epidemic"``, when every observed quantity names a compartment (``S``, ``E``, ``I``, ``R``, or words such as
      ``infected``, ``infectious``, ``cases``, ``susceptible``, ``recovered``) and the data give the population
      size (a ``population`` column of a :class:`~cohortode.CountData`): an S(E)IR problem over fractions of the
      population, with states ``S``, ``I``, ``R`` (``E`` too when observed; observed names are kept), each
      observed quantity its state, and initial values ``S(0) = 1 - I0``, ``I(0) = I0`` (``I0``, the infectious
      fraction at time 0, estimated). The motif library's epidemic blocks need exactly this: states ``S`` and
      ``I`` (and ``R`` for SIR-type structures), and non-zero initial values (they estimate none; the population
      ``N`` of frequency-dependent transmission is then the sum of the states, 1). Counts of ``I`` alone thus give
      an SIR problem the library composes structures for.
    * ``"growth"``, ``"progression"``, and ``"epidemic"`` with other observed names: each observed quantity is a
      state observed directly (for epidemics a fixed population or initial values must be given with a
      :class:`Problem`).
    * ``"pd"`` or no domain: not inferred (the effect's link to the drug is the analyst's choice).

    Raises
    ------
    ModelSpecError
        Listing what to add when the problem cannot be inferred (for epidemic compartments observed without the
        population size: a ``population`` column, or a :class:`Problem` with the population in its initial values).
    """
    observations = getattr(data, "observations", None)
    if observations is None or len(observations) == 0:
        raise ModelSpecError("cannot infer a problem without observations: pass a CohortData with observed means")
    observed = list(dict.fromkeys(str(x) for x in observations["observable"]))
    label = name or str((getattr(data, "metadata", None) or {}).get("name", "") or "problem")
    if domain is not None and domain not in DOMAINS:
        raise ModelSpecError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    dosing = getattr(data, "dosing", None)
    targets = [] if dosing is None or len(dosing) == 0 else list(dict.fromkeys(str(x) for x in dosing["target"]))
    if domain == "pk":
        if not targets:
            raise _fail(label, domain, "the data have no doses; a PK problem needs a dosing table with targets")
        if len(observed) != 1:
            raise _fail(label, domain, f"the data observe {observed}; only one observed concentration is inferred")
        names = [*targets, *(["central"] if "central" not in targets else [])]
        states = [StateInfo(s, _MEANINGS.get(s, "drug amount where doses go")) for s in names]
        return Problem.from_cohort(data, states=states, observables={observed[0]: "central/V"}, name=name,
                                   context=context, domain=domain)
    roles = observed_roles(observed) if domain == "epidemic" and not targets else None
    if roles:
        return epidemic_problem(data, roles, name=name, label=label, context=context)
    if domain in ("growth", "epidemic", "progression"):
        bad = [o for o in observed if not o.isidentifier()]
        if bad:
            raise _fail(label, domain, f"observed quantities {bad} are not valid state names")
        states = [*observed, *(t for t in targets if t not in observed)]
        return Problem.from_cohort(data, states=states, observables={o: o for o in observed}, name=name,
                                   context=context, domain=domain)
    raise _fail(label, domain, "states and observables are inferred only for domain 'pk', 'growth', 'epidemic' or "
                               "'progression'")
