"""Buckets (cohorts) of period boards: each player in the bucket being filled at its first
write of the period, for the whole period, each bucket a board of its own. Real Redis,
both batch forms, checked against brute force."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.handlers import EventsForm, RaceTimes, process_in_batches, race_entries
from tracker.periods import Period, PeriodKind, bucket_board
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.ranking import TieMode
from tracker.storage import DeadLetters, Keys, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example
RACE = f"{RaceTimes.__module__}:{RaceTimes.__name__}"
DRIVERS = [f"d{i}" for i in range(9)]
T0 = int(datetime(2037, 11, 27, tzinfo=UTC).timestamp() * 1000)  # a Friday


def config(**table: object) -> dict[str, object]:
    return {"products": {"race": {"handlers": [{"use": RACE, **table}]}}}


@pytest.mark.parametrize(("table", "error"), [
    ({"bucket_size": 5}, "go with periods"),
    ({"periods": ["week"], "bucket_size": 1}, "bucket_size is 2-1000"),
    ({"periods": ["week"], "bucket_size": 1001}, "bucket_size is 2-1000"),
    ({"periods": ["week"], "bucket_size": "5"}, "are integers"),
])
def test_bad_bucket_sizes(table: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_products(config(**table))


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(laps=st.lists(st.tuples(st.sampled_from(DRIVERS), st.integers(50, 60),
                               st.integers(0, 3), st.integers(0, 9 * 86_400_000)),
                     min_size=1, max_size=40),
       batch=st.integers(1, 10), size=st.integers(2, 4), summed=st.booleans())
def test_each_player_stays_in_the_bucket_of_its_first_write(
        data: redis.Redis, laps: list[tuple[str, int, int, int]], batch: int, size: int,
        summed: bool) -> None:
    data.flushdb()
    products = parse_products(config(periods=["week"], bucket_size=size))
    store = Store(data) if summed else EventsForm(data)
    processor = BatchProcessor(products, store, DeadLetters(data), clock=lambda: T0 / 1000)
    entries = race_entries(laps, T0)
    process_in_batches(processor, entries, batch)

    joined: dict[str, dict[str, int]] = {}  # week -> driver -> bucket, by first write
    best: dict[str, dict[str, float]] = {}
    fines: dict[str, dict[str, float]] = {}
    for d, lap, pen, at in laps:
        week = Period.containing(PeriodKind.WEEK, T0 + at).id
        joined.setdefault(week, {}).setdefault(d, len(joined[week]) // size)
        week_best, week_fines = best.setdefault(week, {}), fines.setdefault(week, {})
        week_best[d] = max(week_best.get(d, lap), lap)
        week_fines[d] = week_fines.get(d, 0) + pen
    keys, ranks = Keys(), Ranks(data)
    for week, buckets in joined.items():
        for board, scores in ((f"laps:{week}", best[week]), (f"penalties:{week}", fines[week])):
            key = keys.board("race", board)
            assert {m.decode(): int(k) for m, k in data.hgetall(f"{key}:buckets").items()} \
                == buckets
            for k in set(buckets.values()):
                name = bucket_board(board, k)
                rows = dict(ranks.page("race", name, 0, 100).rows)
                assert rows == {d: scores[d] for d, b in buckets.items() if b == k}
                for player in rows:  # ranks among the bucket's players only
                    found = ranks.standing("race", name, player)
                    assert found is not None
                    assert found.rank(TieMode.COMPETITION) == 1 + sum(
                        s > rows[player] for s in rows.values())
                structures = [data.zrange(f"{keys.board('race', name)}:scores", 0, -1),
                              data.hgetall(f"{keys.board('race', name)}:counts")]
                ranks.reindex("race", name)
                assert structures == [
                    data.zrange(f"{keys.board('race', name)}:scores", 0, -1),
                    data.hgetall(f"{keys.board('race', name)}:counts")]
                expiry = data.pexpiretime(key)  # buckets go with their period's board
                assert expiry > 0 and data.pexpiretime(keys.board("race", name)) == expiry
            assert data.pexpiretime(f"{key}:buckets") == expiry
    again = processor.process("race", "s", entries)  # a redelivery changes nothing
    assert again.duplicates == len(entries)
    week = next(iter(joined))
    assert {m.decode(): int(k) for m, k in data.hgetall(
        f"{keys.board('race', 'laps:' + week)}:buckets").items()} == joined[week]


def test_both_batch_forms_assign_the_same_buckets(data: redis.Redis) -> None:
    products = parse_products(config(periods=["week"], bucket_size=2))
    entries = race_entries([(d, 55, 1, i) for i, d in enumerate(
        ["d3", "d1", "d3", "d2", "d0", "d1"])], T0)
    found = []
    for store in (Store(data), EventsForm(data)):
        data.flushdb()
        BatchProcessor(products, store, DeadLetters(data), clock=lambda: T0 / 1000).process(
            "race", "s", entries)
        week = Period.containing(PeriodKind.WEEK, T0).id
        found.append(data.hgetall(f"{Keys().board('race', 'penalties:' + week)}:buckets"))
    assert found[0] == found[1] == {b"d3": b"0", b"d1": b"0", b"d2": b"1", b"d0": b"1"}
