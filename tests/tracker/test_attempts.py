"""Tournament boards (``attempts = N`` and ``max_players = M`` on a ``score`` handler):
each player's first N submissions count, and the first M players to submit, per period on
a board kept per period, while the all-time board takes them all; the rest change nothing
and are counted as refused. Checked against brute force on a real Redis in both batch
forms, under redelivery, and with concurrent writers."""

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
from tracker.handlers import ScoreLeaderboard
from tracker.handlers.base import Attempt, check_op
from tracker.periods import Period, PeriodKind, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.ranking import Record
from tracker.storage import DeadLetters, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]
WEEK = 7 * 86_400_000
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms - WEEK + 3_600_000
WEEKS = [Period.containing(PeriodKind.WEEK, T0), Period.containing(PeriodKind.WEEK, T0 + WEEK)]
LIMIT = 3
CUP = {"handlers": [
    {"use": "score", "board": "cup", "attempts": LIMIT, "periods": ["week"]},
    {"use": "score", "board": "trial", "attempts": 2, "operator": "latest", "order": "asc",
     "max_players": 2},
    {"use": "score", "board": "final", "max_players": 2, "periods": ["week"]},
    {"use": "score", "board": "open"},  # no limit, beside them
]}
# (board, player, score, minutes after T0)
Submission = tuple[str, str, int, int]


def cup() -> Products:
    return parse_products({"products": {"cup": CUP}})


def test_the_configuration_and_the_op() -> None:
    handler = ScoreLeaderboard("cup", attempts=3)
    assert handler.boards[0].attempts == 3 and "attempts=3" in repr(handler)
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="attempts is a whole number"):
            ScoreLeaderboard("cup", attempts=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_players and join_required go with the operators"):
        ScoreLeaderboard("cup", operator="sum", attempts=3)
    with pytest.raises(ConfigError, match="attempts, max_players and join_required go with"):
        parse_products({"products": {"x": {"handlers": [
            {"use": "score", "board": "b", "operator": "decr", "attempts": 1}]}}})
    check_op(Attempt("cup", "ann", 5.0, "best", 3, 1, "", 10))
    with pytest.raises(ValueError, match="capacity"):
        check_op(Attempt("cup", "ann", 5.0, "best", 3, 1, "", -1))
    with pytest.raises(ValueError, match="max_players is a whole number"):
        ScoreLeaderboard("cup", max_players=-5)
    assert ScoreLeaderboard("cup", max_players=8).boards[0].max_players == 8
    with pytest.raises(ValueError, match="the best, the latest or the sum"):
        check_op(Attempt("cup", "ann", 5.0, "decr", 3, 1, ""))
    with pytest.raises(ValueError, match="integers >= 0"):
        check_op(Attempt("cup", "ann", 5.0, "best", -1, 1, ""))
    # the API lists the limit with the board
    board = cup()["cup"].board("cup")
    assert board is not None and board.attempts == LIMIT and board.records


def brute_force(subs: Sequence[Submission], board: str, week: Period | None, limit: int,
                capacity: int, latest: bool, ascending: bool
                ) -> tuple[dict[str, int], dict[str, Record], int]:
    """Each player's score and record on ``board`` (its all-time board when ``week`` is
    None, on which no limit holds for a board kept per week), and the submissions refused
    there: in event order, the first ``limit`` of each player count, of the first
    ``capacity`` players."""
    score: dict[str, int] = {}
    kept: dict[str, Record] = {}
    refused = 0
    for b, player, value, minute in subs:
        at = T0 + minute * 60_000
        if b != board or (week is not None and not week.start_ms <= at < week.end_ms):
            continue
        old = kept.get(player)
        if (limit and old is not None and old.submissions >= limit) or (
                capacity and old is None and len(kept) >= capacity):
            refused += 1
            continue
        kept[player] = Record((old.submissions if old else 0) + 1,
                              min(old.first_at, at) if old else at, at)
        if latest or player not in score or (
                value < score[player] if ascending else value > score[player]):
            score[player] = value
    return score, kept, refused


def read(data: redis.Redis, name: str, players: Sequence[str], ascending: bool
         ) -> tuple[dict[str, int], dict[str, Record]]:
    ranks = Ranks(data)
    score: dict[str, int] = {}
    kept: dict[str, Record] = {}
    for player in players:
        found = ranks.standing("cup", name, player, ascending=ascending, records=name)
        if found is not None:
            score[player] = int(found.score)
            assert found.record is not None
            kept[player] = Record(found.record.submissions, found.record.first_at,
                                  found.record.last_at)
    return score, kept


PLAYERS = ["ann", "bob", "cid", "dee"]


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(subs=st.lists(st.tuples(st.sampled_from(["cup", "trial", "final", "open"]),
                               st.sampled_from(PLAYERS), st.integers(0, 9),
                               st.integers(0, 2 * 7 * 1440 - 61)),
                     min_size=1, max_size=40),
       batch=st.integers(1, 12), summed=st.booleans())
def test_the_first_attempts_count_as_brute_force_says(
        data: redis.Redis, subs: list[Submission], batch: int, summed: bool) -> None:
    data.flushdb()
    subs.sort(key=lambda s: s[3])  # entry ids follow time
    entries = [(f"{T0 + m * 60_000}-{i}", raw(submitted("cup", b, p, v)))
               for i, (b, p, v, m) in enumerate(subs)]
    processor = BatchProcessor(cup(), Store(data) if summed else EventsForm(data),
                               DeadLetters(data), clock=lambda: T0 / 1000)  # both weeks open
    for i in range(0, len(entries), batch):
        processor.process("cup", "s", entries[i:i + batch])
    refused = 0
    for name, week, limit, capacity, latest, asc in [
            ("cup", None, 0, 0, False, False),  # all-time: every submission
            (period_board("cup", WEEKS[0]), WEEKS[0], LIMIT, 0, False, False),
            (period_board("cup", WEEKS[1]), WEEKS[1], LIMIT, 0, False, False),
            ("trial", None, 2, 2, True, True),
            ("final", None, 0, 0, False, False),
            (period_board("final", WEEKS[0]), WEEKS[0], 0, 2, False, False),
            (period_board("final", WEEKS[1]), WEEKS[1], 0, 2, False, False),
            ("open", None, 0, 0, False, False)]:
        board = name.split(":")[0]
        score, kept, lost = brute_force(subs, board, week, limit, capacity, latest, asc)
        assert read(data, name, PLAYERS, asc) == (score, kept), name
        refused += lost
    redelivered_changes_nothing(data, processor, "cup", entries, batch, refused)


def test_a_submission_that_would_sum_on_a_tournament_board_is_dead_lettered(
        data: redis.Redis) -> None:
    letters = DeadLetters(data)
    processor = BatchProcessor(cup(), Store(data), letters, clock=lambda: T0 / 1000)
    report = processor.process("cup", "s", [
        (f"{T0}-0", raw(submitted("cup", "cup", "ann", 5, operator="sum"))),
        (f"{T0}-1", raw(submitted("cup", "cup", "ann", 4, operator="latest")))])
    assert report.applied == 1 and letters.count() == 1
    (letter,) = letters.scan()
    assert letter.reason == "handler_error" and "best or the latest, not 'sum'" in letter.detail


def test_concurrent_writers_never_take_more_than_the_limit(data: redis.Redis) -> None:
    """Four writers (the workers of a pool) submit 40 attempts each for the same players
    at once: the board ends with exactly its players, each with exactly its attempts, and
    the rest refused."""
    products = cup()

    def write(writer: int) -> None:
        processor = BatchProcessor(products, Store(redis.Redis(
            connection_pool=data.connection_pool)), DeadLetters(data),
            clock=lambda: T0 / 1000)
        for n in range(0, 40, 4):
            report = processor.process("cup", "s", [
                (f"{T0 + n}-{writer * 1000 + k * 10 + i}",
                 raw(submitted("cup", "trial", p, n + k)))
                for k in range(4) for i, p in enumerate(PLAYERS)])
            assert report.applied == 4 * len(PLAYERS), report

    at_once(write)
    # trial takes 2 attempts of 2 players: exactly 4 submissions in, whoever came first
    ranks = Ranks(data)
    found = [ranks.standing("cup", "trial", p, ascending=True, records="trial") for p in PLAYERS]
    admitted = [f for f in found if f is not None]
    assert len(admitted) == 2
    assert all(f.record is not None and f.record.submissions == 2 for f in admitted)
    assert Store(data).counters(["cup"])["cup"]["refused"] == 4 * 40 * len(PLAYERS) - 2 * 2
