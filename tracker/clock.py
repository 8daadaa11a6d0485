"""The clock a board's periods are read on: UTC, a fixed offset, or a time zone.

A fixed offset (``utc_offset = "+09:00"``) keeps its days 24 hours long all year.
A time zone (``time_zone = "Europe/Berlin"``, an IANA name) follows its daylight
saving rules: its days start at local midnight all year, so a day is 23 or 25
hours long when the clocks change, and so is a week or month holding that day.
An hour is the hour its wall clock shows: when the clocks go back, the repeated
hour (02:00-03:00 twice) is one period of two hours; when they go forward, the
skipped hour is a period that holds no instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOUR_MS = 3_600_000
MAX_OFFSET_MS = 14 * HOUR_MS  # as far as time zones go
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True, order=True)
class Clock:
    """``offset_ms`` east of UTC, or the time zone ``zone`` (then ``offset_ms`` is 0)."""

    offset_ms: int = 0
    zone: str = ""
    _tz: ZoneInfo | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.zone:
            if self.offset_ms:
                raise ValueError("a clock is a fixed offset or a time zone, not both")
            try:
                # ZoneInfo caches zones by name: every clock of one zone shares it
                object.__setattr__(self, "_tz", ZoneInfo(self.zone))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"time_zone {self.zone!r} is not an IANA time zone (such as "
                                 '"Europe/Berlin" or "America/New_York")') from None
        elif abs(self.offset_ms) > MAX_OFFSET_MS or self.offset_ms % (15 * 60_000):
            raise ValueError("utc_offset is a whole number of quarter hours from -14:00 to "
                             "+14:00")

    def offset_at(self, ms: int) -> int:
        """Milliseconds east of UTC that this clock shows at the instant ``ms``."""
        if self._tz is None:
            return self.offset_ms
        moment = datetime.fromtimestamp(ms // 1000, self._tz)
        return (moment.utcoffset() or timedelta()) // _MS

    def local_ms(self, ms: int) -> int:
        """The instant ``ms`` as this clock's wall time, in ms since 1970-01-01 00:00."""
        return ms + self.offset_at(ms)

    def instant(self, day: date, hour: int = 0) -> int:
        """Unix ms of ``day`` at ``hour``:00 on this clock. A wall time that the clock
        skips (its clocks went forward) is read with the offset before the change, and one
        it shows twice, at its first showing, so consecutive hours never overlap."""
        if self._tz is None:
            return (datetime(day.year, day.month, day.day, tzinfo=UTC) - _EPOCH) // _MS \
                + hour * HOUR_MS - self.offset_ms
        wall = datetime(day.year, day.month, day.day, hour, tzinfo=self._tz)
        return (wall - _EPOCH) // _MS  # aware subtraction: fold 0, as above

    @property
    def name(self) -> str:
        """``"+09:00"``-style for an offset (``"+00:00"``: UTC), else the zone's name."""
        if self.zone:
            return self.zone
        minutes = abs(self.offset_ms) // 60_000
        return f"{'-' if self.offset_ms < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"


UTC_CLOCK = Clock()
