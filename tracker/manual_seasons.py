"""Products with the seasons of their ``seasons = "manual"`` boards as last read from
Redis (:mod:`tracker.storage.seasons` has the calendar and why it is safe).

Workers ask with the latest event time of their batch: the calendar is read again
unless it was read less than the lead before that time (and less than ``refresh_s``
ago). Readers (the API, the commands) ask without one and get it at most
``refresh_s`` old; a change takes effect a lead after it is made, so they list a
season before it begins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from tracker.periods import Period
from tracker.products import Product
from tracker.storage.keys import Keys
from tracker.storage.seasons import Season, SeasonCalendar


@dataclass(frozen=True)
class _Read:
    configured: Product  # the product as configured
    read_ms: int  # the data Redis's time when its calendars were read
    read_at: float  # ... and the monotonic clock's
    calendars: dict[str, tuple[Season, ...]]
    product: Product  # configured, with those seasons


class ManualSeasons:
    @classmethod
    def of(cls, client: redis.Redis, keys: Keys) -> ManualSeasons:
        """The calendars kept on the data Redis ``client``, under ``keys``."""
        return cls(SeasonCalendar(client, keys))

    def __init__(self, calendar: SeasonCalendar, refresh_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.calendar = calendar
        self.refresh_s = refresh_s
        self.clock = clock
        self._reads: dict[str, _Read] = {}

    def current(self, product: Product, latest_ms: int | None = None) -> Product:
        """``product`` with its manual seasons; ``latest_ms``: the latest event time about
        to be applied with them (the calendar is then read less than a lead before it)."""
        if not product.manual_boards:
            return product
        last = self._reads.get(product.id)
        if (last is not None and last.configured is product
                and self.clock() - last.read_at < self.refresh_s
                and (latest_ms is None or latest_ms < last.read_ms + self.calendar.lead_ms)):
            return last.product
        read_ms, calendars = self.calendar.read(product.id, product.manual_boards)
        if last is not None and last.configured is product and last.calendars == calendars:
            current = last.product  # unchanged: the same object, so callers' caches hold
        else:
            current = product.with_seasons({
                board: tuple(Period.season_at(s.id, s.start_ms, s.end_ms,
                                              product.periods[board].clock) for s in seasons)
                for board, seasons in calendars.items()})
        self._reads[product.id] = _Read(product, read_ms, self.clock(), calendars, current)
        return current


def current_seasons(client: redis.Redis, keys: Keys, product: Product) -> Product:
    """``product`` with its boards' seasons set at run time as they are now (a command's
    one read)."""
    return ManualSeasons.of(client, keys).current(product)
