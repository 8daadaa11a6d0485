"""Leaderboard periods: a points (best, latest) board kept per day, ISO week or month as well as
all-time.

A board configured with ``periods = ["week"]`` gets, beside its all-time
board, one board per period, named ``<board>:<period id>`` (``wins:2026-W48``).
Which period an event counts in comes from the **event time**, the stream
entry ID's milliseconds, never from when it is processed, so a replay puts
every event where it went the first time. Periods are UTC:

======= ============== ======================================
kind    id             span
======= ============== ======================================
day     ``2026-11-29`` midnight to midnight
week    ``2026-W48``   ISO week, Monday to Monday
month   ``2026-11``    the first of the month to the next first
======= ============== ======================================

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

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from tracker.handlers.base import BOARD_OPS, Op

DAY_MS = 86_400_000
MAX_KEEP = 1000
MAX_BUCKET = 1000  # players per bucket
MAX_RESULTS = 1000  # players in a closed period's published standings


class PeriodKind(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_ID = {
    PeriodKind.DAY: re.compile(r"^(\d{4})-(\d{2})-(\d{2})\Z"),
    PeriodKind.WEEK: re.compile(r"^(\d{4})-W(\d{2})\Z"),
    PeriodKind.MONTH: re.compile(r"^(\d{4})-(\d{2})\Z"),
}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One period: ``[start, end)`` in UTC, identified by ``id``."""

    start: date  # its first day
    kind: PeriodKind

    @classmethod
    def containing(cls, kind: PeriodKind, ms: int) -> Period:
        """The period of ``kind`` that holds the instant ``ms`` (Unix milliseconds)."""
        day = date(1970, 1, 1) + timedelta(days=ms // DAY_MS)
        if kind is PeriodKind.WEEK:
            day -= timedelta(days=day.weekday())  # back to Monday
        elif kind is PeriodKind.MONTH:
            day = day.replace(day=1)
        return cls(day, kind)

    @classmethod
    def parse(cls, text: str) -> Period:
        """The period an id names; ValueError says what is wrong."""
        for kind, pattern in _ID.items():
            m = pattern.match(text)
            if m is None:
                continue
            nums = [int(g) for g in m.groups()]
            try:
                if kind is PeriodKind.WEEK:
                    return cls(date.fromisocalendar(nums[0], nums[1], 1), kind)
                return cls(date(nums[0], nums[1], nums[2] if kind is PeriodKind.DAY else 1),
                           kind)
            except ValueError:
                raise ValueError(f"{text!r} is not a real {kind.value}") from None
        raise ValueError(f"{text!r} is not a period id: a day (2026-11-29), an ISO week "
                         "(2026-W48) or a month (2026-11)")

    @property
    def id(self) -> str:
        if self.kind is PeriodKind.DAY:
            return self.start.isoformat()
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    def shift(self, n: int) -> Period:
        """The period ``n`` periods later (earlier when negative)."""
        if self.kind is PeriodKind.DAY:
            return Period(self.start + timedelta(days=n), self.kind)
        if self.kind is PeriodKind.WEEK:
            return Period(self.start + timedelta(weeks=n), self.kind)
        months = self.start.year * 12 + self.start.month - 1 + n
        return Period(date(months // 12, months % 12 + 1, 1), self.kind)

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.shift(1).start

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def end_ms(self) -> int:
        return _ms(self.end)


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


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

    def __post_init__(self) -> None:
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise ValueError("periods lists one or more distinct kinds")
        if not 1 <= self.keep <= MAX_KEEP:
            raise ValueError(f"keep_periods is 1-{MAX_KEEP}")
        if self.grace_ms < 0:
            raise ValueError("grace_seconds is not negative")
        if self.bucket_size and not 2 <= self.bucket_size <= MAX_BUCKET:
            raise ValueError(f"bucket_size is 2-{MAX_BUCKET} players")
        if not 0 <= self.results_top <= MAX_RESULTS:
            raise ValueError(f"results_top is 0-{MAX_RESULTS} players")

    def expires_ms(self, period: Period) -> int:
        """When the period's board is dropped: ``keep`` periods after its own end."""
        return period.shift(self.keep).end_ms

    def readable(self, kind: PeriodKind, now_ms: int) -> list[Period]:
        """The periods of ``kind`` whose boards can still be read, newest first."""
        current = Period.containing(kind, now_ms)
        return [current.shift(-n) for n in range(self.keep + 1)]

    def is_final(self, period: Period, now_ms: int) -> bool:
        """True once the period takes no more events."""
        return now_ms >= period.end_ms + self.grace_ms


@dataclass
class PeriodOps:
    """What :meth:`PeriodBoards.expand` made of a batch's ops."""

    expires: dict[str, int]  # period board -> Unix ms when Redis drops it
    late: int = 0  # events too late for a period they belong to (all-time only)
    # period board split into buckets -> (players per bucket, the members written there
    # in event order: the batch script assigns their buckets in this order)
    buckets: dict[str, tuple[int, dict[str, None]]] = field(default_factory=dict)


class PeriodBoards:
    """Copies a product's points, best and latest ops onto the period boards of their event time
    (a best on a period board is the best of that period)."""

    def __init__(self, policies: Mapping[str, PeriodPolicy]):  # board name -> policy
        self.policies = dict(policies)
        self._periods: dict[tuple[PeriodKind, int], Period] = {}  # (kind, day) -> period

    def _period(self, kind: PeriodKind, ms: int) -> Period:
        key = (kind, ms // DAY_MS)
        found = self._periods.get(key)
        if found is None:
            if len(self._periods) > 10_000:
                self._periods.clear()
            found = self._periods[key] = Period.containing(kind, ms)
        return found

    def expand(self, entry_id: str, ops: Iterable[Op], now_ms: int,
               into: PeriodOps) -> tuple[list[Op], bool]:
        """``ops`` plus their copies on the period boards of the entry's time, and whether
        the event is late: a period past its grace gets no copy."""
        ms = int(entry_id.split("-", 1)[0])
        out: list[Op] = []
        late = False
        for op in ops:
            out.append(op)
            if not isinstance(op, BOARD_OPS):
                continue
            policy = self.policies.get(op.board)
            if policy is None:
                continue
            for kind in policy.kinds:
                period = self._period(kind, ms)
                if policy.is_final(period, now_ms):
                    late = True
                    continue
                name = period_board(op.board, period)
                out.append(replace(op, board=name))
                into.expires[name] = policy.expires_ms(period)
                if policy.bucket_size:
                    into.buckets.setdefault(name, (policy.bucket_size, {}))[1][op.member] = None
        into.late += late
        return out, late
