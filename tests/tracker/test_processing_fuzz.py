"""Property: every entry, however malformed, is applied or dead-lettered with the right reason.

Hypothesis draws batches of valid and broken Varcade entries (see
``tests.support.fuzz``); they go through BatchProcessor, per product as the
bridge groups them, into a real Redis.
"""

from __future__ import annotations

from collections import Counter

import redis
from hypothesis import HealthCheck, event, given, settings

from tests.support.fuzz import OK, Case, batches, expected_wins
from tracker.processing import BatchProcessor, group_by_product
from tracker.products import Products
from tracker.storage import DeadLetters, Store


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(batch=batches())
def test_each_entry_is_applied_or_dead_lettered_with_its_reason(
        batch: list[Case], products: Products, store: Store, dead_letters: DeadLetters,
        data: redis.Redis) -> None:
    data.flushdb()
    for case in batch:
        event(case.expected)
    entries = [(f"1700000000000-{i}", case.fields) for i, case in enumerate(batch)]
    processor = BatchProcessor(products, store, dead_letters)
    totals: Counter[str] = Counter()
    for product_id, group in group_by_product(entries).items():
        report = processor.process(product_id, "s", group)
        totals.update(applied=report.applied, ignored=report.ignored,
                      duplicates=report.duplicates, dead=sum(report.dead_lettered.values()))
    assert sum(totals.values()) == len(batch)
    assert totals["duplicates"] == 0

    letters = {d.entry_id: d for d in dead_letters.list(count=len(batch) + 1)}
    for (entry_id, fields), case in zip(entries, batch, strict=True):
        letter = letters.get(entry_id)
        if case.expected == OK:
            assert letter is None, f"{case.what}: dead-lettered as {letter and letter.reason}"
            continue
        assert letter is not None, f"{case.what}: not dead-lettered (expected {case.expected})"
        assert letter.reason == case.expected, f"{case.what}: {letter.reason} ({letter.detail})"
        assert dict(letter.fields) == fields  # the original, byte for byte
        assert letter.source == "s" and letter.detail
    for product in ("exrps", "pong"):
        assert dict(store.top(product, "wins", count=1000)) == expected_wins(batch, product)
