"""Scores that games submit themselves (``type = "score"``) and the ``score`` handler:
the schema, the configuration, and boards of each operator on a real Redis, checked
against brute force in both batch forms; a score for a board nobody keeps is
dead-lettered, not lost."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.handlers import EventsForm
from tests.support.varcade import EID, raw, reject, submitted
from tracker.erasure import forget_players
from tracker.events import parse_entry
from tracker.handlers import (
    Decrement,
    KeepBest,
    ScoreLeaderboard,
    SetMetadata,
    SetScore,
    Submitted,
)
from tracker.handlers.base import IncrScore
from tracker.periods import Period, PeriodKind, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.ranking import Record
from tracker.storage import DeadLetters, Keys, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms + 3_600_000
WEEK = Period.containing(PeriodKind.WEEK, T0)
PLAYERS = ["ann", "bob", "cid", "dee"]

# board, player, score, seconds after T0, its metadata {"n": k} (None: none) and the
# operator it says it is applied with (None: the board's)
Submission = tuple[str, str, int, int, int | None, str | None]


# --- the event ---------------------------------------------------------------------


@pytest.mark.parametrize("score", ["0", "42", "-7", "61.25", "-0.5", "999999999999999",
                                   "0.30000000000000004"])
def test_a_score_event_is_valid(score: str) -> None:
    event = parse_entry(EID, raw(submitted("snake", "high_score", "ann", score)))
    assert (event.type, event.event_name, event.game_id) == ("score", None, None)
    assert (event["board"], event["user_id"], event["score"]) == ("high_score", "ann", score)
    with_game = parse_entry(EID, raw({**submitted("snake", "b", "ann", score), "game_id": "g1"}))
    assert with_game.game_id == "g1"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("score", "1e5", "score: Not a decimal number"),
    ("score", "NaN", "score: Not a decimal number"),
    ("score", "inf", "score: Not a decimal number"),
    ("score", " 1", "score: Not a decimal number"),
    ("score", "1.", "score: Not a decimal number"),
    ("score", "\u0663", "score: Not a decimal number"),  # an Arabic-Indic 3: float() takes it
    ("score", "1234567890123456", "score: Not a decimal number"),  # not exact in a double
    ("board", "a:b", "board: Not a board name"),
    ("board", "", "board: Not a board name"),
    ("user_id", "null", "user_id: Missing id"),
    ("operator", "max", "operator: Must be one of: best, latest, sum, decr."),
    ("operator", "", "operator: Must be one of"),
    ("metadata", "", "metadata: Not JSON"),
    ("metadata", "{", "metadata: Not JSON"),
    ("metadata", '["red"]', "metadata: Not a JSON object"),
    ("metadata", '{"t": NaN}', "metadata: Not JSON: NaN is not JSON"),
    ("metadata", '{"t": 1e999}', "metadata: Not JSON: number 1e999 is out of range"),
    ("metadata", '{"t": "\\ud800"}', "metadata: A string in it is not valid Unicode"),
    ("metadata", '{"a": ' + "[" * 8 + "1" + "]" * 8 + "}", "metadata: Nested deeper than 8"),
    ("metadata", "[" * 3000, "metadata: Longer than maximum length 2048"),
])
def test_a_bad_score_event_says_which_field(field: str, value: str, message: str) -> None:
    error = reject(raw({**submitted("snake", "high_score", "ann", 1), field: value}))
    assert error.reason == "invalid_fields" and message in error.detail


@pytest.mark.parametrize("metadata", ['{}', '{"car": "red", "laps": [61.5, 60], "ok": true}',
                                      '{"name": "Zoë", "deep": {"a": {"b": [1, null]}}}',
                                      '{"a": ' + "[" * 7 + "1" + "]" * 7 + "}",  # 8 deep
                                      '{"a": "' + "x" * 2000 + '"}'])
def test_a_score_may_carry_a_json_object_as_metadata(metadata: str) -> None:
    event = parse_entry(EID, raw(submitted("snake", "b", "ann", 1, metadata=metadata)))
    assert event["metadata"] == metadata  # kept as submitted


def test_a_score_event_needs_board_user_and_score() -> None:
    for field in ("board", "user_id", "score"):
        row = {k: v for k, v in submitted("snake", "high_score", "ann", 1).items() if k != field}
        error = reject(raw(row))
        assert (error.reason, error.detail) == ("invalid_fields",
                                                f"{field}: Missing data for required field.")


# --- the handler and its configuration ----------------------------------------------


def test_each_operator_gives_its_op_and_board_kind() -> None:
    event = parse_entry(EID, raw(submitted("snake", "b", "ann", "61.25")))
    meta = '{"car": "red"}'
    with_meta = parse_entry(EID, raw({**submitted("snake", "b", "ann", "61.25"),
                                      "metadata": meta}))
    counted = Submitted("b", "ann", event.time_ms)  # every submission counts on its record
    for operator, op, kind in [("best", KeepBest, "best"), ("latest", SetScore, "latest")]:
        handler = ScoreLeaderboard("b", operator)
        assert [(b.kind, b.records) for b in handler.boards] == [(kind, True)]
        # the record is the submission: without metadata, it clears the board's ("")
        assert list(handler.ops(event)) == [op("b", "ann", 61.25, ""), counted]
        assert list(handler.ops(with_meta)) == [op("b", "ann", 61.25, meta), counted]
        assert list(ScoreLeaderboard("other", operator).ops(event)) == []
    handler = ScoreLeaderboard("b", "sum")
    assert [(b.kind, b.records) for b in handler.boards] == [("points", True)]
    assert list(handler.ops(event)) == [IncrScore("b", "ann", 61.25), counted]
    assert list(handler.ops(with_meta)) == [IncrScore("b", "ann", 61.25),
                                            SetMetadata("b", "ann", meta), counted]
    assert list(ScoreLeaderboard("other", "sum").ops(event)) == []
    # a submission's own operator wins over its board's (a correction: latest)
    for operator, op in [("best", KeepBest), ("latest", SetScore)]:
        told = parse_entry(EID, raw(submitted("snake", "b", "ann", 3, operator=operator)))
        assert list(handler.ops(told)) == [op("b", "ann", 3.0, ""), counted]
    told = parse_entry(EID, raw(submitted("snake", "b", "ann", 3, operator="sum")))
    assert list(ScoreLeaderboard("b", "best").ops(told)) == [IncrScore("b", "ann", 3.0), counted]
    told = parse_entry(EID, raw(submitted("snake", "b", "ann", 3, operator="decr")))
    assert list(ScoreLeaderboard("b", "best").ops(told)) == [Decrement("b", "ann", 3.0), counted]
    lives = ScoreLeaderboard("b", "decr")  # Nakama's decr: a points board, never below 0
    assert [(b.kind, b.records) for b in lives.boards] == [("points", True)]
    assert list(lives.ops(with_meta)) == [Decrement("b", "ann", 61.25),
                                          SetMetadata("b", "ann", meta), counted]
    with pytest.raises(ValueError, match="a decrement takes a score off"):
        list(lives.ops(parse_entry(EID, raw(submitted("snake", "b", "ann", -1)))))
    error = reject(raw(submitted("snake", "b", "ann", -1, operator="decr")))
    assert error.reason == "invalid_fields" and "score: A decrement takes" in error.detail


def test_the_configuration_checks_the_operator_and_board() -> None:
    for spec, message in [({"use": "score", "operator": "max"}, "operator is one of"),
                          ({"use": "score", "board": "a:b"}, "board is a board name"),
                          ({"use": "score", "board": "b", "k": 3}, "unexpected keyword")]:
        with pytest.raises(ConfigError, match=message):
            parse_products({"products": {"g": {"handlers": [spec]}}})
    with pytest.raises(ConfigError, match="two handlers write the same board"):
        parse_products({"products": {"g": {"handlers": [
            {"use": "score", "board": "b"}, {"use": "score", "board": "b", "operator": "sum"}]}}})
    plain = parse_products({"products": {"g": {"handlers": ["score"]}}})["g"]
    assert [(b.name, b.kind) for b in plain.boards] == [("score", "best")]


# --- boards on a real Redis, against brute force --------------------------------------


def brute_force(subs: Sequence[Submission], board: str, operator: str, *,
                ascending: bool) -> tuple[dict[str, int], dict[str, int], dict[str, Record]]:
    """Each player's score on ``board``, the second it reached it, and its record, by brute
    force, each submission applied as its own operator says or else as the board's:

    - best: the score changes only when beaten, and then the record's metadata too;
    - latest: the score and the metadata are the submission's;
    - sum: the score adds up (its second: the latest non-zero submission, or the first if
      all were 0), the metadata is the latest given;
    - decr: the score less the submission, never below 0 (its second: when it last
      changed, or its first if it never did), the metadata as a sum's;

    and every submission counts on the record, with its time."""
    score: dict[str, int] = {}
    since: dict[str, int] = {}
    kept: dict[str, Record] = {}
    for b, player, value, t, k, override in subs:  # in event order
        if b != board:
            continue
        at = T0 + t * 1000
        old = kept.get(player, Record(0, at, at))
        record = Record(old.submissions + 1, min(old.first_at, at), max(old.last_at, at),
                        old.metadata)
        does = override or operator
        if does == "decr":
            moved = max(0, score.get(player, 0) - value)
            if player not in score or moved != score[player]:
                score[player], since[player] = moved, t
            if k is not None:
                record = dataclasses.replace(record, metadata=metadata(k))
        elif does == "sum":
            if value or player not in score:
                since[player] = t
            score[player] = score.get(player, 0) + value
            if k is not None:
                record = dataclasses.replace(record, metadata=metadata(k))
        elif does == "latest" or player not in score or (
                value < score[player] if ascending else value > score[player]):
            score[player], since[player] = value, t
            record = dataclasses.replace(record, metadata=metadata(k))
        kept[player] = record
    return score, since, kept


def standings(subs: Sequence[Submission], board: str, operator: str, *, ascending: bool,
              earliest: bool) -> list[tuple[str, float]]:
    """The board in board order, by brute force. ``earliest``: equal scores by the second
    the player reached its score, then user id descending as on every board."""
    score, since, _ = brute_force(subs, board, operator, ascending=ascending)
    sign = 1 if ascending else -1
    order = sorted(sorted(score, reverse=True),
                   key=lambda p: (sign * score[p], since[p] if earliest else 0))
    return [(p, float(score[p])) for p in order]


def metadata(k: int | None) -> str | None:
    return None if k is None else f'{{"n": {k}}}'


def records(subs: Sequence[Submission], board: str, operator: str, *,
            ascending: bool) -> dict[str, Record]:
    """Each player's record, by brute force (:func:`brute_force`)."""
    return brute_force(subs, board, operator, ascending=ascending)[2]


SNAKE = {"tie_break": "earliest", "handlers": [
    {"use": "score", "board": "high_score", "periods": ["week"]},
    {"use": "score", "board": "total", "operator": "sum"},
    {"use": "score", "board": "lap", "operator": "latest", "order": "asc",
     "tie_break": "member"},
]}
BOARDS = {"high_score": ("best", False, True), "total": ("sum", False, True),
          "lap": ("latest", True, False)}  # board -> operator, ascending, earliest


def snake() -> Products:
    return parse_products({"products": {"snake": SNAKE}})


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(subs=st.lists(st.tuples(st.sampled_from(sorted(BOARDS)), st.sampled_from(PLAYERS),
                               st.integers(-3, 5), st.integers(0, 40),
                               st.none() | st.integers(0, 3),
                               st.sampled_from([None, None, None, "best", "latest", "sum",
                                                "decr"])),
                     min_size=1, max_size=40).map(
           lambda subs: [(b, p, abs(v) if o == "decr" else v, t, k, o)  # (not negative)
                         for b, p, v, t, k, o in subs]),
       batch=st.integers(1, 12), summed=st.booleans())
def test_every_operator_matches_brute_force(data: redis.Redis, subs: list[Submission],
                                           batch: int, summed: bool) -> None:
    """Scores, order and each record (submissions, times, metadata), with submissions
    that override their board's operator among them."""
    data.flushdb()
    subs.sort(key=lambda s: s[3])  # entry ids follow time, as the stream's do
    entries = [(f"{T0 + t * 1000}-{i}", raw(submitted("snake", b, p, v, metadata=metadata(k),
                                                      operator=o)))
               for i, (b, p, v, t, k, o) in enumerate(subs)]
    processor = BatchProcessor(snake(), Store(data) if summed else EventsForm(data),
                               DeadLetters(data), clock=lambda: T0 / 1000)
    for i in range(0, len(entries), batch):
        report = processor.process("snake", "s", entries[i:i + batch])
        assert not report.dead_lettered and report.applied == len(entries[i:i + batch])
    ranks = Ranks(data)
    for board, (operator, ascending, earliest) in BOARDS.items():
        expected = standings(subs, board, operator, ascending=ascending, earliest=earliest)
        page = ranks.page("snake", board, 0, 100, ascending=ascending, earliest=earliest,
                          records=board)
        assert page.rows == expected, board
        assert page.records is not None
        kept = dict(zip([m for m, _ in page.rows], page.records, strict=True))
        assert kept == records(subs, board, operator, ascending=ascending), board
    weekly = period_board("high_score", WEEK)
    week = ranks.page("snake", weekly, 0, 100, earliest=True, records=weekly)
    assert week.rows == standings(subs, "high_score", "best", ascending=False, earliest=True)
    assert dict(zip([m for m, _ in week.rows], week.records or [], strict=True)) == \
        records(subs, "high_score", "best", ascending=False)
    keys = Keys()
    expires = data.pexpiretime(keys.board("snake", weekly))
    assert data.pexpiretime(keys.board_submissions("snake", weekly)) in (-2, expires)
    assert data.pexpiretime(keys.board_metadata("snake", weekly)) in (-2, expires)
    before = {b: ranks.page("snake", b, 0, 100, records=b) for b in BOARDS}
    processor.process("snake", "s", entries)  # a redelivery changes nothing, counts included
    assert {b: ranks.page("snake", b, 0, 100, records=b) for b in BOARDS} == before


def test_a_score_nobody_keeps_is_dead_lettered_and_replayed_once_kept(
        data: redis.Redis) -> None:
    letters = DeadLetters(data)
    processor = BatchProcessor(snake(), Store(data), letters)
    report = processor.process("snake", "s", [
        ("1-0", raw(submitted("snake", "high_score", "ann", 7))),
        ("1-1", raw(submitted("snake", "hi_score", "bob", 9))),  # a typo of the game's
        ("1-2", raw(submitted("snake", "total", "bob", "2.5"))),  # a fraction: the board breaks
    ])                                                          # ties by time (integers)
    assert report.applied == 1 and report.rejected == {"1-1": "unknown_board",
                                                       "1-2": "handler_error"}
    found = {d.entry_id: d for d in letters.list()}
    assert found["1-1"].detail == "product 'snake' keeps no scores on board 'hi_score'"
    assert found["1-1"].fields[b"score"] == b"9"  # the original, byte for byte
    assert "2^21" in found["1-2"].detail or "integer" in found["1-2"].detail

    fixed = parse_products({"products": {"snake": {**SNAKE, "handlers": [
        *SNAKE["handlers"], {"use": "score", "board": "hi_score"}]}}})  # type: ignore[list-item]
    assert BatchProcessor(fixed, Store(data), letters).replay(found["1-1"]) == "applied"
    for board, user, score in [("hi_score", "bob", 9), ("high_score", "ann", 7)]:
        assert Ranks(data).standing("snake", board, user, earliest=True).score == score


def test_a_sum_that_comes_back_to_its_score_was_reached_at_its_latest_change(
        data: redis.Redis) -> None:
    """ann is at 0, then gains 2 and loses them again after bob joined at 0: ann reached
    0 last, however the events were batched (summed up, a part's net change is 0)."""
    first = [(f"{T0}-0", raw(submitted("snake", "total", "ann", 0)))]
    rest = [(f"{T0 + 3000}-0", raw(submitted("snake", "total", "bob", 0))),
            (f"{T0 + 4000}-0", raw(submitted("snake", "total", "ann", 2))),
            (f"{T0 + 5000}-0", raw(submitted("snake", "total", "ann", -2)))]
    for batch in (1, 3):
        for store in (Store(data), EventsForm(data)):
            data.flushdb()
            processor = BatchProcessor(snake(), store, DeadLetters(data))
            for part in [first] + [rest[i:i + batch] for i in range(0, 3, batch)]:
                assert processor.process("snake", "s", part).applied == len(part)
            rows = Ranks(data).page("snake", "total", 0, 10, earliest=True).rows
            assert rows == [("bob", 0.0), ("ann", 0.0)], (batch, type(store).__name__)


def test_forgetting_a_player_removes_its_records(data: redis.Redis) -> None:
    processor = BatchProcessor(snake(), Store(data), DeadLetters(data), clock=lambda: T0 / 1000)
    report = processor.process("snake", "s", [
        (f"{T0}-{i}", raw(submitted("snake", board, user, 5, metadata=f'{{"by": "{user}"}}')))
        for i, (board, user) in enumerate([("high_score", "ann"), ("high_score", "bob"),
                                           ("total", "ann"), ("lap", "ann")])])
    assert report.applied == 4
    keys = Keys()
    weekly = period_board("high_score", WEEK)
    hashes = [key("snake", b) for b in ("high_score", weekly, "total", "lap")
              for key in (keys.board_metadata, keys.board_submissions)]
    assert all(data.hexists(h, "ann") for h in hashes)
    forgotten = forget_players(Store(data), snake()["snake"], ["ann"], T0)[0]
    assert forgotten.boards == 4
    assert not any(data.hexists(h, "ann") for h in hashes)
    assert data.hget(keys.board_metadata("snake", weekly), "bob") == b'{"by": "bob"}'


def test_a_records_times_hold_when_parts_come_out_of_order(data: redis.Redis) -> None:
    """A part in flight may be applied after a later one: the first time stays the least,
    the last the greatest, and each submission counts once, in both batch forms."""
    late, early = [[(f"{T0 + s * 1000}-{i}", raw(submitted("snake", board, "ann", 5)))
                    for i, board in enumerate(("high_score", "total"))] for s in (30, 10)]
    for store in (Store(data), EventsForm(data)):
        data.flushdb()
        processor = BatchProcessor(snake(), store, DeadLetters(data), clock=lambda: T0 / 1000)
        for part in (late, early, late):  # the last: a redelivery
            processor.process("snake", "s", part)
        for board in ("high_score", "total", period_board("high_score", WEEK)):
            found = Ranks(data).standing("snake", board, "ann", earliest=True, records=board)
            assert found is not None and found.record == Record(2, T0 + 10_000, T0 + 30_000)


def test_a_decrement_stops_at_zero_on_boards_of_either_order(data: redis.Redis) -> None:
    """Nakama's decr on a highest-first board kept by time, and on a lowest-first one
    (kept negated), in both batch forms: the score goes down, never below 0."""
    rows = [("high_score", "ann", 7, None), ("high_score", "ann", 3, "decr"),
            ("high_score", "ann", 9, "decr"), ("lap", "ann", 5, "latest"),
            ("lap", "ann", 2, "decr"), ("lap", "bob", 2, "latest"), ("lap", "bob", 5, "decr")]
    for batch in (1, len(rows)):
        for store in (Store(data), EventsForm(data)):
            data.flushdb()
            processor = BatchProcessor(snake(), store, DeadLetters(data),
                                       clock=lambda: T0 / 1000)
            entries = [(f"{T0 + i * 1000}-0", raw(submitted("snake", b, u, v, operator=o)))
                       for i, (b, u, v, o) in enumerate(rows)]
            for i in range(0, len(entries), batch):
                assert processor.process("snake", "s", entries[i:i + batch]).applied == \
                    len(entries[i:i + batch])
            # 7 - 3 = 4, then 4 - 9 stops at 0; laps: 5 - 2 = 3, and 2 - 5 stops at 0
            assert [found.score if found else None for found in (
                Ranks(data).standing("snake", "high_score", "ann", earliest=True),
                Ranks(data).standing("snake", "lap", "ann", ascending=True),
                Ranks(data).standing("snake", "lap", "bob", ascending=True))] == [0, 3, 0]
