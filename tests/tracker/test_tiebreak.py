"""Boards that break ties by time (``tie_break = "earliest"``): of two equal scores,
the one reached first ranks first. Real Redis, both batch forms, period and bucket
boards, closing, erasure and the rebuild, each checked against brute force."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.ratings import game
from tests.support.varcade import game_over, raw
from tracker.closing import PeriodResults
from tracker.erasure import forget_players
from tracker.handlers import (
    EnsureOnBoard,
    IncrScore,
    KeepBest,
    SetScore,
    WinsLeaderboard,
)
from tracker.order import stored_ops
from tracker.periods import Period, PeriodKind, bucket_board, period_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, parse_products
from tracker.ranking import Position, TieMode
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, PreparedEvent, Ranks, Store
from tracker.tiebreak import SCORE_LIMIT, UNIT, board_of, check_ops, event_second, score_of

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example
# ms of the first game: an hour into this week, so that its period boards are kept
T0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms + 3_600_000
PLAYERS = ["ann", "bob", "cid", "dee", "eve"]

Game = tuple[str, str, int]  # winner, loser, seconds after T0


def entry_id(game_no: int, second: int, base_ms: int = T0) -> str:
    return f"{base_ms + second * 1000}-{game_no}"


def wins_standings(games: Sequence[Game]) -> list[tuple[str, float]]:
    """The wins board in board order, by brute force: score, then the second the player
    reached it (a loser joins at 0, with no time of its own), then user id descending."""
    score: dict[str, int] = {}
    since: dict[str, int] = {}
    for w, lo, t in games:
        score[w], since[w] = score.get(w, 0) + 1, t
        if lo not in score:
            score[lo], since[lo] = 0, -1
    order = sorted(sorted(score, reverse=True), key=lambda p: (-score[p], since[p]))
    return [(p, float(score[p])) for p in order]


def play(store: Store, games: Sequence[Game], batch: int, summed: bool,
         order: Sequence[int] | None = None) -> None:
    """Apply ``games`` in parts of ``batch``, in stream order or in the ``order`` of
    part numbers (concurrent workers may finish a later part first)."""
    handler = WinsLeaderboard()
    events = [PreparedEvent(entry_id(i, t), f"g{i}-{t}",
                            list(handler.ops(game(entry_id(i, t), w, lo))))
              for i, (w, lo, t) in enumerate(games)]
    parts = [events[i:i + batch] for i in range(0, len(events), batch)]
    for k in order if order is not None else range(len(parts)):
        store.apply("pong", "s", parts[k], summed=summed, earliest={"wins"})


@st.composite
def games_strategy(draw: Any) -> list[Game]:
    pairs = draw(st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                          .filter(lambda g: g[0] != g[1]), min_size=1, max_size=40))
    gaps = draw(st.lists(st.integers(0, 2), min_size=len(pairs), max_size=len(pairs)))
    seconds = [sum(gaps[:i + 1]) for i in range(len(pairs))]  # some games share a second
    return [(w, lo, t) for (w, lo), t in zip(pairs, seconds, strict=True)]


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURES)
@given(games=games_strategy(), batch=st.integers(1, 12), summed=st.booleans(),
       draw=st.data())
def test_equal_scores_rank_by_who_reached_them_first(
        data: redis.Redis, games: list[Game], batch: int, summed: bool,
        draw: st.DataObject) -> None:
    """In any order of parts: the stored time is the event's, not the application's."""
    data.flushdb()
    store, ranks = Store(data), Ranks(data)
    parts = range((len(games) + batch - 1) // batch)
    order = draw.draw(st.permutations(list(parts)), label="order of parts")
    play(store, games, batch, summed, order)
    expected = wins_standings(games)
    page = ranks.page("pong", "wins", 0, 100, earliest=True)
    assert list(page.rows) == expected
    scores = [s for _, s in expected]
    for ordinal, (player, score) in enumerate(expected, 1):
        mine = ranks.standing("pong", "wins", player, earliest=True)
        assert mine is not None
        assert (mine.score, mine.ordinal, mine.size) == (score, ordinal, len(expected))
        assert mine.rank(TieMode.COMPETITION) == 1 + sum(s > score for s in scores)
        assert mine.rank(TieMode.DENSE) == 1 + len({s for s in scores if s > score})
        assert mine.below == sum(s < score for s in scores)
    assert [e.rank for e in page.ranked(TieMode.COMPETITION)] == [
        1 + sum(s > score for s in scores) for score in scores]
    assert [e.rank for e in page.ranked(TieMode.ORDINAL)] == list(range(1, len(scores) + 1))
    assert ranks.size("pong", "wins").distinct_scores == len(set(scores))
    assert store.top("pong", "wins", 3, earliest=True) == expected[:3]
    before = {k: data.dump(k) for k in data.scan_iter("st:{pong}:lb:*")}
    play(store, games, batch, summed)  # a replay changes nothing, times included
    assert {k: data.dump(k) for k in data.scan_iter("st:{pong}:lb:*")} == before


def test_pages_resume_after_a_cursor_row_that_moved(data: redis.Redis) -> None:
    store, ranks = Store(data), Ranks(data)
    games = [("ann", "bob", 0), ("cid", "dee", 5), ("eve", "bob", 9), ("dee", "ann", 12)]
    play(store, games, 10, True)
    # wins: ann (1, second 0), cid (1, 5), eve (1, 9), dee (1, 12); bob (0, 0)
    first = ranks.page("pong", "wins", 0, 2, earliest=True)
    assert [u for u, _ in first.rows] == ["ann", "cid"]
    cursor = first.last
    assert cursor is not None and cursor.key is not None and score_of(cursor.key) == 1.0
    play(store, [("cid", "bob", 20)], 1, True)  # the cursor's own row moves to the top
    rest = ranks.after("pong", "wins", cursor, 10, earliest=True)
    assert list(rest.rows) == [("eve", 1.0), ("dee", 1.0), ("bob", 0.0)]  # none repeated
    assert (rest.start, rest.above, rest.dense_above) == (2, 1, 1)  # cid (2) and ann before
    # a cursor without the stored number (made before the board timed its ties) starts
    # at the first row of its score
    assert [u for u, _ in ranks.after("pong", "wins", Position(1.0, "zed"), 10,
                                      earliest=True).rows] == ["ann", "eve", "dee", "bob"]


def test_best_and_ascending_boards_keep_the_first_to_reach_a_score(
        store: Store, data: redis.Redis) -> None:
    """laps: lowest first, each player's best; an equal lap later changes nothing."""
    laps = [("ann", 61, 0), ("bob", 60, 3), ("cid", 60, 1), ("ann", 60, 7), ("bob", 60, 8),
            ("dee", 59, 9), ("cid", 60, 10)]
    events = [PreparedEvent(entry_id(i, t), "", stored_ops([KeepBest("laps", p, lap)],
                                                            {"laps"}))
              for i, (p, lap, t) in enumerate(laps)]
    parts = [events[i:i + 3] for i in range(0, len(events), 3)]
    for summed, order in ((True, [0, 1, 2]), (False, [0, 1, 2]), (True, [2, 1, 0]),
                          (False, [1, 2, 0])):  # parts in any order: the same board
        data.flushdb()
        for k in order:
            store.apply("race", "s", parts[k], summed=summed, earliest={"laps"})
        rows = Ranks(data).page("race", "laps", 0, 10, ascending=True, earliest=True).rows
        assert list(rows) == [("dee", 59.0), ("cid", 60.0), ("bob", 60.0), ("ann", 60.0)]
        _, tiers = Ranks(data).tiers("race", "laps", _tiers(), ascending=True, earliest=True)
        assert tiers == [(59.0, 1), (60.0, 3), (None, 0)]


def _tiers() -> Sequence[Any]:
    from tracker.tiers import parse_tiers
    return parse_tiers([{"name": "first", "rank": 1}, {"name": "sixty", "score": 60},
                        {"name": "rest"}], ascending=True)


def test_a_latest_board_dates_a_score_from_its_latest_submission(
        store: Store, data: redis.Redis) -> None:
    sets = [("ann", 5, 0), ("bob", 5, 2), ("ann", 5, 4), ("cid", 7, 5), ("cid", 5, 6)]
    events = [PreparedEvent(entry_id(i, t), "", [SetScore("lvl", p, score)])
              for i, (p, score, t) in enumerate(sets)]
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]):
        data.flushdb()
        for k in order:  # in any order, the latest second's score stays
            store.apply("g", "s", [events[k]], earliest={"lvl"})
        rows = Ranks(data).page("g", "lvl", 0, 10, earliest=True).rows
        assert list(rows) == [("bob", 5.0), ("ann", 5.0), ("cid", 5.0)]


# --- through the pipeline: configuration, periods, buckets, closing, erasure ------------


def config(**wins: Any) -> dict[str, Any]:
    return {"products": {"tennis": {"tie_break": "earliest", "handlers": [
        {"use": "wins", "periods": ["week"], "bucket_size": 2, "results_top": 10, **wins},
        "elo", "streak"]}}}


def tennis_entries(games: Sequence[Game], first_game: int = 0,
                   base_ms: int = T0) -> list[tuple[str, dict[bytes, bytes]]]:
    """``games`` as stream entries of product tennis, game ``i`` at its second."""
    return [(entry_id(i, t, base_ms), raw(game_over("tennis", w, lo, game_id=f"g{i}")))
            for i, (w, lo, t) in enumerate(games, first_game)]


def feed(products: Products, store: Store, data: redis.Redis, games: Sequence[Game],
         first_game: int = 0) -> Any:
    processor = BatchProcessor(products, store, DeadLetters(data), clock=lambda: T0 / 1000)
    return processor.process("tennis", "s", tennis_entries(games, first_game))


def test_configuration() -> None:
    product = parse_products(config())["tennis"]
    assert product.earliest == {"wins", "streak"}  # a product's setting skips ratings
    assert [(b.name, b.earliest) for b in product.boards] == [
        ("wins", True), ("elo", False), ("streak", True)]
    plain = parse_products({"products": {"g": {}}})["g"]
    assert not plain.earliest and not any(b.earliest for b in plain.boards)
    by_default = parse_products({"default": {"tie_break": "earliest"}, "products": {"g": {}}})
    assert by_default["g"].earliest == {"wins"}
    table = parse_products({"products": {"g": {"handlers": [
        {"use": "wins", "tie_break": "earliest"}, "streak"]}}})["g"]
    assert table.earliest == {"wins"}
    with pytest.raises(ConfigError, match="only points, best, latest and streak boards"):
        parse_products({"products": {"g": {"handlers": [{"use": "elo",
                                                          "tie_break": "earliest"}]}}})
    with pytest.raises(ConfigError, match="tie_break is one of"):
        parse_products({"products": {"g": {"tie_break": "first"}}})


def test_period_and_bucket_boards_break_ties_by_time(data: redis.Redis) -> None:
    products, store = parse_products(config()), Store(data)
    games = [("ann", "bob", 0), ("cid", "dee", 0), ("dee", "eve", 4), ("bob", "cid", 6),
             ("eve", "ann", 9), ("ann", "dee", 30)]
    report = feed(products, store, data, games)
    assert report.applied == len(games) and not report.dead_lettered
    expected = wins_standings(games)
    ranks = Ranks(data)
    assert list(ranks.page("tennis", "wins", 0, 10, earliest=True).rows) == expected
    week = period_board("wins", Period.containing(PeriodKind.WEEK, T0))
    assert list(ranks.page("tennis", week, 0, 10, earliest=True).rows) == expected
    bucket_of = {p: store.bucket_of("tennis", week, p) for p, _ in expected}
    for k in set(bucket_of.values()):
        rows = ranks.page("tennis", bucket_board(week, k), 0, 10, earliest=True).rows  # type: ignore[arg-type]
        assert list(rows) == [r for r in expected if bucket_of[r[0]] == k]
    streaks = ranks.page("tennis", "streak", 0, 10, earliest=True).rows
    # everyone's longest is 1, first reached by ann and cid in second 0 (the same
    # second: user ids descending), then dee, bob and eve; ann's later win reaches 1
    # again and changes nothing
    assert list(streaks) == [("cid", 1.0), ("ann", 1.0), ("dee", 1.0), ("bob", 1.0),
                             ("eve", 1.0)]
    elo = ranks.page("tennis", "elo", 0, 10).rows  # member order, unchanged scores
    assert all(1400 < s < 1600 for _, s in elo)

    # closing publishes and archives scores, not stored numbers, in competition ranks
    product = products["tennis"]
    board = product.board("wins")
    assert board is not None
    results = PeriodResults(data)
    assert results.close("tennis", board, Period.containing(PeriodKind.WEEK, T0)) >= 1
    top = next(r for r in results.read("tennis") if r.bucket is None).top
    assert [(r["user_id"], r["score"]) for r in top] == expected
    assert [r["rank"] for r in top] == [1 + sum(s > score for _, s in expected)
                                       for _, score in expected]


def test_erasure_and_rebuild_keep_the_tie_structures(data: redis.Redis) -> None:
    products, store = parse_products(config()), Store(data)
    games = [("ann", "bob", 0), ("cid", "dee", 2), ("ann", "eve", 4), ("bob", "cid", 6)]
    feed(products, store, data, games)
    ranks = Ranks(data)
    assert ranks.size("tennis", "wins").distinct_scores == 3  # 2, 1, 0
    forget_players(store, products["tennis"], ["ann"], T0)
    remaining = [r for r in wins_standings(games) if r[0] != "ann"]
    assert list(ranks.page("tennis", "wins", 0, 10, earliest=True).rows) == remaining
    size = ranks.size("tennis", "wins")
    assert (size.members, size.distinct_scores) == (4, 2)  # 1 (cid, bob) and 0 (dee, eve)
    counts = {k.decode(): int(v) for k, v in
              data.hgetall(Keys().board_counts("tennis", "wins")).items()}
    assert counts == {"1": 2, "0": 2}
    data.delete(Keys().board_scores("tennis", "wins"), Keys().board_counts("tennis", "wins"))
    rebuilt = ranks.reindex("tennis", "wins", earliest=True)
    assert (rebuilt.members, rebuilt.distinct_scores) == (4, 2)
    assert {k.decode(): int(v) for k, v in
            data.hgetall(Keys().board_counts("tennis", "wins")).items()} == counts


def test_a_value_the_board_cannot_hold_is_dead_lettered(data: redis.Redis) -> None:
    products, store = parse_products(config(points=0.5)), Store(data)
    report = feed(products, store, data, [("ann", "bob", 0)])
    assert report.applied == 0 and report.rejected
    (letter,) = DeadLetters(data).list()
    assert letter.reason == "handler_error" and "integers" in letter.detail
    assert not data.exists(Keys().board("tennis", "wins"))


def test_an_increment_past_the_limit_is_refused_before_any_write(store: Store,
                                                                 data: redis.Redis) -> None:
    high = float(SCORE_LIMIT - 2)
    store.apply("g", "s", [PreparedEvent(entry_id(0, 0), "", [IncrScore("wins", "ann", high)])],
                earliest={"wins"})
    before = {k: data.dump(k) for k in data.scan_iter("st:{g}:*")}
    for summed in (True, False):
        with pytest.raises(redis.ResponseError, match="breaks ties by time"):
            store.apply("g", "s", [
                PreparedEvent(entry_id(1, 1), "", [EnsureOnBoard("wins", "bob", 0.0)]),
                PreparedEvent(entry_id(2, 2), "", [IncrScore("wins", "ann", 1.0),
                                                   IncrScore("wins", "ann", 1.0)])],
                summed=summed, earliest={"wins"})
        assert {k: data.dump(k) for k in data.scan_iter("st:{g}:*")} == before


def test_the_encoding() -> None:
    assert event_second(f"{T0}-3") == T0 // 1000 - 1_577_836_800
    assert event_second("1000-0") == 0 and event_second("not-an-id") == 0
    assert event_second(f"{10**15}-0") == UNIT - 1
    assert board_of("wins:2026-W48:b3") == "wins"
    assert score_of(5 * UNIT + UNIT - 1) == 5.0 and score_of(-61 * UNIT + 7) == -61.0
    check_ops([IncrScore("wins", "a", 3.0), KeepBest("x", "a", 0.5)], {"wins"})
    for bad in (IncrScore("wins", "a", 0.5), SetScore("wins:2026-W48", "a", SCORE_LIMIT),
                EnsureOnBoard("wins", "a", float("nan"))):
        with pytest.raises(ValueError, match="integers of magnitude below 2,097,152"):
            check_ops([bad], {"wins"})


def test_concurrent_writers_give_the_board_of_event_order(settings: Settings) -> None:
    """Four writers (threads, each with its own connection) apply 60 parts of 10 games
    in whatever order they get to them, each part twice (a redelivery): the board is
    the brute-force one of event order, every score and every time."""
    rng = random.Random(3)
    games: list[Game] = []
    second = 0
    crowd = [f"u{i:02}" for i in range(40)]  # few wins each: many equal scores
    for _ in range(600):
        w, lo = rng.sample(crowd, 2)
        second += rng.choice([0, 0, 1, 2])
        games.append((w, lo, second))
    handler = WinsLeaderboard()
    events = [PreparedEvent(entry_id(i, t), f"g{i}", list(handler.ops(game(entry_id(i, t), w,
                                                                            lo))))
              for i, (w, lo, t) in enumerate(games)]
    todo: queue.Queue[list[PreparedEvent]] = queue.Queue()
    parts = [events[i:i + 10] for i in range(0, len(events), 10)] * 2
    rng.shuffle(parts)
    for part in parts:
        todo.put(part)

    def writer(summed: bool) -> None:
        store = Store(redis.Redis.from_url(settings.redis_url))
        while True:
            try:
                part = todo.get_nowait()
            except queue.Empty:
                return
            store.apply("pong", "s", part, summed=summed, earliest={"wins"})

    threads = [threading.Thread(target=writer, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    data = redis.Redis.from_url(settings.redis_url)
    expected = wins_standings(games)
    assert len({s for _, s in expected}) < len(expected) / 2  # ties to break
    assert list(Ranks(data).page("pong", "wins", 0, 100, earliest=True).rows) == expected
    assert int(data.hget(Keys().counters("pong"), "applied") or 0) == len(games)
