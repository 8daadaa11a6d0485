"""A board's clock (tracker.clock): fixed offsets and IANA time zones with their daylight
saving, as periods read them; and a batch's period boards on a time zone (real Redis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from tests.support.periods import BERLIN, feed, ms
from tracker.clock import HOUR_MS, Clock
from tracker.periods import CALENDAR_KINDS, Period, PeriodKind, PeriodPolicy
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.storage import DeadLetters, Keys, Store

DAY, WEEK, MONTH, HOUR = PeriodKind.DAY, PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.HOUR
# zones whose clocks change by an hour, by half an hour (Lord Howe), at midnight (São
# Paulo until 2019), at +12:45 (Chatham); one that skipped a whole day (Apia, 2011-12-30)
ZONES = [Clock(zone=name) for name in (
    "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo",
    "Pacific/Chatham", "Pacific/Apia", "Asia/Kolkata", "UTC")]


def wall(clock: Clock, instant: int) -> datetime:
    """The clock's wall time at ``instant`` (naive)."""
    return datetime(1970, 1, 1) + timedelta(milliseconds=clock.local_ms(instant))


@given(instant=st.integers(ms(1990, 1, 1), ms(2100, 1, 1)),
       kind=st.sampled_from(CALENDAR_KINDS), clock=st.sampled_from(ZONES))
def test_a_zone_s_periods_tile_time_and_start_at_their_wall_time(
        instant: int, kind: PeriodKind, clock: Clock) -> None:
    period = Period.containing(kind, instant, clock)
    assert Period.parse(period.id, clock) == period
    assert period.start_ms <= instant < period.end_ms
    # no gap and no overlap with the periods before and after
    assert Period.containing(kind, period.end_ms, clock).start_ms == period.end_ms
    assert Period.containing(kind, period.start_ms - 1, clock).end_ms == period.start_ms
    # it starts at the first instant whose wall time is its own start (midnight, or its
    # hour), or later when the clocks skipped that wall time
    begins = datetime(period.start.year, period.start.month, period.start.day, period.hour)
    assert wall(clock, period.start_ms) >= begins > wall(clock, period.start_ms - 1)


def test_daylight_saving_in_berlin() -> None:
    """time_zone = "Europe/Berlin": days begin at midnight there, CET or CEST."""
    summer = Period.containing(DAY, ms(2026, 6, 30, 22, 30), BERLIN)  # 00:30 on 1 July
    assert (summer.id, summer.start_ms) == ("2026-07-01", ms(2026, 6, 30, 22))
    winter = Period.containing(DAY, ms(2026, 12, 31, 23, 30), BERLIN)  # 00:30 on 1 January
    assert (winter.id, winter.start_ms) == ("2027-01-01", ms(2026, 12, 31, 23))
    spring, autumn = Period.parse("2026-03-29", BERLIN), Period.parse("2026-10-25", BERLIN)
    assert spring.end_ms - spring.start_ms == 23 * HOUR_MS
    assert autumn.end_ms - autumn.start_ms == 25 * HOUR_MS
    assert (autumn.starts_at, autumn.ends_at) == (datetime(2026, 10, 24, 22, tzinfo=UTC),
                                                  datetime(2026, 10, 25, 23, tzinfo=UTC))
    march = Period.parse("2026-03", BERLIN)
    assert march.end_ms - march.start_ms == (31 * 24 - 1) * HOUR_MS
    # the hour shown twice when the clocks go back is one period of two hours; the one
    # they skip going forward holds no instant, and its neighbours meet
    twice = Period.containing(HOUR, ms(2026, 10, 25, 1, 30), BERLIN)  # 02:30 CET
    assert twice == Period.containing(HOUR, ms(2026, 10, 25, 0, 30), BERLIN)  # 02:30 CEST
    assert (twice.id, twice.start_ms, twice.end_ms) == (
        "2026-10-25T02", ms(2026, 10, 25), ms(2026, 10, 25, 2))
    skipped = Period.parse("2026-03-29T02", BERLIN)
    assert skipped.start_ms == skipped.end_ms == ms(2026, 3, 29, 1)
    assert Period.containing(HOUR, ms(2026, 3, 29, 1), BERLIN).id == "2026-03-29T03"
    # a season of days runs from a midnight in Berlin to one in Berlin
    cup = Period.season("cup", date(2026, 3, 1), date(2026, 4, 1), BERLIN)
    assert (cup.start_ms, cup.end_ms) == (march.start_ms, march.end_ms)
    policy = PeriodPolicy((DAY,), keep=2, clock=BERLIN)
    assert [p.id for p in policy.readable(DAY, ms(2026, 10, 26, 12))] == [
        "2026-10-26", "2026-10-25", "2026-10-24"]
    assert policy.expires_ms(autumn) == ms(2026, 10, 27, 23)


def test_clock_rules() -> None:
    assert (Clock().name, Clock(-(3 * HOUR_MS + HOUR_MS // 2)).name, BERLIN.name) == (
        "+00:00", "-03:30", "Europe/Berlin")
    assert BERLIN.offset_at(ms(2026, 7, 1)) == 2 * HOUR_MS
    assert BERLIN.offset_at(ms(2026, 1, 1)) == HOUR_MS
    for bad in ("Mars/Olympus", "europe/berlin ", "../etc/passwd", "+09:00"):
        with pytest.raises(ValueError, match="not an IANA time zone"):
            Clock(zone=bad)
    with pytest.raises(ValueError, match="not both"):
        Clock(HOUR_MS, "Europe/Berlin")


def config(**table: object) -> dict[str, object]:
    return {"products": {"pong": {"handlers": [{"use": "wins", "periods": ["day"], **table}]}}}


def test_configuration() -> None:
    wins = parse_products(config(time_zone="Europe/Berlin"))["pong"].board("wins")
    assert wins is not None and wins.periods is not None and wins.periods.clock == BERLIN
    for table, message in [
        ({"time_zone": "Europe/Berlin", "utc_offset": "+01:00"}, "not both"),
        ({"time_zone": "Berlin"}, "not an IANA time zone"),
        ({"time_zone": ""}, "time_zone is an IANA name"),
        ({"time_zone": 1}, "time_zone is an IANA name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_products(config(**table))
    with pytest.raises(ConfigError, match="go with periods"):
        parse_products({"products": {"pong": {"handlers": [
            {"use": "wins", "time_zone": "Europe/Berlin"}]}}})


def test_a_batch_writes_the_days_of_the_boards_time_zone(data: redis.Redis,
                                                         dead_letters: DeadLetters) -> None:
    # in 2036, the day the clocks go back: boards that expire before now would be gone
    berlin = parse_products(config(time_zone="Europe/Berlin", keep_periods=1))
    now = ms(2036, 10, 26, 23, 0, 30)  # half a minute into 27 October in Berlin (CET)
    processor = BatchProcessor(berlin, Store(data), dead_letters, clock=lambda: now / 1000)
    feed(processor, [(ms(2036, 10, 25, 22, 30), "ann", "bob"),  # 00:30 CEST on the 26th
                     (ms(2036, 10, 26, 22, 59), "bob", "ann"),  # 23:59 CET on the 26th
                     (now, "bob", "cid"),
                     (ms(2036, 7, 1, 21, 59), "cid", "ann")])  # 23:59 CEST on 1 July: late
    store = Store(data)
    assert dict(store.top("pong", "wins:2036-10-26")) == {"ann": 1, "bob": 1}
    assert dict(store.top("pong", "wins:2036-10-27")) == {"bob": 1, "cid": 0}
    assert dict(store.top("pong", "wins")) == {"ann": 1, "bob": 2, "cid": 1}
    assert not data.exists(Keys().board("pong", "wins:2036-07-01"))
    # kept one day after its end, at midnight in Berlin, after a 25-hour day
    assert data.pexpiretime(Keys().board("pong", "wins:2036-10-26")) == ms(2036, 10, 27, 23)
