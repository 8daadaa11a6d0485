"""Boards that keep each member's latest score (``SetScore``, kind "latest"): the last
submission in event order wins, all-time and per week, in buckets and lowest first
too, whichever batch form goes. Real Redis, checked against brute force."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.handlers import EventsForm, LastLap, process_in_batches, race_entries
from tracker.handlers import IncrScore, KeepBest, SetScore
from tracker.periods import Period, PeriodKind, bucket_board
from tracker.processing import BatchProcessor
from tracker.products import parse_products
from tracker.storage import DeadLetters, PreparedEvent, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example
LAST = f"{LastLap.__module__}:{LastLap.__name__}"
DRIVERS = ["d0", "d1", "d2", "d3", "d4"]
T0 = int(datetime(2037, 11, 27, tzinfo=UTC).timestamp() * 1000)  # a Friday


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(laps=st.lists(st.tuples(st.sampled_from(DRIVERS), st.integers(40, 60),
                               st.integers(0, 2), st.integers(0, 9 * 86_400_000)),
                     min_size=1, max_size=30),
       batch=st.integers(1, 8), summed=st.booleans(), ascending=st.booleans())
def test_the_board_keeps_each_member_s_latest_score(
        data: redis.Redis, laps: list[tuple[str, int, int, int]], batch: int, summed: bool,
        ascending: bool) -> None:
    data.flushdb()
    products = parse_products({"products": {"race": {"handlers": [{
        "use": LAST, "periods": ["week"], "bucket_size": 2,
        "order": "asc" if ascending else "desc"}]}}})
    store = Store(data) if summed else EventsForm(data)
    processor = BatchProcessor(products, store, DeadLetters(data), clock=lambda: T0 / 1000)
    entries = race_entries(laps, T0)
    process_in_batches(processor, entries, batch)
    latest: dict[str, float] = {}
    weekly: dict[str, dict[str, float]] = {}
    for d, lap, _, at in laps:  # entry ids grow with the index: event order is list order
        latest[d] = lap
        weekly.setdefault(Period.containing(PeriodKind.WEEK, T0 + at).id, {})[d] = lap
    ranks = Ranks(data)

    def board(name: str) -> dict[str, float]:
        return dict(ranks.page("race", name, 0, 100, ascending=ascending).rows)

    assert board("last") == latest
    for week, scores in weekly.items():
        assert board(f"last:{week}") == scores
        buckets = [board(bucket_board(f"last:{week}", k)) for k in range(3)]
        assert {d: s for b in buckets for d, s in b.items()} == scores
    processor.process("race", "s", entries)  # a redelivery changes nothing
    assert board("last") == latest


def test_latest_and_other_ops_on_one_board_keep_their_order(data: redis.Redis) -> None:
    batch = [PreparedEvent("1-0", "", [IncrScore("b", "ann", 5)]),
             PreparedEvent("1-1", "", [SetScore("b", "ann", 3)]),
             PreparedEvent("1-2", "", [KeepBest("b", "ann", 2)]),
             PreparedEvent("1-3", "", [IncrScore("b", "ann", 1)])]
    Store(data).apply("pong", "s", batch, summed=True)  # falls back to the events form
    assert Store(data).score("pong", "b", "ann") == 4  # 5, then 3, best of 3 and 2, +1
