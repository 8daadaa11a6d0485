"""Ascending boards (``order = "asc"``): the lowest score ranks first. Real Redis, every
read (pages, keyset cursors, ranks in three tie modes, percentiles, tiers, the Varcade
top ten) checked against brute force, all-time and per week, in any batch size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.handlers import RaceTimes, process_in_batches, race_entries
from tracker.handlers import Board, EnsureOnBoard, IncrScore, KeepBest
from tracker.order import flip, stored_ops
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.ranking import Position, TieMode
from tracker.storage import DeadLetters, Ranks, Store
from tracker.tiers import Tier, tier_of

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example
RACE = f"{RaceTimes.__module__}:{RaceTimes.__name__}"
DRIVERS = ["ann", "bob", "cid", "dee", "eve", "fay"]
T0 = int(datetime(2037, 11, 27, tzinfo=UTC).timestamp() * 1000)  # a Friday
TIERS = [{"name": "podium", "rank": 3}, {"name": "quick", "score": 60},
         {"name": "half", "percent": 50}, {"name": "rest"}]


def config(**table: object) -> dict[str, object]:
    return {"products": {"race": {"handlers": [{"use": RACE, **table}, "player_stats"]}}}


def test_order_is_configured_per_handler_table() -> None:
    race = parse_products(config(order="asc"))["race"]
    assert [(b.name, b.ascending) for b in race.boards] == [("laps", True),
                                                          ("penalties", True)]
    assert race.ascending == {"laps", "penalties"}
    plain = parse_products(config(order="desc"))["race"]
    assert not plain.ascending and not any(b.ascending for b in plain.boards)
    tiers = parse_products(config(order="asc", tiers=TIERS))["race"].boards[0].tiers
    assert tiers[1] == Tier("quick", score=60.0, ascending=True)


@pytest.mark.parametrize(("products", "error"), [
    (config(order="up"), "order is 'desc'"),
    ({"products": {"g": {"handlers": [{"use": "elo", "order": "asc"}]}}},
     "only points, best and latest boards can be ascending"),
    ({"products": {"g": {"handlers": [{"use": "streak", "order": "asc"}]}}},
     "only points, best and latest boards"),
])
def test_bad_orders(products: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_products(products)


def test_a_handler_may_declare_its_board_ascending() -> None:
    class Fastest(RaceTimes):
        @property
        def boards(self) -> tuple[Board, ...]:
            return (Board("laps", "best", ascending=True),)

    import tests.support.handlers as module
    module.Fastest = Fastest  # type: ignore[attr-defined]
    try:
        race = parse_products({"products": {"race": {"handlers": [
            f"{module.__name__}:Fastest"]}}})["race"]
    finally:
        del module.Fastest  # type: ignore[attr-defined]
    assert race.ascending == {"laps"} and race.boards[0].ascending


def test_only_board_ops_of_ascending_boards_change_sign() -> None:
    ops = [IncrScore("laps", "a", 3.0), KeepBest("laps", "a", 61.5),
           EnsureOnBoard("laps", "b", 0.0), IncrScore("wins", "a", 1.0)]
    assert stored_ops(ops, {"laps"}) == [
        IncrScore("laps", "a", -3.0), KeepBest("laps", "a", -61.5),
        EnsureOnBoard("laps", "b", 0.0), IncrScore("wins", "a", 1.0)]
    assert str(flip(0.0)) == "0.0" and flip(flip(-7.25)) == -7.25  # never -0.0


def brute_order(board: dict[str, float]) -> list[tuple[str, float]]:
    """Lowest score first; equal scores by descending user id bytes, as on every board."""
    by_user = sorted(board.items(), key=lambda row: row[0].encode(), reverse=True)
    return sorted(by_user, key=lambda row: row[1])


def check_board(ranks: Ranks, name: str, board: dict[str, float]) -> None:
    """Every read of board ``name`` of race against the brute-force ``board``."""
    expected = brute_order(board)
    assert ranks.page("race", name, 0, 100, ascending=True).rows == expected
    walked: list[tuple[str, float]] = []  # keyset pages of 2, as the API's cursors go
    window = ranks.page("race", name, 0, 2, ascending=True)
    while window.rows:
        walked += window.rows
        last = window.last
        assert last is not None
        window = ranks.after("race", name, Position(last.score, last.user_id), 2,
                             ascending=True)
    assert walked == expected
    scores = list(board.values())
    for ordinal, (user, score) in enumerate(expected, 1):
        found = ranks.standing("race", name, user, ascending=True)
        assert found is not None and found.score == score
        assert found.rank(TieMode.ORDINAL) == ordinal
        assert found.rank(TieMode.COMPETITION) == 1 + sum(s < score for s in scores)
        assert found.rank(TieMode.DENSE) == 1 + len({s for s in scores if s < score})
        assert found.percentile == 100.0 * sum(s > score for s in scores) / len(scores)
        window = ranks.around("race", name, user, 3, ascending=True)
        assert window is not None and user in dict(window.rows)
        assert window.rows == expected[window.start:window.start + 3]
    size, listed = ranks.standings("race", name, list(board)[:3], ascending=True)
    assert size == len(board) and [(p.user_id, p.score) for p in listed] == [
        row for row in expected if row[0] in list(board)[:3]]


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(laps=st.lists(st.tuples(st.sampled_from(DRIVERS), st.integers(55, 70),
                               st.integers(0, 3), st.integers(0, 9 * 86_400_000)),
                     min_size=1, max_size=40),
       batch=st.integers(1, 10))
def test_an_ascending_board_ranks_the_lowest_first(
        data: redis.Redis, laps: list[tuple[str, int, int, int]], batch: int) -> None:
    data.flushdb()
    products = parse_products(config(order="asc", periods=["week"], tiers=TIERS))
    processor = BatchProcessor(products, Store(data), DeadLetters(data),
                               clock=lambda: T0 / 1000)  # every week still open
    entries = race_entries(laps, T0)
    process_in_batches(processor, entries, batch)
    best: dict[str, float] = {}
    penalties: dict[str, float] = {}
    weekly: dict[str, dict[str, float]] = {}
    for d, lap, pen, at in laps:
        best[d] = min(best.get(d, lap), lap)
        penalties[d] = penalties.get(d, 0) + pen
        week = weekly.setdefault(Period.containing(PeriodKind.WEEK, T0 + at).id, {})
        week[d] = min(week.get(d, lap), lap)
    ranks = Ranks(data)
    check_board(ranks, "laps", best)
    check_board(ranks, "penalties", penalties)
    for week, board in weekly.items():
        check_board(ranks, f"laps:{week}", board)
    store = Store(data)
    assert store.top("race", "laps", 3, ascending=True) == brute_order(best)[:3]

    tiers = products["race"].boards[0].tiers
    size, found = ranks.tiers("race", "laps", tiers, ascending=True)
    scores = list(best.values())
    placed = {d: [t.name for t in tiers].index(
        tier_of(tiers, s, 1 + sum(x < s for x in scores), size)) for d, s in best.items()}
    assert [n for _, n in found] == [sum(1 for i in placed.values() if i == k)
                                     for k in range(len(tiers))]
    for k, (worst, _) in enumerate(found):  # "in tier k or better" is "score <= worst"
        for d, s in best.items():
            assert (placed[d] <= k) == (worst is None or s <= worst), (k, d, s, worst)

    again = processor.process("race", "s", entries)  # a redelivery changes nothing
    assert again.duplicates == len(entries)
    check_board(ranks, "laps", best)


def test_an_ascending_tier_holds_scores_at_most_its_cutoff() -> None:
    quick = Tier("quick", score=60.0, ascending=True)
    assert quick.holds(60.0, 9, 10) and quick.holds(-1.0, 9, 10)
    assert not quick.holds(60.5, 9, 10)
    assert Tier("quick", score=60.0).holds(60.5, 9, 10)


def test_redis_keeps_an_ascending_board_negated(data: redis.Redis) -> None:
    products = parse_products(config(order="asc"))
    processor = BatchProcessor(products, Store(data), DeadLetters(data))
    assert processor.process("race", "s", race_entries([("ann", 61, 2, 0)], T0)).applied == 1
    assert Store(data).score("race", "laps", "ann") == -61.0  # as Redis keeps it
    assert Ranks(data).page("race", "laps", 0, 1, ascending=True).rows == [("ann", 61.0)]
