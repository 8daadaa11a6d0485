"""Time spent by a learner: the sum of the gaps between consecutive events that are
strictly below an idle cutoff (edx2bigquery's definition).

Longer gaps count nothing and start a new session; the first event counts
nothing; nothing is cut at midnight; no tail is credited after a session's last
event. Both the 5 and the 30 minute figures are reported, so results compare
with edx2bigquery's ``total_time_5`` and ``total_time_30``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

CUTOFFS = (300.0, 1800.0)  # seconds: 5 and 30 minutes


@dataclass(frozen=True, slots=True)
class TimeSpent:
    seconds: float
    sessions: int


def day_of(t: float) -> str:
    """The UTC date of a Unix time, as 2026-11-29."""
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def time_by_day(times: Sequence[float], cutoff: float) -> dict[str, float]:
    """The same sum, each gap booked on the UTC day in which it starts (edx2bigquery
    books it on the day of its later event instead)."""
    days: dict[str, float] = {}
    for before, after in pairwise(times):
        if after - before < cutoff:
            day = day_of(before)
            days[day] = days.get(day, 0.0) + (after - before)
    return days


def time_by_unit(times: Sequence[float], units: Sequence[str | None],
                 cutoff: float) -> dict[str, float]:
    """The same sum, each gap credited to the unit active at its first event: the
    last unit an event showed (carried over events that show none)."""
    spent: dict[str, float] = {}
    current: str | None = None
    for i, (before, after) in enumerate(pairwise(times)):
        current = units[i] or current
        if current is not None and after - before < cutoff:
            spent[current] = spent.get(current, 0.0) + (after - before)
    return spent


def time_spent(times: Sequence[float], cutoff: float) -> TimeSpent:
    """``times`` in ascending order (Unix seconds, sub-second precision)."""
    if not times:
        return TimeSpent(0.0, 0)
    total, sessions = 0.0, 1
    for before, after in pairwise(times):
        gap = after - before
        if gap < cutoff:
            total += gap
        else:
            sessions += 1
    return TimeSpent(total, sessions)
