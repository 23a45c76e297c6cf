"""Mixture predictions of an ensemble of fits to counts: expected fraction and count, and observed counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..infer._count_predict import CountDraws, count_draws
from ._counterfactual import Counterfactual
from ._mixture import weighted_quantile
from ._regimen import apply_changes

__all__ = ["count_mixture"]


def count_mixture(members: Sequence, cohorts: Sequence[str], inputs: Counterfactual, *, level: float,
                  max_draws: int, seed: int) -> pd.DataFrame:
    """Weighted-quantile bands of the members' per-draw count predictions, one frame row per cohort, observable
    and time (the columns of :meth:`cohortode.infer.CountFit.predict`).

    Each member's draws carry its weight in total; the replicated observed counts come from each member's own
    observation model (so the predictive interval mixes the members' noise as well as their dynamics).
    """
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    rng = np.random.default_rng(seed)
    frames = []
    for name in cohorts:
        by_observable: dict[str, list[tuple[CountDraws, np.ndarray]]] = {}
        ts: tuple[float, ...] = ()
        for m in members:
            fit = m.fit
            layout = inputs.layout(fit, name)
            ts = inputs.prediction_times(layout)
            draws = fit._flat_draws(max_draws, seed)
            changed = apply_changes(draws, inputs.changes, fit.model.parameter_names)
            if inputs.changes_from is None:
                predicted = count_draws(fit, layout, ts, changed, rng)
            else:
                predicted = count_draws(fit, layout, ts, draws, rng, after=changed, change_time=inputs.changes_from)
            for d in predicted:
                w = np.full(d.expected.shape[0], m.weight / d.expected.shape[0])
                by_observable.setdefault(d.observable, []).append((d, w))
        for observable, parts in by_observable.items():
            if len(parts) != len(members):
                raise ValueError(f"observable {observable!r} of cohort {name!r} is observed by "
                                 f"{len(parts)} of {len(members)} members; they must be fitted to the same data")
            w = np.concatenate([p[1] for p in parts])
            frame = {"cohort": name, "observable": observable, "time": ts, "population": parts[0][0].population}
            for key in ("fraction", "expected"):
                x = np.concatenate([getattr(p[0], key) for p in parts])
                frame[key] = weighted_quantile(x, w, 0.5)
                frame[f"{key}_lower"] = weighted_quantile(x, w, lo)
                frame[f"{key}_upper"] = weighted_quantile(x, w, hi)
            observed = np.concatenate([p[0].observed for p in parts])
            frame["observed_lower"] = weighted_quantile(observed, w, lo)
            frame["observed_upper"] = weighted_quantile(observed, w, hi)
            frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)
