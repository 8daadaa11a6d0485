"""Write rate limits on score boards (``rate_limit = { submissions = N, seconds = S }``):
at most N submissions of a player count per window of S seconds of event time, on the
all-time board and each period's alike, decided once and refused once. Checked against
brute force on a real Redis in both batch forms, under redelivery, with old events (a
backlog) and with concurrent writers."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.handlers import EventsForm, redelivered_changes_nothing
from tests.support.threads import at_once
from tests.support.varcade import raw, submitted
from tracker.erasure import delete_records, forget_players
from tracker.handlers import RateLimit, ScoreLeaderboard
from tracker.handlers.base import Attempt, check_op
from tracker.periods import Period, PeriodKind, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.storage import DeadLetters, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]
WEEK = 7 * 86_400_000
# a week ago and this week, both open to the clock the processors are given
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms - WEEK + 3_600_000
WEEKS = [Period.containing(PeriodKind.WEEK, T0), Period.containing(PeriodKind.WEEK, T0 + WEEK)]
# board -> (operator, submissions per window, window seconds, attempts)
BOARDS = {"total": ("sum", 3, 60, 0), "high": ("best", 2, 600, 0),
          "lap": ("latest", 1, 60, 0), "cup": ("best", 2, 60, 3)}
ARCADE = {"handlers": [
    {"use": "score", "board": "total", "operator": "sum", "periods": ["week"],
     "rate_limit": {"submissions": 3, "seconds": 60}},
    {"use": "score", "board": "high", "tie_break": "earliest",
     "rate_limit": {"submissions": 2, "seconds": 600}},
    {"use": "score", "board": "lap", "operator": "latest", "order": "asc",
     "rate_limit": {"submissions": 1, "seconds": 60}},
    {"use": "score", "board": "cup", "attempts": 3,
     "rate_limit": {"submissions": 2, "seconds": 60}},
]}
PLAYERS = ["ann", "bob", "cid"]
# (board, player, score, seconds after T0)
Submission = tuple[str, str, int, int]


def arcade() -> Products:
    return parse_products({"products": {"arcade": ARCADE}})


def brute_force(subs: Sequence[Submission], board: str, week: Period | None
                ) -> tuple[dict[str, tuple[int, int]], int]:
    """Each player's (score, submissions counted) on ``board`` (all-time, or ``week``'s),
    and the submissions refused: in event order, per player, at most ``rate`` in each
    window, and on the cup its first 3 attempts."""
    operator, rate, seconds, attempts = BOARDS[board]
    kept: dict[str, tuple[int, int]] = {}
    in_window: dict[tuple[str, int], int] = {}
    refused = 0
    for b, player, value, second in subs:
        at = T0 + second * 1000
        if b != board:
            continue
        score, n = kept.get(player, (0, 0))
        window = (player, at // (seconds * 1000))
        if (attempts and n >= attempts) or in_window.get(window, 0) >= rate:
            refused += 1
            continue
        in_window[window] = in_window.get(window, 0) + 1
        if week is not None and not week.start_ms <= at < week.end_ms:
            continue  # counted in the window, kept all-time only
        if operator == "sum":
            score += value
        elif operator == "latest" or n == 0 or value > score:
            score = value
        kept[player] = (score, n + 1)
    return kept, refused


def read(data: redis.Redis, name: str, ascending: bool, earliest: bool
         ) -> dict[str, tuple[int, int]]:
    ranks, found = Ranks(data), {}
    for player in PLAYERS:
        standing = ranks.standing("arcade", name, player, ascending=ascending,
                                  earliest=earliest, records=name)
        if standing is not None:
            assert standing.record is not None
            found[player] = (int(standing.score), standing.record.submissions)
    return found


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(subs=st.lists(st.tuples(st.sampled_from(sorted(BOARDS)), st.sampled_from(PLAYERS),
                               st.integers(0, 9), st.integers(0, 2 * 7 * 86_400 - 3_700)),
                     min_size=1, max_size=60),
       burst=st.integers(0, 8), batch=st.integers(1, 15), summed=st.booleans())
def test_at_most_the_rate_counts_as_brute_force_says(
        data: redis.Redis, subs: list[Submission], burst: int, batch: int,
        summed: bool) -> None:
    data.flushdb()
    first = subs[0]
    subs += [(first[0], first[1], k, first[3] + k) for k in range(burst)]  # a flood
    subs.sort(key=lambda s: s[3])  # entry ids follow time
    entries = [(f"{T0 + s * 1000}-{i}", raw(submitted("arcade", b, p, v)))
               for i, (b, p, v, s) in enumerate(subs)]
    processor = BatchProcessor(arcade(), Store(data) if summed else EventsForm(data),
                               DeadLetters(data), clock=lambda: T0 / 1000)  # weeks open
    for i in range(0, len(entries), batch):
        processor.process("arcade", "s", entries[i:i + batch])
    refused = 0
    for board in BOARDS:
        kept, lost = brute_force(subs, board, None)
        assert read(data, board, board == "lap", board == "high") == kept, board
        refused += lost
    for week in WEEKS:  # the week's board keeps what the all-time board let through
        assert read(data, period_board("total", week), False, False) == brute_force(
            subs, "total", week)[0]
    redelivered_changes_nothing(data, processor, "arcade", entries, batch, refused)


def test_the_configuration_and_the_op() -> None:
    board = arcade()["arcade"].board("total")
    assert board is not None and board.rate_limit == RateLimit(3, 60) and board.records
    assert "rate_limit={'submissions': 3, 'seconds': 60}" in repr(
        ScoreLeaderboard("t", "sum", rate_limit={"submissions": 3, "seconds": 60}))
    assert ScoreLeaderboard("t").boards[0].rate_limit is None
    for bad in ({"submissions": 0, "seconds": 60}, {"submissions": 3},
                {"submissions": 3, "seconds": 86_401}, {"submissions": 2.5, "seconds": 9},
                {"submissions": True, "seconds": 9}, [3, 60], "30/2m",
                {"submissions": 3, "seconds": 60, "burst": 1}):
        with pytest.raises(ValueError, match=r"rate_limit is \{ submissions = 1-10,000"):
            ScoreLeaderboard("t", rate_limit=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rate_limit goes with the operators"):
        parse_products({"products": {"x": {"handlers": [
            {"use": "score", "board": "b", "operator": "decr",
             "rate_limit": {"submissions": 1, "seconds": 1}}]}}})
    check_op(Attempt("t", "ann", 5.0, "sum", 0, 1, "", rate=3, window_ms=60_000))
    with pytest.raises(ValueError, match="a window with a rate"):
        check_op(Attempt("t", "ann", 5.0, "sum", 0, 1, "", rate=3))


def test_a_decrement_on_a_rate_limited_board_is_dead_lettered(data: redis.Redis) -> None:
    letters = DeadLetters(data)
    processor = BatchProcessor(arcade(), Store(data), letters, clock=lambda: T0 / 1000)
    report = processor.process("arcade", "s", [
        (f"{T0}-0", raw(submitted("arcade", "total", "ann", 5, operator="decr"))),
        (f"{T0}-1", raw(submitted("arcade", "total", "ann", 4, metadata='{"car": "red"}')))])
    assert report.applied == 1 and letters.count() == 1
    (letter,) = letters.scan()
    assert letter.reason == "handler_error" and "has a rate limit" in letter.detail
    standing = Ranks(data).standing("arcade", "total", "ann", records="total")
    assert standing is not None and standing.record is not None
    assert standing.score == 4 and standing.record.metadata == '{"car": "red"}'


def test_concurrent_writers_never_let_more_than_the_rate_through(data: redis.Redis) -> None:
    """Four writers submit 20 scores each for the same players in the same minute at once:
    each player gets exactly 3 counted on the sum board, and its week's board the same."""
    products = arcade()
    now = int(time.time() * 1000) // 60_000 * 60_000

    def write(writer: int) -> None:
        processor = BatchProcessor(products, Store(redis.Redis(
            connection_pool=data.connection_pool)), DeadLetters(data))
        for n in range(0, 20, 5):
            report = processor.process("arcade", "s", [
                (f"{now + n + k}-{writer * 1000 + k * 10 + i}",
                 raw(submitted("arcade", "total", p, 1)))
                for k in range(5) for i, p in enumerate(PLAYERS)])
            assert report.applied == 5 * len(PLAYERS), report

    at_once(write)
    week = period_board("total", Period.containing(PeriodKind.WEEK, now))
    assert read(data, "total", False, False) == {p: (3, 3) for p in PLAYERS}
    assert read(data, week, False, False) == {p: (3, 3) for p in PLAYERS}
    assert Store(data).counters(["arcade"])["arcade"]["refused"] == (4 * 20 - 3) * len(PLAYERS)


def test_erasure_takes_the_player_out_of_the_windows_counts(data: redis.Redis) -> None:
    products = arcade()
    now = int(time.time() * 1000) // 60_000 * 60_000
    entries = [(f"{now + i}-0", raw(submitted("arcade", board, p, 1)))
               for i, (board, p) in enumerate([("total", "ann"), ("total", "bob"),
                                               ("lap", "ann"), ("high", "ann"),
                                               ("total", "cy"), ("lap", "cy")])]
    BatchProcessor(products, Store(data), DeadLetters(data)).process("arcade", "s", entries)
    windows = sorted(k.decode() for k in data.keys("st:{arcade}:lb:*:rate:*"))
    assert [w.split(":")[3] for w in windows] == ["high", "lap", "total"]
    assert data.hgetall(windows[2]) == {b"ann": b"1", b"bob": b"1", b"cy": b"1"}

    # a cheat's records on one board: its count there goes, and a later submission counts
    total = products["arcade"].board("total")
    assert total is not None
    delete_records(Store(data), products["arcade"], total, ["ann"], now)
    assert data.hgetall(windows[2]) == {b"bob": b"1", b"cy": b"1"}
    assert data.hget(windows[1], "ann")
    # a right-to-erasure request for two players at once: every window forgets both
    forget_players(Store(data), products["arcade"], ["ann", "cy"], now)
    assert [data.hget(w, user) for w in windows for user in ("ann", "cy")] == [None] * 6
    assert data.hgetall(windows[2]) == {b"bob": b"1"}
