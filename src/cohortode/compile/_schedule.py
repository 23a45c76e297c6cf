"""Dosing schedules of one cohort, as static (hashable) records that the compiled solvers unroll."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DoseEvent", "DoseSchedule", "Segment"]


@dataclass(frozen=True)
class DoseEvent:
    """A dose: a bolus (``duration == 0``) or a zero-order infusion over ``duration``."""

    time: float
    state: int
    amount: float
    duration: float = 0.0


@dataclass(frozen=True)
class Segment:
    """An interval between events with constant infusion rates.

    Attributes
    ----------
    start, end
        Interval bounds.
    boluses
        ``(state, amount)`` pairs added at ``start`` before integrating.
    rates
        Infusion rate into each state during the interval.
    save_times
        Observation times in ``[start, end]`` whose values come from this segment.
    """

    start: float
    end: float
    boluses: tuple[tuple[int, float], ...]
    rates: tuple[float, ...]
    save_times: tuple[float, ...]


@dataclass(frozen=True)
class DoseSchedule:
    """The doses of one cohort.

    Doses at time ``t`` are given before an observation at the same time ``t`` is made.
    """

    events: tuple[DoseEvent, ...] = ()

    def segments(self, n_states: int, obs_times: tuple[float, ...], t0: float | None = None,
                 breaks: tuple[float, ...] = ()) -> tuple[Segment, ...]:
        """Split ``[t0, last time]`` at dose starts, infusion ends and ``breaks`` (extra cut times inside it).

        Each observation time is assigned to exactly one segment (the first whose interval holds it).
        """
        times = sorted(obs_times)
        starts = [e.time for e in self.events]
        ends = [e.time + e.duration for e in self.events if e.duration > 0]
        first = min([*times, *starts]) if (times or starts) else 0.0
        t_start = min(first, 0.0) if t0 is None else t0
        t_last = max([*times, *ends, t_start])
        cuts = sorted({t_start, *[s for s in starts if s > t_start], *[e for e in ends if e > t_start], t_last,
                       *[b for b in breaks if t_start < b < t_last]})
        if len(cuts) == 1:
            cuts = [t_start, t_start]
        segments = []
        remaining = list(times)
        for a, b in zip(cuts[:-1], cuts[1:]):
            boluses = tuple((e.state, e.amount) for e in self.events if e.duration == 0 and e.time == a)
            rates = [0.0] * n_states
            for e in self.events:
                if e.duration > 0 and e.time <= a < e.time + e.duration:
                    rates[e.state] += e.amount / e.duration
            save = tuple(t for t in remaining if a <= t <= b and (t < b or b == cuts[-1]))
            remaining = [t for t in remaining if t not in save]
            segments.append(Segment(a, b, boluses, tuple(rates), save))
        if remaining:  # observations exactly at an internal cut are taken after the doses at that cut
            raise RuntimeError(f"internal error: observation times {remaining} fell outside every segment")
        return tuple(segments)
