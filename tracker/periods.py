"""Leaderboard periods: a points (best, latest) board kept per hour, day, ISO week or month as
well as all-time.

A board configured with ``periods = ["week"]`` gets, beside its all-time
board, one board per period, named ``<board>:<period id>`` (``wins:2026-W48``).
Which period an event counts in comes from the **event time**, the stream
entry ID's milliseconds, never from when it is processed, so a replay puts
every event where it went the first time. Periods are UTC, unless the board's
``utc_offset`` or ``time_zone`` gives them another clock (days from midnight in
Tokyo, or in Berlin with its daylight saving: :mod:`tracker.clock`):

======= ================= ======================================
kind    id                span
======= ================= ======================================
hour    ``2026-11-29T14`` the hour from 14:00 to 15:00
day     ``2026-11-29``    midnight to midnight
week    ``2026-W48``      ISO week, Monday to Monday
month   ``2026-11``       the first of the month to the next first
season  ``s3``            the dates (or instants) its calendar gives
======= ================= ======================================

Seasons are listed with their board (``seasons = [{ id = "s3", start = 2026-09-01,
end = 2026-12-01 }, …]``): windows of any length, in order, without overlaps; an
event between two seasons counts all-time only. Their neighbours come from that
calendar, so whatever needs one asks the board's :class:`PeriodPolicy`.

A period stays open for writes until ``grace`` after its end (an event that
comes later counts on the all-time board only: it is *late*), and its board
stays readable, ranks included, for ``keep`` more periods of its kind, then
Redis expires it.

With ``bucket_size = n``, each period board is also split into *buckets*
(cohorts, as in Unity's leaderboards): a player's first write of the period
puts it in the bucket being filled, for the whole period, and each bucket of n
players is a board of its own, ``<board>:<period id>:b<k>`` (``wins:2026-W48:b0``),
so a player can be ranked among n peers rather than everyone. The batch script
assigns and writes buckets in the same atomic step as the period board.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from tracker.clock import HOUR_MS, UTC_CLOCK, Clock

DAY_MS = 24 * HOUR_MS
MAX_KEEP = 1000
MAX_BUCKET = 1000  # players per bucket
MAX_RESULTS = 1000  # players in a closed period's published standings
# the latest expiry (Unix ms) a board may get: the batch script hands it to PEXPIREAT as a
# Lua number, which Redis passes on exactly only below about 10^17
MAX_EXPIRY_MS = 10**16


class PeriodKind(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    SEASON = "season"


# kinds without a calendar
CALENDAR_KINDS = (PeriodKind.HOUR, PeriodKind.DAY, PeriodKind.WEEK, PeriodKind.MONTH)
SEASON_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}\Z")  # never a calendar period's id


_ID = {
    PeriodKind.HOUR: re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})\Z"),
    PeriodKind.DAY: re.compile(r"^(\d{4})-(\d{2})-(\d{2})\Z"),
    PeriodKind.WEEK: re.compile(r"^(\d{4})-W(\d{2})\Z"),
    PeriodKind.MONTH: re.compile(r"^(\d{4})-(\d{2})\Z"),
}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One period: ``[start, end)`` of its clock's days (and hours), identified by ``id``."""

    start: date  # its first day
    kind: PeriodKind
    label: str = ""  # a season's id
    until: date | None = None  # a season's end: the first day that starts at or after it
    hour: int = 0  # an hour's hour of its day, 0-23 (on its clock)
    span: tuple[int, int] | None = None  # a season's [start, end) in Unix ms
    clock: Clock = UTC_CLOCK  # the clock its days (and hours) are of

    @classmethod
    def season(cls, label: str, start: date, end: date, clock: Clock = UTC_CLOCK) -> Period:
        """A season from ``start`` to ``end`` (excluded), each a day (from its midnight,
        on ``clock``) or an instant (a date-time with its UTC
        offset, for a tournament from Friday 18:00); ValueError for a bad id, a date-time
        without an offset, or an empty window."""
        if not SEASON_ID.match(label):
            raise ValueError(f"a season id is a letter then up to 31 of [A-Za-z0-9_-], got "
                             f"{label!r}")
        first, last = _instant(start, label, clock), _instant(end, label, clock)
        if not first < last:
            raise ValueError(f"season {label!r} ends ({end}) before it starts ({start})")
        return cls(_day(clock.local_ms(first)), PeriodKind.SEASON, label,
                   _day(clock.local_ms(last - 1)) + timedelta(days=1), span=(first, last),
                   clock=clock)

    @classmethod
    def season_at(cls, label: str, start_ms: int, end_ms: int,
                  clock: Clock = UTC_CLOCK) -> Period:
        """A season from the instant ``start_ms`` to ``end_ms`` (Unix ms, excluded), as a
        board whose seasons are set at run time keeps it (:mod:`tracker.storage.seasons`)."""
        return cls.season(label, _moment_of(start_ms), _moment_of(end_ms), clock)

    @classmethod
    def containing(cls, kind: PeriodKind, ms: int, clock: Clock = UTC_CLOCK) -> Period:
        """The period of ``kind`` that holds the instant ``ms`` (Unix milliseconds), on
        ``clock``; not for seasons (:meth:`PeriodPolicy.period_at`)."""
        if kind is PeriodKind.SEASON:
            raise ValueError("seasons come from their board's calendar")
        local = clock.local_ms(ms)
        day = _day(local)
        if kind is PeriodKind.HOUR:
            return cls(day, kind, hour=local % DAY_MS // HOUR_MS, clock=clock)
        if kind is PeriodKind.WEEK:
            day -= timedelta(days=day.weekday())  # back to Monday
        elif kind is PeriodKind.MONTH:
            day = day.replace(day=1)
        return cls(day, kind, clock=clock)

    @classmethod
    def parse(cls, text: str, clock: Clock = UTC_CLOCK) -> Period:
        """The period an id names (its days on ``clock``); ValueError says what is
        wrong."""
        for kind, pattern in _ID.items():
            m = pattern.match(text)
            if m is None:
                continue
            nums = [int(g) for g in m.groups()]
            try:
                if kind is PeriodKind.HOUR:
                    moment = datetime(nums[0], nums[1], nums[2], nums[3])  # 24h: ValueError
                    return cls(moment.date(), kind, hour=moment.hour, clock=clock)
                if kind is PeriodKind.WEEK:
                    return cls(date.fromisocalendar(nums[0], nums[1], 1), kind, clock=clock)
                return cls(date(nums[0], nums[1], nums[2] if kind is PeriodKind.DAY else 1),
                           kind, clock=clock)
            except ValueError:
                raise ValueError(f"{text!r} is not a real {kind.value}") from None
        raise ValueError(f"{text!r} is not a period id: an hour (2026-11-29T14), a day "
                         "(2026-11-29), an ISO week (2026-W48), a month (2026-11) or a season "
                         "the board has")

    @property
    def id(self) -> str:
        if self.kind is PeriodKind.SEASON:
            return self.label
        if self.kind is PeriodKind.HOUR:
            return f"{self.start.isoformat()}T{self.hour:02d}"
        if self.kind is PeriodKind.DAY:
            return self.start.isoformat()
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    def shift(self, n: int) -> Period:
        """The period ``n`` periods later (earlier when negative); not for seasons
        (:meth:`PeriodPolicy.shift`)."""
        if self.kind is PeriodKind.SEASON:
            raise ValueError("a season's neighbours come from its board's calendar")
        if self.kind is PeriodKind.HOUR:
            days, hour = divmod(self.hour + n, 24)
            return replace(self, start=self.start + timedelta(days=days), hour=hour)
        if self.kind is PeriodKind.DAY:
            return replace(self, start=self.start + timedelta(days=n))
        if self.kind is PeriodKind.WEEK:
            return replace(self, start=self.start + timedelta(weeks=n))
        months = self.start.year * 12 + self.start.month - 1 + n
        return replace(self, start=date(months // 12, months % 12 + 1, 1))

    @property
    def end(self) -> date:
        """The first day that starts at or after the period's end (an hour's: the next)."""
        if self.until is not None:
            return self.until
        if self.kind is PeriodKind.HOUR:
            return self.start + timedelta(days=1)
        return self.shift(1).start

    @property
    def start_ms(self) -> int:
        """The period's first instant, in Unix milliseconds."""
        if self.span is not None:
            return self.span[0]
        return self.clock.instant(self.start, self.hour)

    @property
    def end_ms(self) -> int:
        """The first instant after the period, in Unix milliseconds."""
        if self.span is not None:
            return self.span[1]
        if self.kind is PeriodKind.HOUR:  # the next hour's start: 2 h when clocks go back
            if self.hour < 23:
                return self.clock.instant(self.start, self.hour + 1)
            return self.clock.instant(self.start + timedelta(days=1))
        return self.clock.instant(self.end)

    @property
    def starts_at(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, UTC)

    @property
    def ends_at(self) -> datetime:
        return datetime.fromtimestamp(self.end_ms / 1000, UTC)


def _day(ms: int) -> date:
    """The day (of the clock ``ms`` is read on) that holds ``ms``."""
    return date(1970, 1, 1) + timedelta(days=ms // DAY_MS)


def _moment_of(ms: int) -> datetime:
    """The instant ``ms`` (Unix milliseconds) as an aware date-time, exactly."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _instant(moment: date, label: str, clock: Clock) -> int:
    """A season's start or end in Unix ms: a day's midnight (on ``clock``), or an aware
    date-time."""
    if not isinstance(moment, datetime):
        return clock.instant(moment)
    if moment.utcoffset() is None:
        raise ValueError(f"season {label!r}: {moment.isoformat()} says no UTC offset (write "
                         f"{moment.isoformat()}Z, or +01:00, ...)")
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def bucket_board(board: str, bucket: int) -> str:
    """The board of one bucket of a period board (``wins:2026-W48`` -> ``wins:2026-W48:b3``)."""
    return f"{board}:b{bucket}"


def period_board(board: str, period: Period) -> str:
    """The name of ``board``'s board for ``period`` (board names hold no ':')."""
    return f"{board}:{period.id}"


@dataclass(frozen=True, slots=True)
class PeriodPolicy:
    """The periods a board is kept for: which kinds, how many past ones stay readable,
    and how long after its end a period still takes events."""

    kinds: tuple[PeriodKind, ...]
    keep: int = 8
    grace_ms: int = 600_000  # PlayFab's ten minutes
    bucket_size: int = 0  # players per bucket of a period board; 0: no buckets
    results_top: int = 10  # standings published when a period closes (tracker.closing)
    seasons: tuple[Period, ...] = ()  # the board's seasons, in order (kind "season")
    clock: Clock = UTC_CLOCK  # the clock its periods follow (utc_offset or time_zone)
    # seasons = "manual": they are set at run time (tracker season), kept in Redis, and
    # ``seasons`` holds them as last read (tracker.manual_seasons)
    manual: bool = False
    _starts: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise ValueError("periods lists one or more distinct kinds")
        if self.manual and PeriodKind.SEASON not in self.kinds:
            raise ValueError('seasons = "manual" goes with "season" in periods')
        if not self.manual and (PeriodKind.SEASON in self.kinds) != bool(self.seasons):
            raise ValueError('"season" in periods goes with a list of seasons (or "manual"), '
                             'and seasons with "season" in periods')
        for before, after in itertools.pairwise(self.seasons):
            if after.start_ms < before.end_ms:
                raise ValueError(f"seasons are in order and do not overlap: {after.id!r} "
                                 f"starts before {before.id!r} ends")
        ids = [season.id for season in self.seasons]
        if len(set(ids)) != len(ids):
            raise ValueError(f"season ids are distinct, got {ids}")
        object.__setattr__(self, "_starts", tuple(season.start_ms for season in self.seasons))
        if not 1 <= self.keep <= MAX_KEEP:
            raise ValueError(f"keep_periods is 1-{MAX_KEEP}")
        if self.seasons and self.expires_ms(self.seasons[-1]) >= MAX_EXPIRY_MS:
            raise ValueError(f"season {self.seasons[-1].id!r} would be kept {self.keep} times "
                             "its length past its end, further than Redis counts: shorten it "
                             "or keep fewer periods")
        if self.grace_ms < 0:
            raise ValueError("grace_seconds is not negative")
        if self.bucket_size and not 2 <= self.bucket_size <= MAX_BUCKET:
            raise ValueError(f"bucket_size is 2-{MAX_BUCKET} players")
        if not 0 <= self.results_top <= MAX_RESULTS:
            raise ValueError(f"results_top is 0-{MAX_RESULTS} players")

    def with_seasons(self, seasons: tuple[Period, ...]) -> PeriodPolicy:
        """The policy with ``seasons`` as its calendar (a manual one's, as last read)."""
        return replace(self, seasons=seasons)

    def expires_ms(self, period: Period) -> int:
        """When the period's board is dropped: ``keep`` periods after its own end (for a
        season past the end of the calendar, ``keep`` times its own length)."""
        later = self.shift(period, self.keep)
        if later is not None:
            return later.end_ms
        return period.end_ms + self.keep * (period.end_ms - period.start_ms)

    def shift(self, period: Period, n: int) -> Period | None:
        """The period ``n`` periods after ``period`` (before it when negative); None past
        either end of the seasons' calendar."""
        if period.kind is not PeriodKind.SEASON:
            return period.shift(n)
        at = bisect.bisect_left(self._starts, period.start_ms)
        if at == len(self.seasons) or self.seasons[at] != period:
            raise ValueError(f"{period.id!r} is not a season of this board")
        at += n
        return self.seasons[at] if 0 <= at < len(self.seasons) else None

    def period_at(self, kind: PeriodKind, ms: int) -> Period | None:
        """The period of ``kind`` holding the instant ``ms``; None between seasons."""
        if kind is not PeriodKind.SEASON:
            return Period.containing(kind, ms, self.clock)
        at = bisect.bisect_right(self._starts, ms) - 1
        return self.seasons[at] if at >= 0 and ms < self.seasons[at].end_ms else None

    def parse(self, text: str) -> Period:
        """The period of this board that ``text`` names: one of its seasons, or an hour, a day,
        week or month (whether the board keeps that kind or not); ValueError if none."""
        for season in self.seasons:
            if season.id == text:
                return season
        return Period.parse(text, self.clock)

    def readable(self, kind: PeriodKind, now_ms: int) -> list[Period]:
        """The periods of ``kind`` whose boards can still be read, newest first: the
        current one and the ``keep`` before it (seasons: the latest begun and the ``keep``
        before it)."""
        if kind is PeriodKind.SEASON:
            begun = bisect.bisect_right(self._starts, now_ms)
            return list(self.seasons[max(0, begun - self.keep - 1):begun][::-1])
        current = Period.containing(kind, now_ms, self.clock)
        return [current.shift(-n) for n in range(self.keep + 1)]

    def all_readable(self, now_ms: int) -> list[Period]:
        """:meth:`readable` of every kind the board is kept per, kind after kind."""
        return [period for kind in self.kinds for period in self.readable(kind, now_ms)]

    def final_at(self, period: Period) -> int:
        """The first instant (Unix ms) at which the period takes no more events."""
        return period.end_ms + self.grace_ms

    def is_final(self, period: Period, now_ms: int) -> bool:
        """True once the period takes no more events."""
        return now_ms >= self.final_at(period)


class NotKept(ValueError):
    """A period of a kind its board is not kept per."""

    def __init__(self, period: Period, policy: PeriodPolicy | None):
        kinds = [k.value for k in policy.kinds] if policy else []
        super().__init__(f"not kept per {period.kind.value}" + (
            f" (only per {', '.join(kinds)})" if kinds else "; it has no periods"))
        self.period = period


def kept_period(policy: PeriodPolicy | None, text: str) -> Period:
    """The period ``text`` names of a board kept per ``policy`` (None: all-time only):
    ValueError if it names none, :class:`NotKept` if the board is not kept per its kind."""
    period = policy.parse(text) if policy else Period.parse(text)
    if policy is None or period.kind not in policy.kinds:
        raise NotKept(period, policy)
    return period
