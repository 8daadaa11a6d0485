"""Copying a batch's ops onto the period boards of their event time."""

from __future__ import annotations

import time
from datetime import date

import redis
from hypothesis import given
from hypothesis import strategies as st

from tests.support.periods import BERLIN, TOKYO, ms
from tests.support.varcade import game_over, raw
from tracker.clock import HOUR_MS, UTC_CLOCK, Clock
from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat
from tracker.period_ops import PeriodBoards, PeriodOps
from tracker.periods import DAY_MS, Period, PeriodKind, PeriodPolicy
from tracker.processing import BatchProcessor
from tracker.products import parse_products
from tracker.storage import DeadLetters, Store

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


SEASONS = (Period.season("s1", date(2026, 10, 20), date(2026, 10, 26), BERLIN),
           Period.season("s2", date(2026, 10, 27), date(2026, 11, 3), BERLIN))


FROM = ms(2026, 10, 18)
GRACE_MS = 60_000


@given(first=st.integers(0, 18 * 24 - 3), data=st.data(),
       clock=st.sampled_from([UTC_CLOCK, TOKYO, BERLIN]))
def test_the_period_found_from_the_last_ones_span_is_the_period_of_the_event(
        first: int, data: st.DataObject, clock: Clock) -> None:
    """PeriodBoards keeps the last period of each board and kind: events in any order,
    across midnights and the night Berlin's clocks go back (25 October 2026), get the
    period boards, expiries and lateness that working each out anew gives."""
    # A millisecond either side of (or on) one of three hours' starts, where periods of
    # every clock here begin and end (a day, a week), so that one event's period is often
    # the next one's neighbour; or anywhere in those 18 days. Now: a millisecond from the
    # end of the grace of one of those hours, or any time.
    near = st.builds(lambda hour, step: FROM + hour * HOUR_MS + step,
                     st.integers(first, first + 2), st.sampled_from([-1, 0, 1]))
    times = data.draw(st.lists(st.one_of(near, st.integers(FROM, ms(2026, 11, 5))),
                               min_size=1, max_size=60))
    now_ms = data.draw(st.one_of(st.builds(lambda at: at + GRACE_MS, near),
                                 st.integers(FROM, ms(2026, 11, 5))))
    seasonal = PeriodPolicy((PeriodKind.SEASON,), keep=1, seasons=SEASONS, clock=BERLIN)
    policies = {"wins": PeriodPolicy((PeriodKind.HOUR, DAY, WEEK), keep=2, grace_ms=GRACE_MS,
                                     clock=clock), "cup": seasonal}
    boards, into = PeriodBoards(policies), PeriodOps({})
    for i, at in enumerate(times):
        ops = [IncrScore("wins", "a", 1.0), IncrScore("cup", "b", 2.0)]
        out, late = boards.expand(f"{at}-{i}", ops, now_ms, into)
        want: list[IncrScore] = []
        want_late = False
        for op in ops:
            want.append(op)
            policy = policies[op.board]
            for kind in policy.kinds:
                period = policy.period_at(kind, at)
                if period is None:
                    continue
                if policy.is_final(period, now_ms):
                    want_late = True
                    continue
                name = f"{op.board}:{period.id}"
                want.append(IncrScore(name, op.member, op.delta))
                assert into.expires[name] == policy.expires_ms(period)
        assert (out, late) == (want, want_late)


def test_an_entry_whose_time_has_no_period_is_dead_lettered_and_the_rest_applied(
        data: redis.Redis, dead_letters: DeadLetters) -> None:
    """An entry ID may be written explicitly (XADD 253402300800000-0 …): past the year 9999,
    no period holds its time. That entry is dead-lettered, not its whole part."""
    products = parse_products({"products": {
        "pong": {"handlers": [{"use": "wins", "periods": ["day"], "keep_periods": 30}]},
        "chess": {"handlers": ["wins"]}}})  # no periods: any time will do
    processor = BatchProcessor(products, Store(data), dead_letters)
    now = int(time.time() * 1000)
    year_10000, late_9999 = 253_402_300_800_000, ms(9999, 12, 20)  # its board's expiry: 10000
    entries = [(f"{at}-0", raw(game_over("pong", winner, "zed")))
               for at, winner in ((now, "ann"), (year_10000, "bob"), (late_9999, "cid"))]
    report = processor.process("pong", "s", entries)
    assert (report.applied, report.dead_lettered) == (1, {"bad_entry_id": 2})
    assert set(report.rejected) == {f"{year_10000}-0", f"{late_9999}-0"}
    letters = dead_letters.list()
    assert {letter.entry_id for letter in letters} == set(report.rejected)
    assert all("the calendar ends with the year 9999" in letter.detail for letter in letters)
    store = Store(data)
    today = Period.containing(DAY, now).id
    assert dict(store.top("pong", "wins")) == dict(store.top("pong", f"wins:{today}")) == {
        "ann": 1.0, "zed": 0.0}
    chess = processor.process("chess", "s", [(f"{year_10000}-1", raw(game_over("chess", "a",
                                                                              "b")))])
    assert chess.applied == 1
