"""Seasons set at run time, as PlayFab's manual resets: the calendar of each board with
``seasons = "manual"``, kept in Redis as one JSON list per board (``[[id, start_ms,
end_ms], …]``, in order, without overlaps) and changed by ``tracker season``.

Events count in a season by their own time, as in a configured calendar, so a change
must reach every worker before the first event it concerns. Hence two rules:

- a change (a season's start, or its end) takes effect at least :data:`LEAD_MS` after
  it is made, by the data Redis's clock (``season_set.lua`` checks it atomically);
- a worker applies an event only with a calendar read less than :data:`LEAD_MS` before
  the event's time, by the same clock (:mod:`tracker.manual_seasons`).

A worker that read the calendar at ``r`` and missed a change made at ``R > r`` can only
apply events before ``r + LEAD_MS < R + LEAD_MS``: before anything the change moved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from tracker.storage.keys import Keys
from tracker.text import as_text, utc_text

LEAD_MS = 60_000  # a change to a calendar takes effect this long after it is made, at least
# the longest season: its board expires keep_periods of its lengths after its end, and an
# expiry must stay a number Redis's scripts pass on exactly
MAX_SEASON_MS = 3660 * 86_400_000


@dataclass(frozen=True, slots=True)
class Season:
    """One season of a manual calendar: ``[start_ms, end_ms)`` in Unix ms."""

    id: str
    start_ms: int
    end_ms: int


class CalendarError(ValueError):
    """A change the calendar refuses; the message says why."""


class SeasonCalendar:
    def __init__(self, client: redis.Redis, keys: Keys | None = None, lead_ms: int = LEAD_MS):
        self.client = client
        self.keys = keys or Keys()
        self.lead_ms = lead_ms
        source = resources.files("tracker.storage").joinpath("season_set.lua").read_text()
        self._set = client.register_script(source)
        # the time and the calendars in one step, on the server that keeps them (and
        # whose clock season_set.lua reads)
        self._read = client.register_script(
            "return {redis.call('TIME'), redis.call('MGET', unpack(KEYS))}")

    def read(self, product_id: str, boards: tuple[str, ...]
             ) -> tuple[int, dict[str, tuple[Season, ...]]]:
        """The calendars of ``boards``, with the time of the server that keeps them (Unix
        ms) when they were read: a change made later moves nothing before that time plus
        the lead."""
        reply: Any = self._read(keys=[self.keys.seasons(product_id, b) for b in boards])
        (seconds, micros), values = reply
        return (int(seconds) * 1000 + int(micros) // 1000,
                {board: _parse(value) for board, value in zip(boards, values, strict=True)})

    def start(self, product_id: str, board: str, season_id: str, at_ms: int,
              until_ms: int) -> tuple[Season, ...]:
        """Season ``season_id`` runs from ``at_ms`` to ``until_ms``; a season running (or
        due) then ends at ``at_ms``. :class:`CalendarError` if ``at_ms`` is within the lead,
        the id is taken, or it would not start after the last season's start."""
        if not until_ms > at_ms:
            raise CalendarError(f"season {season_id!r} would end before it starts")
        return self._change(product_id, board, "start", at_ms, season_id, until_ms)

    def end(self, product_id: str, board: str, at_ms: int) -> tuple[Season, ...]:
        """The last season ends at ``at_ms`` instead, earlier or later. :class:`CalendarError`
        if ``at_ms`` is within the lead or not after the season's start, or if the season
        ends within the lead (or ended) and ``at_ms`` is later."""
        return self._change(product_id, board, "end", at_ms)

    def _change(self, product_id: str, board: str, action: str, at_ms: int,
                *more: str | int) -> tuple[Season, ...]:
        reply: Any = self._set(keys=[self.keys.seasons(product_id, board)],
                               args=[action, self.lead_ms, at_ms, MAX_SEASON_MS, *more])
        status, *rest = [as_text(x) for x in reply]
        if status == "ok":
            return _parse(rest[0])
        raise CalendarError(_refusal(rest, self.lead_ms))


def _parse(value: bytes | str | None) -> tuple[Season, ...]:
    if value is None:
        return ()
    return tuple(Season(str(i), int(start), int(end)) for i, start, end in json.loads(value))


def _refusal(why: list[str], lead_ms: int) -> str:
    reason = why[0]
    if reason == "too_soon":
        return (f"a change takes effect at least {lead_ms // 1000} s after it is made, so "
                f"that every worker reads it first: not before {utc_text(int(why[1]))}")
    if reason == "too_long":
        return f"a season lasts at most {MAX_SEASON_MS // 86_400_000:,} days"
    if reason == "exists":
        return f"the board already has a season {why[1]!r}"
    if reason == "not_after":
        return f"it must be after the start of season {why[1]!r} ({utc_text(int(why[2]))})"
    if reason == "ended":
        return (f"season {why[1]!r} ended at {utc_text(int(why[2]))}, too soon to move its end: "
                f"start another")
    return "the board has no season to end"
