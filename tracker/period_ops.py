"""Copying a batch's record ops (points, best, latest, attempts, joins) onto the period
boards of each event's time, as :class:`~tracker.periods.PeriodPolicy` keeps them: the
period's board, its expiry, late events, and the members whose buckets the batch script
assigns (:mod:`tracker.periods` says what the periods are)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from tracker.handlers.base import RECORD_OPS, Attempt, Join, Op
from tracker.periods import Period, PeriodKind, PeriodPolicy, period_board


class NoPeriod(ValueError):
    """An entry whose time no period holds (an entry ID past the year 9999)."""


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
        # (board, kind) -> the last period found, by its [start, end) in Unix ms, with when
        # it is final and when its board expires. A batch's events mostly share their
        # periods, and working these out cost more than the rest of a batch.
        self._last: dict[tuple[str, PeriodKind], tuple[int, int, tuple[Period, int, int]]] = {}

    def _period(self, board: str, policy: PeriodPolicy, kind: PeriodKind,
                ms: int) -> tuple[Period, int, int] | None:
        """The period of ``kind`` holding ``ms`` (None: between seasons), when it is final
        (Unix ms) and when its board expires."""
        last = self._last.get((board, kind))
        if last is not None and last[0] <= ms < last[1]:
            return last[2]
        period = policy.period_at(kind, ms)
        if period is None:
            return None
        found = (period, policy.final_at(period), policy.expires_ms(period))
        self._last[board, kind] = (period.start_ms, period.end_ms, found)
        return found

    def expand(self, entry_id: str, ops: Iterable[Op], now_ms: int,
               into: PeriodOps) -> tuple[list[Op], bool]:
        """``ops`` plus their copies on the period boards of the entry's time, and whether
        the event is late: a period past its grace gets no copy. :class:`NoPeriod` if the
        time has no period (``into`` is then unchanged)."""
        ms = int(entry_id.split("-", 1)[0])
        out: list[Op] = []
        late = False
        # what the copies add to ``into``: (board, expiry, bucket size, member), added
        # once every period is known, so that an entry refused leaves nothing behind
        writes: list[tuple[str, int, int, str]] = []
        for op in ops:
            if not isinstance(op, RECORD_OPS):
                out.append(op)
                continue
            policy = self.policies.get(op.board)
            if policy is None:
                out.append(op)
                continue
            # a board kept per period limits attempts and players per period, and players
            # join each period's: all-time takes every submission, and needs no joins
            if type(op) is Attempt:
                out.append(replace(op, limit=0, capacity=0, joined=0))
            elif type(op) is not Join:
                out.append(op)
            for kind in policy.kinds:
                try:
                    found = self._period(op.board, policy, kind, ms)
                except (OverflowError, ValueError):  # past what datetime counts: year 9999
                    raise NoPeriod(f"its time ({ms} ms since 1970, from the entry ID) has "
                                   f"no {kind.value} of board {op.board!r}: the calendar "
                                   "ends with the year 9999") from None
                if found is None:  # between two seasons: all-time only
                    continue
                period, final_at, expires = found
                if now_ms >= final_at:
                    late = True
                    continue
                name = period_board(op.board, period)
                if type(op) is Attempt and op.rate:  # the all-time op decides the rate
                    out.append(replace(op, board=name, rate=0, window_ms=0, follows=1))
                else:
                    out.append(replace(op, board=name))
                writes.append((name, expires, policy.bucket_size, op.member))
        for name, expires, size, member in writes:
            into.expires[name] = expires
            if size:
                into.buckets.setdefault(name, (size, {}))[1][member] = None
        into.late += late
        return out, late
