"""Rank reads (tracker.storage.Ranks) on boards written by the real batch script.

Every check compares with a brute-force ranking of the board's actual content,
computed here in Python, under all three tie modes.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, Op
from tracker.ranking import Position, TieMode
from tracker.settings import Settings
from tracker.storage import Keys, PreparedEvent, Ranks, Store

# Members whose byte order differs from most locales' collation order.
MEMBERS = ["a", "B", "b", "ab", "a b", "Z", "é", "émile", "Ω", "0", "10", "9", "x" * 40]
BOARD = "wins"
FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example

Board = dict[str, float]


def order(board: Board) -> list[tuple[str, float]]:
    """Board order: score descending, then member bytes descending (ZREVRANGE)."""
    return sorted(board.items(), key=lambda kv: (kv[1], kv[0].encode()), reverse=True)


def brute_rank(board: Board, user: str, ties: TieMode) -> int:
    score = board[user]
    if ties is TieMode.ORDINAL:
        return [u for u, _ in order(board)].index(user) + 1
    if ties is TieMode.COMPETITION:
        return 1 + sum(1 for s in board.values() if s > score)
    return 1 + len({s for s in board.values() if s > score})


def read_board(data: redis.Redis, product: str = "pong") -> Board:
    rows = data.zrange(Keys().board(product, BOARD), 0, -1, withscores=True)
    return {m.decode(): float(s) for m, s in rows}


def check_tie_structures(data: redis.Redis, board: Board, product: str = "pong") -> None:
    """The companion set and hash say exactly what the board holds."""
    keys = Keys()
    counts = Counter(board.values())
    raw = data.hgetall(keys.board_counts(product, BOARD))
    assert {float(k): int(v) for k, v in raw.items()} == dict(counts)
    distinct = data.zrange(keys.board_scores(product, BOARD), 0, -1, withscores=True)
    assert sorted(float(s) for _, s in distinct) == sorted(counts)
    assert all(float(m) == s for m, s in distinct)


ops = st.lists(
    st.one_of(
        st.builds(IncrScore, st.just(BOARD), st.sampled_from(MEMBERS),
                  st.integers(-3, 3).map(float)),
        st.builds(EnsureOnBoard, st.just(BOARD), st.sampled_from(MEMBERS),
                  st.sampled_from([0.0, -0.0, 1.0, 2.5])),
        st.builds(EloResult, st.just(BOARD), st.sampled_from(MEMBERS), st.sampled_from(MEMBERS),
                  st.just(32.0), st.sampled_from([0.0, 1.0])),
    ),
    min_size=1, max_size=60,
)


def apply(store: Store, batches: Sequence[Sequence[Op]], first: int = 0) -> None:
    for b, batch in enumerate(batches):
        events = [PreparedEvent(f"{1_700_000_000_000 + first + b}-{i}", "", [op])
                  for i, op in enumerate(batch)]
        store.apply("pong", "s", events)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(batches=st.lists(ops, min_size=1, max_size=3), limit=st.integers(1, 7))
def test_ranks_pages_and_windows_match_brute_force(data: redis.Redis, store: Store,
                                                   batches: list[list[Op]], limit: int) -> None:
    data.flushdb()
    apply(store, batches)
    board = read_board(data)
    check_tie_structures(data, board)
    ranks = Ranks(data)
    assert ranks.size("pong", BOARD).members == len(board)
    assert ranks.size("pong", BOARD).distinct_scores == len(set(board.values()))
    ordered = order(board)

    for user in board:
        standing = ranks.standing("pong", BOARD, user)
        assert standing is not None and standing.score == board[user]
        for ties in TieMode:
            assert standing.rank(ties) == brute_rank(board, user, ties), (user, ties)
        below = sum(1 for s in board.values() if s < board[user])
        assert standing.percentile == pytest.approx(100 * below / len(board))

        window = ranks.around("pong", BOARD, user, limit)
        assert window is not None
        assert len(window.rows) == min(limit, len(board))
        assert (user, board[user]) in window.rows
        assert list(window.rows) == ordered[window.start:window.start + len(window.rows)]
        for ties in TieMode:
            assert [e.rank for e in window.ranked(ties)] == [
                brute_rank(board, u, ties) for u, _ in window.rows]

    asked = [*list(board)[::2], "nobody"]  # several players at once, in board order
    size, found = ranks.standings("pong", BOARD, asked)
    assert size == len(board)
    assert [(p.user_id, p.score) for p in found] == [row for row in ordered if row[0] in asked]
    for ties in TieMode:
        assert [p.rank(ties) for p in found] == [brute_rank(board, p.user_id, ties)
                                                 for p in found]
    assert [p.below for p in found] == [sum(1 for s in board.values() if s < p.score)
                                        for p in found]

    for ties in TieMode:  # offset pages and keyset pages walk the same order
        seen: list[tuple[str, float]] = []
        page = ranks.page("pong", BOARD, 0, limit)
        while page.rows:
            assert page.start == len(seen)
            assert [e.rank for e in page.ranked(ties)] == [
                brute_rank(board, u, ties) for u, _ in page.rows]
            seen += page.rows
            last = page.last
            assert last is not None
            page = ranks.after("pong", BOARD, last, limit)
        assert seen == ordered
    for i, (user, score) in enumerate(ordered):  # previous pages: the rows just before
        back = ranks.before("pong", BOARD, Position(score, user), limit)
        assert (back.start, list(back.rows)) == (max(0, i - limit), ordered[max(0, i - limit):i])
        for ties in TieMode:
            assert [e.rank for e in back.ranked(ties)] == [
                brute_rank(board, u, ties) for u, _ in back.rows]
    assert ranks.standing("pong", BOARD, "nobody") is None
    assert ranks.around("pong", BOARD, "nobody", 3) is None


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(before=ops, during=st.lists(ops, min_size=1, max_size=4), limit=st.integers(1, 4),
       backward=st.booleans())
def test_keyset_paging_stays_correct_while_scores_change(
        data: redis.Redis, store: Store, before: list[Op], during: list[list[Op]],
        limit: int, backward: bool) -> None:
    """Members whose score never changed are listed once each, in order, with no gap,
    paging forward from the top or back from the last page."""
    data.flushdb()
    apply(store, [before])
    ranks = Ranks(data)
    touched: set[str] = set()
    listed: list[tuple[str, float]] = []
    size = ranks.size("pong", BOARD).members
    page = ranks.page("pong", BOARD, max(0, size - limit) if backward else 0, limit)
    writes = iter(during)
    while page.rows:
        listed = [*page.rows, *listed] if backward else [*listed, *page.rows]
        batch = next(writes, None)
        if batch is not None:  # scores change between two page reads
            touched |= {m for op in batch for m in members_of(op)}
            apply(store, [batch], first=1000 + len(listed))
        end = page.first if backward else page.last
        assert end is not None
        page = (ranks.before if backward else ranks.after)("pong", BOARD, end, limit)
    final = read_board(data)
    stable = [(u, s) for u, s in order(final) if u not in touched]
    listed_stable = [(u, s) for u, s in listed if u not in touched]
    assert listed_stable == stable


def members_of(op: Op) -> set[str]:
    if isinstance(op, EloResult):
        return {op.winner, op.loser}
    assert isinstance(op, IncrScore | EnsureOnBoard)
    return {op.member}


def test_after_a_position_that_left_the_board(data: redis.Redis, store: Store) -> None:
    apply(store, [[IncrScore(BOARD, m, s) for m, s in
                   [("a", 5), ("b", 3), ("c", 3), ("d", 3), ("e", 1)]]])
    ranks = Ranks(data)
    # "c" scored 3 when the page ended; then it moved up: the next page still
    # starts right after where (3, "c") was, i.e. with "b".
    apply(store, [[IncrScore(BOARD, "c", 10)]], first=1)
    assert [u for u, _ in ranks.after("pong", BOARD, Position(3.0, "c"), 10).rows] == ["b", "e"]
    # a position between two members that never existed
    assert [u for u, _ in ranks.after("pong", BOARD, Position(3.0, "bb"), 10).rows] == ["b", "e"]
    assert [u for u, _ in ranks.after("pong", BOARD, Position(4.0, "zz"), 10).rows] == [
        "d", "b", "e"]
    assert ranks.after("pong", BOARD, Position(-1.0, "a"), 10).rows == []
    with pytest.raises(ValueError):
        ranks.after("pong", BOARD, Position(float("inf"), "a"), 10)
    # and the page before such a place ends right before it: c (10) and a (5), then d
    # (3, greater bytes than "c") come before where (3, "c") was
    assert [u for u, _ in ranks.before("pong", BOARD, Position(3.0, "c"), 10).rows] == [
        "c", "a", "d"]
    assert [u for u, _ in ranks.before("pong", BOARD, Position(3.0, "c"), 2).rows] == ["a", "d"]
    assert ranks.before("pong", BOARD, Position(99.0, "a"), 10).rows == []


def test_documented_example(data: redis.Redis, store: Store) -> None:
    apply(store, [[IncrScore(BOARD, m, s) for m, s in
                   [("w", 100), ("x", 90), ("y", 90), ("z", 80)]]])
    ranks = Ranks(data)
    page = ranks.page("pong", BOARD, 0, 10)
    assert [e.rank for e in page.ranked(TieMode.ORDINAL)] == [1, 2, 3, 4]
    assert [e.rank for e in page.ranked(TieMode.COMPETITION)] == [1, 2, 2, 4]
    assert [e.rank for e in page.ranked(TieMode.DENSE)] == [1, 2, 2, 3]
    assert [e.user_id for e in page.ranked(TieMode.DENSE)] == ["w", "y", "x", "z"]


def test_reindex_rebuilds_what_the_writes_keep(data: redis.Redis, store: Store) -> None:
    apply(store, [[IncrScore(BOARD, f"p{i}", float(i % 7)) for i in range(500)],
                  [EloResult(BOARD, f"p{i}", f"p{i + 1}", 32.0, 0.0) for i in range(0, 100, 3)]])
    keys = Keys()
    counts, scores = keys.board_counts("pong", BOARD), keys.board_scores("pong", BOARD)

    def content() -> tuple[object, object]:
        return data.hgetall(counts), data.zrange(scores, 0, -1, withscores=True)

    before = content()
    data.delete(counts, scores)
    data.zadd(keys.board("pong", BOARD), {"late": -0.0})  # written before the structures
    size = Ranks(data).reindex("pong", BOARD)
    board = read_board(data)
    assert (size.members, size.distinct_scores) == (len(board), len(set(board.values())))
    check_tie_structures(data, board)
    data.zrem(keys.board("pong", BOARD), "late")
    Ranks(data).reindex("pong", BOARD)
    assert content() == before


def test_minus_zero_and_zero_are_one_score(data: redis.Redis, store: Store) -> None:
    apply(store, [[EnsureOnBoard(BOARD, "a", -0.0), EnsureOnBoard(BOARD, "b", 0.0),
                   IncrScore(BOARD, "c", 1.0), IncrScore(BOARD, "c", -1.0)]])
    assert data.hgetall(Keys().board_counts("pong", BOARD)) == {b"0": b"3"}
    standing = Ranks(data).standing("pong", BOARD, "a")
    assert standing is not None and standing.rank(TieMode.DENSE) == 1


def test_reads_stay_consistent_under_concurrent_batches(data: redis.Redis, store: Store) -> None:
    """A writer moves points between players (the total never changes) while we read.

    Every page, and every list of players' standings, is one atomic read, so its rows
    always sum to the total; and the tie structures, read in the same MULTI as the
    board, always match it.
    """
    players = [f"p{i}" for i in range(30)]
    apply(store, [[IncrScore(BOARD, p, 10.0) for p in players]])
    total = 10.0 * len(players)
    stop = threading.Event()

    def writer() -> None:
        rng = random.Random(1)
        client = redis.Redis(connection_pool=data.connection_pool)
        writes = Store(client)
        n = 0
        while not stop.is_set():
            n += 1
            moves: list[Op] = []
            for _ in range(20):
                a, b = rng.sample(players, 2)
                moves += [IncrScore(BOARD, a, -1.0), IncrScore(BOARD, b, 1.0)]
            writes.apply("pong", "s", [PreparedEvent(f"{1_800_000_000_000 + n}-0", "", moves)])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        ranks, keys = Ranks(data), Keys()
        for _ in range(200):
            page = ranks.page("pong", BOARD, 0, 100)
            assert sum(s for _, s in page.rows) == total and page.size == len(players)
            dense = [e.rank for e in page.ranked(TieMode.DENSE)]
            scores = [s for _, s in page.rows]
            assert dense == [1 + len({x for x in scores if x > s}) for s in scores]
            size, everyone = ranks.standings("pong", BOARD, players)  # one moment, too
            assert size == len(everyone) == len(players)
            assert sum(p.score for p in everyone) == total
            assert [p.ordinal for p in everyone] == list(range(1, size + 1))
            pipe = data.pipeline(transaction=True)
            pipe.zrange(keys.board("pong", BOARD), 0, -1, withscores=True)
            pipe.hgetall(keys.board_counts("pong", BOARD))
            pipe.zrange(keys.board_scores("pong", BOARD), 0, -1, withscores=True)
            board_rows, counts, distinct = pipe.execute()
            tally = Counter(s for _, s in board_rows)
            assert {float(k): int(v) for k, v in counts.items()} == dict(tally)
            assert sorted(s for _, s in distinct) == sorted(tally)
    finally:
        stop.set()
        thread.join(10)


def test_one_connection_reads_survive_a_script_flush_and_a_lost_connection(
        settings: Settings, data: redis.Redis, store: Store) -> None:
    """The read API's single-connection client sends EVALSHA itself: a Redis that lost its
    scripts gets the script again, and a dropped connection fails one read, not the next."""
    apply(store, [[IncrScore("wins", "a", 2.0), IncrScore("wins", "b", 1.0)]])
    client = redis.Redis.from_url(settings.redis_url, single_connection_client=True)
    ranks = Ranks(client)
    assert ranks.standing("pong", "wins", "b").ordinal == 2  # type: ignore[union-attr]
    data.script_flush()
    assert ranks.standing("pong", "wins", "a").ordinal == 1  # type: ignore[union-attr]
    data.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        ranks.standing("pong", "wins", "a")
    assert ranks.page("pong", "wins", 0, 10).rows == [("a", 2.0), ("b", 1.0)]
