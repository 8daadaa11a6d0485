"""Copying a batch's ops onto the period boards of their event time."""

from __future__ import annotations

from tests.support.periods import ms
from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat
from tracker.period_ops import PeriodBoards, PeriodOps
from tracker.periods import DAY_MS, Period, PeriodKind, PeriodPolicy

DAY, WEEK = PeriodKind.DAY, PeriodKind.WEEK


def test_expand_copies_points_ops_of_the_event_time() -> None:
    boards = PeriodBoards({"wins": PeriodPolicy((DAY, WEEK), keep=3, grace_ms=1000)})
    into = PeriodOps({})
    at = ms(2026, 11, 25, 8)  # a Wednesday
    ops = [IncrScore("wins", "a", 1.0), EnsureOnBoard("wins", "b"), IncrStat("a", "games"),
           EloResult("elo", "a", "b", 32.0, 1500.0), IncrScore("other", "a", 1.0)]
    out, late_now = boards.expand(f"{at}-3", ops, now_ms=at + 5, into=into)
    assert out == [ops[0], IncrScore("wins:2026-11-25", "a", 1.0),
                   IncrScore("wins:2026-W48", "a", 1.0),
                   ops[1], EnsureOnBoard("wins:2026-11-25", "b"),
                   EnsureOnBoard("wins:2026-W48", "b"), *ops[2:]]
    assert into.expires == {"wins:2026-11-25": Period.parse("2026-11-28").end_ms,
                            "wins:2026-W48": Period.parse("2026-W51").end_ms}
    assert into.late == 0 and not late_now
    # the next day, past the day's grace but inside the week: only the week gets it
    late, late_now = boards.expand(f"{at}-4", ops[:1], now_ms=at + DAY_MS, into=into)
    assert late == [ops[0], IncrScore("wins:2026-W48", "a", 1.0)]
    assert into.late == 1 and late_now
