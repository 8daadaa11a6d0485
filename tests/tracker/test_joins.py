"""Tournaments that players join (``join_required = true`` on a ``score`` handler, Nakama's
``JoinTournament``): only the submissions of players who joined count, ``max_players``
caps the players who join, and on a board kept per period players join each period's
board while the all-time board takes every submission. Checked against brute force on a
real Redis in both batch forms, under redelivery, and with concurrent writers."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.handlers import EventsForm
from tests.support.threads import at_once
from tests.support.varcade import raw, submitted
from tracker.erasure import player_boards
from tracker.events import InvalidEvent, parse_entry
from tracker.handlers import ScoreLeaderboard
from tracker.handlers.base import Join, check_op
from tracker.periods import Period, PeriodKind, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.storage import DeadLetters, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]
WEEK = 7 * 86_400_000
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms - WEEK + 3_600_000
WEEKS = [Period.containing(PeriodKind.WEEK, T0), Period.containing(PeriodKind.WEEK, T0 + WEEK)]
# board -> (operator, attempts, max_players, kept per week)
BOARDS = {"cup": ("best", 2, 2, True), "league": ("latest", 0, 0, False)}
ARCADE = {"handlers": [
    {"use": "score", "board": "cup", "attempts": 2, "max_players": 2, "join_required": True,
     "periods": ["week"]},
    {"use": "score", "board": "league", "operator": "latest", "join_required": True},
    {"use": "score", "board": "open"},  # takes anyone's scores, and no joins
]}
PLAYERS = ["ann", "bob", "cid", "dee"]
# (kind, board, player, score, minutes after T0)
Step = tuple[str, str, str, int, int]


def arcade() -> Products:
    return parse_products({"products": {"arcade": ARCADE}})


def joined(player: str, board: str = "cup") -> dict[str, str]:
    return {"product_id": "arcade", "type": "join", "board": board, "user_id": player}


def brute_force(steps: Sequence[Step], board: str, week: Period | None
                ) -> tuple[dict[str, tuple[int, int]], set[str], int]:
    """Each player's (score, submissions) on ``board`` (its all-time board when ``week`` is
    None), the players who joined it, and the joins and submissions refused there."""
    operator, limit, capacity, weekly = BOARDS[board]
    every = weekly and week is None  # a periodic board's all-time copy takes everything
    kept: dict[str, tuple[int, int]] = {}
    members: set[str] = set()
    refused = 0
    for kind, b, player, value, minute in steps:
        at = T0 + minute * 60_000
        if b != board or (week is not None and not week.start_ms <= at < week.end_ms):
            continue
        if kind == "join":
            if every or player in members:
                continue
            if capacity and len(members) >= capacity:
                refused += 1
            else:
                members.add(player)
            continue
        old = kept.get(player)
        if not every and (player not in members or (limit and old and old[1] >= limit)):
            refused += 1
            continue
        best = value if old is None or operator == "latest" else max(old[0], value)
        kept[player] = (best, (old[1] if old else 0) + 1)
    return kept, set() if every else members, refused


# three players join a week of the cup, which takes two; all submit, one before joining
CROWDED = [("score", "cup", "dee", 3, 0), ("join", "cup", "ann", 0, 1),
           ("join", "cup", "bob", 0, 2), ("join", "cup", "cid", 0, 3),
           ("join", "cup", "dee", 0, 4), ("join", "cup", "ann", 0, 5)] + [
    ("score", "cup", p, 5, 6 + i) for i, p in enumerate(PLAYERS)]


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@example(steps=CROWDED, batch=4, summed=True)
@example(steps=CROWDED, batch=1, summed=False)
@given(steps=st.lists(st.tuples(st.sampled_from(["join", "join", "score", "score", "score"]),
                                st.sampled_from(sorted(BOARDS)), st.sampled_from(PLAYERS),
                                st.integers(0, 9), st.integers(0, 2 * 7 * 1440 - 61)),
                      min_size=1, max_size=40),
       batch=st.integers(1, 12), summed=st.booleans())
def test_only_players_who_joined_count_as_brute_force_says(
        data: redis.Redis, steps: list[Step], batch: int, summed: bool) -> None:
    data.flushdb()
    steps.sort(key=lambda s: s[4])  # entry ids follow time
    entries = [(f"{T0 + m * 60_000}-{i}",
                raw(joined(p, b) if kind == "join" else submitted("arcade", b, p, v)))
               for i, (kind, b, p, v, m) in enumerate(steps)]
    processor = BatchProcessor(arcade(), Store(data) if summed else EventsForm(data),
                               DeadLetters(data), clock=lambda: T0 / 1000)  # both weeks open
    for i in range(0, len(entries), batch):
        report = processor.process("arcade", "s", entries[i:i + batch])
        assert report.applied == len(entries[i:i + batch]), report
    store, ranks = Store(data), Ranks(data)
    refused = 0
    for name, week in [("cup", None), (period_board("cup", WEEKS[0]), WEEKS[0]),
                       (period_board("cup", WEEKS[1]), WEEKS[1]), ("league", None)]:
        kept, members, lost = brute_force(steps, name.split(":")[0], week)
        found = {}
        for player in PLAYERS:
            standing = ranks.standing("arcade", name, player, records=name)
            if standing is not None:
                assert standing.record is not None
                found[player] = (int(standing.score), standing.record.submissions)
        assert found == kept, name
        assert {p for p in PLAYERS if store.joined("arcade", name, p)} == members, name
        assert store.joined("arcade", name) == len(members)
        refused += lost
    assert store.counters(["arcade"])["arcade"].get("refused", 0) == refused

    # a redelivery of everything changes nothing and refuses nothing more
    before = {k: data.dump(k) for k in data.keys("st:{arcade}:lb:*")}
    for i in range(0, len(entries), batch):
        processor.process("arcade", "s", entries[i:i + batch])
    assert {k: data.dump(k) for k in data.keys("st:{arcade}:lb:*")} == before
    assert store.counters(["arcade"])["arcade"].get("refused", 0) == refused


def test_the_configuration_and_the_op() -> None:
    handler = ScoreLeaderboard("cup", join_required=True)
    assert handler.boards[0].join_required and "join_required=True" in repr(handler)
    with pytest.raises(ValueError, match="join_required is true or false"):
        ScoreLeaderboard("cup", join_required="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="attempts, max_players and join_required go with"):
        parse_products({"products": {"x": {"handlers": [
            {"use": "score", "board": "b", "operator": "sum", "join_required": True}]}}})
    check_op(Join("cup", "ann", 0, 1))
    with pytest.raises(ValueError, match="capacity is an integer >= 0"):
        check_op(Join("cup", "ann", -1, 1))
    board = arcade()["arcade"].board("cup")
    assert board is not None and board.join_required and board.max_players == 2


@pytest.mark.parametrize(("entry", "reason", "detail"), [
    (joined("ann", "open"), "handler_error", "board 'open' takes no joins"),
    (joined("ann", "nope"), "unknown_board", "keeps no scores on board 'nope'"),
    ({k: v for k, v in joined("ann").items() if k != "board"}, "invalid_fields", "board"),
])
def test_a_join_no_board_takes_is_dead_lettered_with_the_reason(
        data: redis.Redis, entry: dict[str, str], reason: str, detail: str) -> None:
    letters = DeadLetters(data)
    processor = BatchProcessor(arcade(), Store(data), letters, clock=lambda: T0 / 1000)
    report = processor.process("arcade", "s", [(f"{T0}-0", raw(entry)),
                                               (f"{T0}-1", raw(joined("bob")))])
    assert report.applied == 1 and letters.count() == 1
    (letter,) = letters.scan()
    assert letter.reason == reason and detail in letter.detail, letter.detail
    assert letter.fields == raw(entry)  # the original, for a replay


def test_a_join_entry_is_validated_as_the_schema_says() -> None:
    event = parse_entry("1-0", raw({**joined("ann"), "game_id": "g1"}))
    assert (event.type, event["board"], event["user_id"], event.game_id) == (
        "join", "cup", "ann", "g1")
    with pytest.raises(InvalidEvent, match="user_id"):
        parse_entry("1-0", raw({**joined("ann"), "user_id": "undefined"}))


def test_forgetting_a_player_takes_its_joins_too(data: redis.Redis) -> None:
    processor = BatchProcessor(arcade(), Store(data), DeadLetters(data))
    now = int(time.time() * 1000)
    processor.process("arcade", "s", [(f"{now}-0", raw(joined("ann"))),
                                      (f"{now}-1", raw(joined("ann", "league")))])
    week = period_board("cup", Period.containing(PeriodKind.WEEK, now))
    store = Store(data)
    assert store.joined("arcade", week, "ann") == store.joined("arcade", "league", "ann") == 1
    product = arcade()["arcade"]
    store.forget("arcade", "ann", player_boards(product, now))
    assert store.joined("arcade", week) == store.joined("arcade", "league") == 0


def test_a_player_gets_its_bucket_when_it_joins(data: redis.Redis) -> None:
    products = parse_products({"products": {"arcade": {"handlers": [
        {"use": "score", "board": "cup", "join_required": True, "periods": ["week"],
         "bucket_size": 2}]}}})
    now = int(time.time() * 1000)
    processor = BatchProcessor(products, Store(data), DeadLetters(data))
    processor.process("arcade", "s", [(f"{now}-{i}", raw(joined(p)))
                                      for i, p in enumerate(["ann", "bob", "cid"])])
    week = period_board("cup", Period.containing(PeriodKind.WEEK, now))
    store = Store(data)
    # before any score: the first two fill bucket 0, the third begins bucket 1
    assert [store.bucket_of("arcade", week, p) for p in ("ann", "bob", "cid")] == [0, 0, 1]
    assert Ranks(data).size("arcade", week).members == 0  # nobody on the board yet


def test_concurrent_joins_and_attempts_keep_every_limit(data: redis.Redis) -> None:
    """Four writers each join ten players and submit three scores for each, at once, to
    a board taking five players and two attempts each: exactly five players join, each
    of them with exactly two submissions counted, nobody else is on the board, and every
    other join and submission is refused."""
    products = parse_products({"products": {"arcade": {"handlers": [
        {"use": "score", "board": "league", "join_required": True, "max_players": 5,
         "attempts": 2}]}}})
    players = [f"p{i}" for i in range(10)]

    def write(writer: int) -> None:
        processor = BatchProcessor(products, Store(redis.Redis(
            connection_pool=data.connection_pool)), DeadLetters(data),
            clock=lambda: T0 / 1000)
        for n, player in enumerate(players):
            rows = [joined(player, "league")] + [
                submitted("arcade", "league", player, 10 * writer + k) for k in range(3)]
            report = processor.process("arcade", "s", [
                (f"{T0 + n}-{writer * 100 + k}", raw(row)) for k, row in enumerate(rows)])
            assert report.applied == 4, report

    at_once(write)
    store, ranks = Store(data), Ranks(data)
    members = {p for p in players if store.joined("arcade", "league", p)}
    on_board = {p: ranks.standing("arcade", "league", p, records="league") for p in players}
    assert len(members) == 5
    assert {p for p, s in on_board.items() if s is not None} == members
    assert all(s.record is not None and s.record.submissions == 2
               for s in on_board.values() if s is not None)
    # the others' 4 joins each, and every submission past the 2 counted per member
    assert store.counters(["arcade"])["arcade"]["refused"] == 5 * 4 + (4 * 10 * 3 - 5 * 2)
