"""Fuzzed stream entries through the real pipeline: bridge → Celery worker → Redis.

Hypothesis draws batches of valid and broken entries (tests.support.fuzz) and
XADDs them; each bad one must land in the dead letter with its reason and its
original fields, the good ones must count, and the worker and bridge must keep
running, the same processes throughout, with no task failing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from tests.support.fuzz import OK, Case, batches, expected_wins
from tests.support.pipeline import wait_for_pipeline
from tests.support.processes import start_bridge, start_worker
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

EXAMPLES = 40


@pytest.mark.slow
def test_fuzzed_entries_through_the_real_pipeline(
        settings: Settings, products: Products, stream: redis.Redis, data: redis.Redis,
        store: Store, dead_letters: DeadLetters, tmp_path: Path) -> None:
    worker = start_worker(settings, tmp_path, "w1", products.queues, concurrency=1)
    bridge = start_bridge(settings, tmp_path, "b1")
    pids = (worker.pid, bridge.pid)

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(
        HealthCheck))
    @given(batch=batches(max_size=20))
    def check(batch: list[Case]) -> None:
        data.flushdb()  # boards and dead letters of this example only
        pipe = stream.pipeline(transaction=False)
        for case in batch:
            pipe.xadd(settings.stream_key, case.fields)  # type: ignore[arg-type]
        ids = [i.decode() for i in pipe.execute()]
        wait_for_pipeline(settings, products.queues, timeout=60)

        letters = {d.entry_id: d for d in dead_letters.scan()}
        assert len(letters) == sum(case.expected != OK for case in batch)
        for entry_id, case in zip(ids, batch, strict=True):
            letter = letters.get(entry_id)
            if case.expected == OK:
                assert letter is None, f"{case.what}: dead-lettered as {letter and letter.reason}"
                continue
            assert letter is not None, f"{case.what}: not dead-lettered ({case.expected})"
            assert letter.reason == case.expected, f"{case.what}: {letter.reason}"
            assert dict(letter.fields) == case.fields
            assert letter.source == settings.stream_key and letter.detail
        for product in ("exrps", "pong"):
            assert dict(store.top(product, "wins", count=1000)) == expected_wins(batch, product)
        assert (worker.pid, bridge.pid) == pids and worker.alive() and bridge.alive()

    try:
        check()
    finally:
        bridge.stop()
        worker.stop()
    assert "raised unexpected" not in worker.log() and "Traceback" not in bridge.log()
