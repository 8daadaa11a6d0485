"""Seasons: windows of any length from a board's own calendar, of whole days or set at any
instant, configured, read and written through the real batch processor (real Redis)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import redis

from tests.support.periods import TOKYO, feed, ms
from tracker.periods import Period, PeriodKind, PeriodPolicy
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.storage import DeadLetters, Keys, Store

WEEK = PeriodKind.WEEK


S1 = Period.season("s1", date(2037, 9, 1), date(2037, 11, 1))
S2 = Period.season("s2", date(2037, 11, 15), date(2038, 1, 1))  # a gap before it
S3 = Period.season("s3", date(2038, 1, 1), date(2038, 2, 1))
SEASONED = PeriodPolicy((PeriodKind.SEASON,), keep=1, grace_ms=1000, seasons=(S1, S2, S3))


def test_seasons_come_from_the_calendar() -> None:
    at = SEASONED.period_at
    assert at(PeriodKind.SEASON, ms(2037, 8, 31, 23)) is None  # before the first
    assert at(PeriodKind.SEASON, ms(2037, 9, 1)) == S1
    assert at(PeriodKind.SEASON, ms(2037, 11, 1) - 1) == S1
    assert at(PeriodKind.SEASON, ms(2037, 11, 1)) is None  # between two seasons
    assert at(PeriodKind.SEASON, ms(2037, 12, 31, 23)) == S2
    assert at(PeriodKind.SEASON, ms(2038, 1, 1)) == S3
    assert at(PeriodKind.SEASON, ms(2038, 2, 1)) is None  # after the last
    assert (S2.id, S2.start_ms, S2.end_ms) == ("s2", ms(2037, 11, 15), ms(2038, 1, 1))
    assert SEASONED.shift(S2, -1) == S1 and SEASONED.shift(S2, 1) == S3
    assert SEASONED.shift(S3, 1) is None and SEASONED.shift(S1, -1) is None
    assert SEASONED.parse("s2") == S2 and SEASONED.parse("2037-W48") == Period.parse("2037-W48")
    with pytest.raises(ValueError, match="a season the board has"):
        SEASONED.parse("s9")
    with pytest.raises(ValueError):
        Period.containing(PeriodKind.SEASON, ms(2037, 9, 2))
    with pytest.raises(ValueError):
        S1.shift(1)


def test_a_season_may_start_and_end_at_any_instant() -> None:
    """A weekend tournament: from Friday 18:00 UTC to Monday 01:30 at +02:00."""
    cup = Period.season("cup", datetime(2037, 12, 4, 18, tzinfo=UTC),
                        datetime(2037, 12, 7, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    assert (cup.start_ms, cup.end_ms) == (ms(2037, 12, 4, 18), ms(2037, 12, 6, 23, 30))
    assert (cup.start, cup.end) == (date(2037, 12, 4), date(2037, 12, 7))  # the days it spans
    assert (cup.starts_at, cup.ends_at) == (datetime(2037, 12, 4, 18, tzinfo=UTC),
                                            datetime(2037, 12, 6, 23, 30, tzinfo=UTC))
    # a season of whole days ends at a midnight, the first day after it
    friday = Period.season("fri", date(2037, 12, 4), datetime(2037, 12, 4, 18, tzinfo=UTC))
    assert friday.end == date(2037, 12, 5)
    policy = PeriodPolicy((PeriodKind.SEASON,), keep=1, grace_ms=0, seasons=(friday, cup))
    at = policy.period_at
    assert at(PeriodKind.SEASON, ms(2037, 12, 4, 17, 59, 59)) == friday
    assert at(PeriodKind.SEASON, ms(2037, 12, 4, 18)) == cup  # the same day, back to back
    assert at(PeriodKind.SEASON, ms(2037, 12, 6, 23, 29, 59)) == cup
    assert at(PeriodKind.SEASON, ms(2037, 12, 6, 23, 30)) is None
    assert policy.is_final(cup, ms(2037, 12, 6, 23, 30))
    with pytest.raises(ValueError, match="in order and do not overlap"):
        PeriodPolicy((PeriodKind.SEASON,), seasons=(cup, Period.season(
            "late", datetime(2037, 12, 6, 23, 29, tzinfo=UTC), date(2037, 12, 8))))
    with pytest.raises(ValueError, match="no UTC offset"):
        Period.season("local", datetime(2037, 12, 4, 18), date(2037, 12, 8))
    with pytest.raises(ValueError, match="before it starts"):
        Period.season("none", datetime(2037, 12, 4, 18, tzinfo=UTC),
                      datetime(2037, 12, 4, 19, tzinfo=timezone(timedelta(hours=1))))


def test_readable_seasons_and_when_their_boards_expire() -> None:
    assert SEASONED.readable(PeriodKind.SEASON, ms(2037, 8, 1)) == []  # none begun
    assert SEASONED.readable(PeriodKind.SEASON, ms(2037, 11, 5)) == [S1]  # between: the last
    assert SEASONED.readable(PeriodKind.SEASON, ms(2038, 1, 5)) == [S3, S2]  # keep = 1
    assert SEASONED.expires_ms(S1) == S2.end_ms  # one season later
    assert SEASONED.expires_ms(S3) == S3.end_ms + (S3.end_ms - S3.start_ms)  # past the calendar
    assert not SEASONED.is_final(S1, S1.end_ms + 999) and SEASONED.is_final(S1, S1.end_ms + 1000)


@pytest.mark.parametrize(("kinds", "seasons", "words"), [
    ((PeriodKind.SEASON,), (), "goes with a list of seasons"),
    ((WEEK,), (S1,), "goes with a list of seasons"),
    ((PeriodKind.SEASON,), (S2, S1), "in order and do not overlap"),
    ((PeriodKind.SEASON,), (S1, Period.season("s1b", date(2037, 10, 1), date(2037, 12, 1))),
     "in order and do not overlap"),
    ((PeriodKind.SEASON,), (S1, Period.season("s1", date(2038, 9, 1), date(2038, 10, 1))),
     "distinct"),
])
def test_a_bad_calendar_is_refused(kinds: tuple[PeriodKind, ...], seasons: tuple[Period, ...],
                                   words: str) -> None:
    with pytest.raises(ValueError, match=words):
        PeriodPolicy(kinds, seasons=seasons)


def test_a_season_kept_past_what_redis_counts_is_refused() -> None:
    """Its board's expiry goes through the batch script to PEXPIREAT, exact below ~10^17."""
    ages = Period.season("ages", date(2037, 1, 1), date(9000, 1, 1))
    assert PeriodPolicy((PeriodKind.SEASON,), keep=1, seasons=(ages,))  # kept one length
    with pytest.raises(ValueError, match="'ages' would be kept 100 times its length past"):
        PeriodPolicy((PeriodKind.SEASON,), keep=100, seasons=(ages,))


@pytest.mark.parametrize(("label", "start", "end"), [
    ("2037-W48", date(2037, 9, 1), date(2037, 10, 1)),  # a week's id
    ("s:1", date(2037, 9, 1), date(2037, 10, 1)), ("s1", date(2037, 9, 1), date(2037, 9, 1)),
])
def test_a_bad_season_is_refused(label: str, start: date, end: date) -> None:
    with pytest.raises(ValueError):
        Period.season(label, start, end)


def test_seasons_are_configured_beside_periods() -> None:
    config = tomllib.loads('''
[products.pong]
handlers = [{ use = "wins", periods = ["week", "season"], keep_periods = 1, seasons = [
    { id = "s1", start = 2037-09-01, end = 2037-11-01 },
    { id = "s2", start = "2037-11-15", end = "2038-01-01" },
] }]
''')
    (wins,) = parse_products(config)["pong"].boards
    assert wins.periods is not None and wins.periods.seasons == (S1, S2)
    assert wins.periods.kinds == (WEEK, PeriodKind.SEASON)
    timed = tomllib.loads('''
[products.pong]
handlers = [{ use = "wins", periods = ["season"], seasons = [
    { id = "cup", start = 2037-12-04T18:00:00Z, end = "2037-12-07T01:30:00+02:00" },
] }]
''')
    (wins,) = parse_products(timed)["pong"].boards
    assert wins.periods is not None and [(s.start_ms, s.end_ms) for s in wins.periods.seasons] \
        == [(ms(2037, 12, 4, 18), ms(2037, 12, 6, 23, 30))]
    tokyo = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["day"], "utc_offset": "+09:00"}]}}})
    (wins,) = tokyo["pong"].boards
    assert wins.periods is not None and wins.periods.clock == TOKYO
    for offset in ("+9:00", "+09:60", "+15:00", "UTC+9", 9, "+09:07", "09:00"):
        with pytest.raises(ConfigError, match="utc_offset"):
            parse_products({"products": {"pong": {"handlers": [
                {"use": "wins", "periods": ["day"], "utc_offset": offset}]}}})
    local = tomllib.loads('''
[products.pong]
handlers = [{ use = "wins", periods = ["season"], seasons = [
    { id = "cup", start = 2037-12-04T18:00:00, end = 2037-12-08 },
] }]
''')
    with pytest.raises(ConfigError, match="no UTC offset"):
        parse_products(local)
    for bad in ([{"id": "s1", "start": "2037-09-01"}], [{"id": "s1", "start": "2037-13-01",
                                                        "end": "2038-01-01"}],
                [{"id": "s1", "start": 20370901, "end": "2038-01-01"}], "s1",
                [{"id": "s1", "start": "2037-09-01T25:00Z", "end": "2038-01-01"}]):
        with pytest.raises(ConfigError):
            parse_products({"products": {"pong": {"handlers": [
                {"use": "wins", "periods": ["season"], "seasons": bad}]}}})


def test_an_event_counts_in_its_season_and_not_between_two(data: redis.Redis,
                                                           dead_letters: DeadLetters) -> None:
    products = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["season"], "keep_periods": 1, "grace_seconds": 600,
         "seasons": [{"id": s.id, "start": s.start, "end": s.end} for s in (S1, S2, S3)]}]}}})
    now = ms(2037, 12, 1)
    processor = BatchProcessor(products, Store(data), dead_letters, clock=lambda: now / 1000)
    feed(processor, [(ms(2037, 11, 20), "ann", "bob"), (ms(2037, 11, 30), "ann", "cid"),
                     (ms(2037, 11, 5), "bob", "ann"),  # between s1 and s2: all-time only
                     (ms(2037, 10, 20), "cid", "ann")])  # s1 is over: late
    store = Store(data)
    assert dict(store.top("pong", "wins")) == {"ann": 2, "bob": 1, "cid": 1}
    assert dict(store.top("pong", "wins:s2")) == {"ann": 2, "bob": 0, "cid": 0}
    assert store.top("pong", "wins:s1") == []
    assert store.counters(["pong"])["pong"]["late"] == 1
    assert data.pexpiretime(Keys().board("pong", "wins:s2")) == S3.end_ms  # a season later


def test_a_timed_season_takes_events_from_its_first_instant_to_its_end(
        data: redis.Redis, dead_letters: DeadLetters) -> None:
    products = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["season"], "grace_seconds": 60, "seasons": [
            {"id": "cup", "start": "2037-12-04T18:00:00Z", "end": "2037-12-06T23:30:00Z"}]}]}}})
    now = ms(2037, 12, 6, 23, 30, 30)  # inside the grace after the cup's end
    processor = BatchProcessor(products, Store(data), dead_letters, clock=lambda: now / 1000)
    feed(processor, [(ms(2037, 12, 4, 17, 59, 59), "ann", "bob"),  # a second early
                     (ms(2037, 12, 4, 18), "bob", "ann"),
                     (ms(2037, 12, 6, 23, 29, 59), "cid", "ann"),
                     (ms(2037, 12, 6, 23, 30), "ann", "cid")])  # over
    store = Store(data)
    assert dict(store.top("pong", "wins:cup")) == {"bob": 1, "cid": 1, "ann": 0}
    assert dict(store.top("pong", "wins")) == {"ann": 2, "bob": 1, "cid": 1}
