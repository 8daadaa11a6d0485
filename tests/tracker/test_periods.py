"""Leaderboard periods: ids and bounds, clocks, and the period boards a batch writes (real
Redis); seasons are in test_seasons.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from tests.support.periods import TOKYO, feed, ms
from tests.support.varcade import game_over
from tracker.clock import Clock
from tracker.handlers import IncrScore
from tracker.periods import (
    CALENDAR_KINDS,
    DAY_MS,
    Period,
    PeriodKind,
    PeriodPolicy,
)
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.ranking import TieMode
from tracker.storage import DeadLetters, Keys, PreparedEvent, Ranks, Store

WEEK, DAY, MONTH, HOUR = PeriodKind.WEEK, PeriodKind.DAY, PeriodKind.MONTH, PeriodKind.HOUR


@pytest.mark.parametrize("instant, kind, expected, start", [
    (ms(2037, 11, 29, 23, 59, 59), WEEK, "2037-W48", date(2037, 11, 23)),  # a Sunday
    (ms(2037, 11, 30), WEEK, "2037-W49", date(2037, 11, 30)),  # Monday 00:00 starts a week
    (ms(2038, 1, 1, 12), WEEK, "2037-W53", date(2037, 12, 28)),  # ISO year != calendar year
    (ms(2024, 12, 30), WEEK, "2025-W01", date(2024, 12, 30)),
    (ms(2037, 11, 29, 23, 59, 59), DAY, "2037-11-29", date(2037, 11, 29)),
    (ms(2037, 12, 31, 23), MONTH, "2037-12", date(2037, 12, 1)),
    (ms(1970, 1, 1), DAY, "1970-01-01", date(1970, 1, 1)),
    (ms(2037, 11, 29, 14, 59, 59), HOUR, "2037-11-29T14", date(2037, 11, 29)),
    (ms(2037, 11, 29, 23, 30), HOUR, "2037-11-29T23", date(2037, 11, 29)),
    (ms(1970, 1, 1), HOUR, "1970-01-01T00", date(1970, 1, 1)),
])
def test_period_of_an_instant(instant: int, kind: PeriodKind, expected: str,
                              start: date) -> None:
    period = Period.containing(kind, instant)
    assert (period.id, period.start) == (expected, start)
    assert period.start_ms <= instant < period.end_ms


HOUR_MS = DAY_MS // 24
# clocks east and west of UTC, half and three-quarter hours included
OFFSETS = [0, TOKYO.offset_ms, -5 * HOUR_MS, 5 * HOUR_MS + HOUR_MS // 2,
           -(9 * HOUR_MS + HOUR_MS // 2), 5 * HOUR_MS + 3 * HOUR_MS // 4, 14 * HOUR_MS,
           -12 * HOUR_MS]
CLOCKS = [Clock(offset) for offset in OFFSETS]


@given(instant=st.integers(0, ms(2200, 1, 1)), kind=st.sampled_from(CALENDAR_KINDS),
       n=st.integers(-300, 300), clock=st.sampled_from(CLOCKS))
def test_ids_bounds_and_shifts_agree(instant: int, kind: PeriodKind, n: int,
                                     clock: Clock) -> None:
    period = Period.containing(kind, instant, clock)
    assert Period.parse(period.id, clock) == period
    assert period.start_ms <= instant < period.end_ms
    assert Period.containing(kind, period.end_ms, clock) == period.shift(1)
    assert Period.containing(kind, period.start_ms - 1, clock) == period.shift(-1)
    assert period.shift(n).shift(-n) == period
    assert (period.shift(n) > period) == (n > 0)
    # on its own clock, a period starts at a midnight (an hour's: at its hour)
    local = datetime.fromtimestamp((period.start_ms + clock.offset_ms) / 1000, UTC)
    assert (local.date(), local.hour, local.minute) == (period.start, period.hour, 0)


@pytest.mark.parametrize("text", ["2025-W53", "2037-W00", "2037-13", "2037-02-30", "2037-W4",
                                  "week", "", "2037-11-29T00:00", " 2037-11", "2037-11-29T24",
                                  "2037-11-29T7", "2037-02-30T01", "2037-11-29T14Z"])
def test_bad_period_ids(text: str) -> None:
    with pytest.raises(ValueError, match=r"period id|not a real"):
        Period.parse(text)


def test_an_hour_and_its_neighbours() -> None:
    last = Period.parse("2037-12-31T23")
    assert last.shift(1).id == "2038-01-01T00" and last.shift(-23).id == "2037-12-31T00"
    assert last.ends_at == datetime(2038, 1, 1, tzinfo=UTC)
    assert (last.starts_at, last.end) == (datetime(2037, 12, 31, 23, tzinfo=UTC),
                                          date(2038, 1, 1))
    assert last.end_ms - last.start_ms == DAY_MS // 24
    day = Period.parse("2037-12-31")  # a day's exact span too
    assert (day.starts_at, day.ends_at) == (datetime(2037, 12, 31, tzinfo=UTC), last.ends_at)
    policy = PeriodPolicy((HOUR,), keep=3, grace_ms=60_000)
    assert [p.id for p in policy.readable(HOUR, ms(2038, 1, 1, 1, 30))] == [
        "2038-01-01T01", "2038-01-01T00", "2037-12-31T23", "2037-12-31T22"]
    assert policy.expires_ms(last) == ms(2038, 1, 1, 3)
    assert not policy.is_final(last, ms(2038, 1, 1, 0, 0, 59))
    assert policy.is_final(last, ms(2038, 1, 1, 0, 1))


def test_periods_on_a_clock_east_of_utc() -> None:
    """utc_offset = "+09:00": a Tokyo game's days begin at midnight in Tokyo."""
    day = Period.containing(DAY, ms(2037, 11, 30, 15, 30), TOKYO)  # 00:30 on 1 December there
    assert (day.id, day.start_ms, day.end_ms) == ("2037-12-01", ms(2037, 11, 30, 15),
                                                  ms(2037, 12, 1, 15))
    assert day.starts_at == datetime(2037, 11, 30, 15, tzinfo=UTC)
    assert Period.containing(DAY, ms(2037, 11, 30, 14, 59, 59), TOKYO).id == "2037-11-30"
    assert Period.containing(WEEK, ms(2037, 11, 29, 15), TOKYO).id == "2037-W49"  # Monday
    assert Period.containing(MONTH, ms(2037, 11, 30, 15), TOKYO).id == "2037-12"
    india = 5 * HOUR_MS + HOUR_MS // 2
    hour = Period.containing(HOUR, ms(2037, 11, 30, 15, 45), Clock(india))
    assert (hour.id, hour.start_ms) == ("2037-11-30T21", ms(2037, 11, 30, 15, 30))
    policy = PeriodPolicy((DAY,), keep=1, clock=TOKYO)
    assert policy.parse("2037-12-01") == day and policy.period_at(DAY, day.start_ms) == day
    assert [p.id for p in policy.readable(DAY, ms(2037, 11, 30, 15, 30))] == [
        "2037-12-01", "2037-11-30"]
    assert policy.expires_ms(day) == ms(2037, 12, 2, 15)
    # a season of whole days begins and ends at midnights of the board's clock
    week = Period.season("w", date(2037, 12, 1), date(2037, 12, 8), TOKYO)
    assert (week.start_ms, week.end_ms, week.end) == (ms(2037, 11, 30, 15), ms(2037, 12, 7, 15),
                                                      date(2037, 12, 8))
    for bad in (15 * HOUR_MS, -15 * HOUR_MS, 7 * 60_000):
        with pytest.raises(ValueError, match="quarter hours from -14:00 to"):
            Clock(bad)


def test_policy_rules() -> None:
    with pytest.raises(ValueError):
        PeriodPolicy(())
    with pytest.raises(ValueError):
        PeriodPolicy((WEEK, WEEK))
    with pytest.raises(ValueError):
        PeriodPolicy((WEEK,), keep=0)
    policy = PeriodPolicy((WEEK,), keep=2, grace_ms=60_000)
    week = Period.parse("2037-W48")
    assert policy.expires_ms(week) == Period.parse("2037-W50").end_ms
    now = ms(2037, 11, 29, 12)
    assert [p.id for p in policy.readable(WEEK, now)] == ["2037-W48", "2037-W47", "2037-W46"]
    assert not policy.is_final(week, week.end_ms + 59_999)
    assert policy.is_final(week, week.end_ms + 60_000)


def test_configuration() -> None:
    products = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["week", "month"], "keep_periods": 4, "grace_seconds": 30},
        {"use": "elo"}]}}})
    wins, elo = products["pong"].boards
    assert wins.periods == PeriodPolicy((WEEK, MONTH), 4, 30_000) and elo.periods is None
    assert wins.ties is TieMode.COMPETITION
    for bad in [{"use": "elo", "periods": ["week"]}, {"use": "wins", "periods": ["year"]},
                {"use": "wins", "periods": "week"}, {"use": "wins", "keep_periods": 3},
                {"use": "wins", "periods": ["day"], "keep_periods": 0},
                {"use": "wins", "periods": ["day"], "grace_seconds": -1},
                {"use": "wins", "periods": ["day"], "keep_periods": "3"}]:
        with pytest.raises(ConfigError):
            parse_products({"products": {"pong": {"handlers": [bad]}}})


PERIODIC = parse_products({"products": {"pong": {"handlers": [
    {"use": "wins", "periods": ["day", "week"], "keep_periods": 2, "grace_seconds": 600},
    "player_stats"]}}})


def test_a_batch_writes_the_period_boards_of_its_events(data: redis.Redis,
                                                        dead_letters: DeadLetters) -> None:
    now = ms(2037, 11, 30, 0, 5)  # five minutes into Monday: Sunday's grace still runs
    processor = BatchProcessor(PERIODIC, Store(data), dead_letters, clock=lambda: now / 1000)
    sunday, saturday, last_week = ms(2037, 11, 29, 22), ms(2037, 11, 28, 9), ms(2037, 11, 20)
    games = [(sunday, "ann", "bob"), (sunday, "ann", "cid"), (saturday, "bob", "ann"),
             (now, "cid", "ann"), (last_week, "dee", "ann")]
    feed(processor, games)
    feed(processor, games)  # a replay: every event once, period boards included
    ranks = Ranks(data)

    def board(name: str) -> dict[str, float]:
        page = ranks.page("pong", name, 0, 100)
        return dict(page.rows)

    assert board("wins") == {"ann": 2, "bob": 1, "cid": 1, "dee": 1}
    assert board("wins:2037-11-29") == {"ann": 2, "bob": 0, "cid": 0}
    assert board("wins:2037-11-28") == {}  # past its grace: late, all-time only
    assert board("wins:2037-W48") == {"ann": 2, "bob": 1, "cid": 0}
    assert board("wins:2037-W49") == {"cid": 1, "ann": 0}
    assert board("wins:2037-W47") == {}  # late too
    standing = ranks.standing("pong", "wins:2037-W48", "bob")
    assert standing is not None and standing.rank(TieMode.COMPETITION) == 2  # tie structures
    keys = Keys()
    week_end = Period.parse("2037-W50").end_ms  # kept for two more weeks
    for suffix in ("", ":scores", ":counts"):
        assert data.pexpiretime(keys.board("pong", "wins:2037-W48") + suffix) == week_end
    assert data.ttl(keys.board("pong", "wins")) == -1  # all-time boards never expire


@pytest.mark.parametrize("summed", [True, False])
def test_late_events_are_counted_once_in_both_batch_forms(data: redis.Redis,
                                                          summed: bool) -> None:
    store = Store(data)
    events = [PreparedEvent(f"1700000000000-{i}", "", [IncrScore("wins", "a", 1.0)],
                            late=i % 2 == 0) for i in range(5)]
    store.apply("pong", "s", events, summed=summed)
    store.apply("pong", "s", events, summed=summed)
    assert store.counters(["pong"])["pong"]["late"] == 3


def test_a_batch_writes_hourly_boards(data: redis.Redis, dead_letters: DeadLetters) -> None:
    hourly = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["hour", "day"], "keep_periods": 24, "grace_seconds": 60}]}}})
    now = ms(2037, 11, 30, 0, 0, 30)  # half a minute past midnight: 23:00's grace still runs
    processor = BatchProcessor(hourly, Store(data), dead_letters, clock=lambda: now / 1000)
    games = [(ms(2037, 11, 29, 23, 59), "ann", "bob"), (ms(2037, 11, 29, 23, 1), "bob", "ann"),
             (now, "ann", "cid"), (ms(2037, 11, 29, 22, 59, 59), "cid", "bob")]
    feed(processor, games)
    feed(processor, games)  # a replay changes nothing
    store = Store(data)
    assert dict(store.top("pong", "wins:2037-11-29T23")) == {"ann": 1, "bob": 1}
    assert dict(store.top("pong", "wins:2037-11-30T00")) == {"ann": 1, "cid": 0}
    assert store.top("pong", "wins:2037-11-29T22") == []  # past its grace: all-time only
    assert dict(store.top("pong", "wins:2037-11-29")) == {"ann": 1, "bob": 1, "cid": 1}
    assert dict(store.top("pong", "wins")) == {"ann": 2, "bob": 1, "cid": 1}
    # an hour's board is kept until keep_periods hours after its own end
    assert data.pexpiretime(Keys().board("pong", "wins:2037-11-29T23")) == ms(2037, 12, 1)


def test_a_batch_writes_the_days_of_the_boards_clock(data: redis.Redis,
                                                      dead_letters: DeadLetters) -> None:
    tokyo = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["day"], "keep_periods": 2, "grace_seconds": 60,
         "utc_offset": "+09:00"}]}}})
    now = ms(2037, 11, 30, 15, 0, 30)  # half a minute into 1 December in Tokyo
    processor = BatchProcessor(tokyo, Store(data), dead_letters, clock=lambda: now / 1000)
    feed(processor, [(ms(2037, 11, 30, 14, 59, 59), "ann", "bob"),  # 23:59:59 on the 30th
                     (ms(2037, 11, 30, 15), "bob", "ann"), (now, "bob", "cid")])
    store = Store(data)
    assert dict(store.top("pong", "wins:2037-11-30")) == {"ann": 1, "bob": 0}
    assert dict(store.top("pong", "wins:2037-12-01")) == {"bob": 2, "ann": 0, "cid": 0}
    # kept until two of its days after its own end, at midnight in Tokyo
    assert data.pexpiretime(Keys().board("pong", "wins:2037-12-01")) == ms(2037, 12, 3, 15)


def test_late_events_are_reported(data: redis.Redis, dead_letters: DeadLetters) -> None:
    now = ms(2037, 11, 25, 12)  # Wednesday noon: Tuesday is final, the week is not
    processor = BatchProcessor(PERIODIC, Store(data), dead_letters, clock=lambda: now / 1000)
    batch = [(f"{ms(2037, 11, 24, 9)}-0",
              {k.encode(): v.encode() for k, v in game_over("pong", "a", "b").items()})]
    report = processor.process("pong", "s", batch)
    assert report.applied == 1 and report.late == 1
    assert report.as_dict()["late"] == 1
    processor.process("pong", "s", batch)  # delivered again: not counted again
    assert Store(data).counters(["pong"])["pong"] == {"applied": 1, "duplicates": 1, "late": 1}
    assert Store(data).top("pong", "wins:2037-W48") == [("a", 1.0), ("b", 0.0)]
    assert Store(data).top("pong", "wins:2037-11-24") == []
