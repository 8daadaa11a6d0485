"""The bridge's batching against a real stream: full batches go at once, partial ones
after ``linger_ms``, and held entries stay pending until a worker acknowledges them."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from tasks.bridge import Bridge, StreamEntry
from tracker.settings import Settings


class Recorder:
    """A publisher that keeps what it was given (or fails while ``down``)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.down = False
        self.fail_after: int | None = None  # batches accepted before the broker goes down

    def __call__(self, product_id: str, source: str, entries: Sequence[StreamEntry]) -> None:
        if self.down or (self.fail_after is not None and len(self.batches) >= self.fail_after):
            raise ConnectionError("broker down")
        self.batches.append((product_id, [entry_id for entry_id, _ in entries]))

    def ids(self, product_id: str | None = None) -> list[str]:
        return [i for p, ids in self.batches if product_id in (None, p) for i in ids]


def add(stream: redis.Redis, settings: Settings, product_id: str, count: int) -> list[str]:
    pipe = stream.pipeline(transaction=False)
    for n in range(count):
        pipe.xadd(settings.stream_key, {"product_id": product_id, "n": n})
    return [i.decode() for i in pipe.execute()]


def make_bridge(settings: Settings, stream: redis.Redis, **changes: Any
                ) -> tuple[Bridge, Recorder]:
    recorder = Recorder()
    bridge = Bridge(dataclasses.replace(settings, **changes), stream, recorder,
                    consumer="test-bridge")
    bridge.ensure_group()
    return bridge, recorder


def pending(stream: redis.Redis, settings: Settings) -> int:
    return int(stream.xpending(settings.stream_key, settings.stream_group)["pending"])


def test_full_batches_are_published_at_once_and_the_rest_is_held(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=60_000)
    ids = add(stream, settings, "exrps", 150)

    assert bridge.step() == 100
    assert sent.batches == [("exrps", ids[:100])]
    assert pending(stream, settings) == 150  # held entries are read, so pending too


def test_a_partial_batch_goes_once_its_oldest_entry_lingered(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=150)
    ids = add(stream, settings, "exrps", 30)
    assert bridge.step() == 0
    assert sent.batches == []
    # the next read waits no longer than the batch may linger
    assert 1 <= bridge._block_ms() <= 150

    deadline = time.monotonic() + 5
    while not sent.batches and time.monotonic() < deadline:
        bridge.step()
    assert sent.batches == [("exrps", ids)]


def test_products_are_batched_apart_in_stream_order(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=10, linger_ms=60_000)
    exrps = add(stream, settings, "exrps", 7)
    pong = add(stream, settings, "pong", 12)
    exrps += add(stream, settings, "exrps", 5)

    assert bridge.step() == 10  # reads 20: 8 exrps, 12 pong
    assert bridge.step() == 10  # the last 4 exrps fill a batch
    assert sent.batches == [("pong", pong[:10]), ("exrps", exrps[:10])]
    assert bridge.flush(force=True) == 4
    assert sent.ids("exrps") == exrps and sent.ids("pong") == pong


def test_no_linger_publishes_every_read(settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=0)
    ids = add(stream, settings, "chess", 3)
    assert bridge.step() == 3
    assert sent.batches == [("chess", ids)]


def test_held_entries_are_released_when_too_many_are_pending(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=60_000,
                               max_pending=40)
    ids = add(stream, settings, "exrps", 50)
    assert bridge.step() == 0  # read and held: 50 pending now
    assert bridge.step() == 50  # over max_pending: hand the held ones to the workers
    assert sent.ids() == ids


def test_a_clean_stop_publishes_what_is_held(settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=60_000, block_ms=50)
    ids = add(stream, settings, "exrps", 30)
    bridge.step()
    bridge.stop.set()
    bridge.run()
    assert sent.ids() == ids
    assert bridge.forwarded == 30


@pytest.mark.parametrize("broker_down", [False, True])
def test_entries_held_by_a_lost_bridge_are_claimed_by_another(
        settings: Settings, stream: redis.Redis, broker_down: bool) -> None:
    """Whether the bridge died holding them, or stopped while the broker was down."""
    lost, lost_sent = make_bridge(settings, stream, batch_size=100, linger_ms=60_000,
                                  claim_idle_ms=100)
    ids = add(stream, settings, "exrps", 30)
    lost.step()
    if broker_down:
        lost_sent.down = True
        lost.stop.set()
        lost.run()
    assert lost_sent.batches == [] and pending(stream, settings) == 30

    time.sleep(0.15)
    other, sent = make_bridge(settings, stream, batch_size=100, linger_ms=0,
                              claim_idle_ms=100)
    other.consumer = "other-bridge"
    assert other.step() == 30
    assert sent.ids() == ids


def test_a_stop_mid_flush_keeps_what_was_not_sent(settings: Settings,
                                                  stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=10, linger_ms=0)
    ids = add(stream, settings, "exrps", 20)  # one read: two batches
    sent.fail_after = 1  # the broker takes one batch, then goes away
    threading.Timer(0.3, bridge.stop.set).start()  # the bridge is stopped while it retries
    assert bridge.step() == 10

    sent.fail_after = None  # back: the clean stop publishes the rest, nothing twice
    bridge.release_held()
    assert sent.ids() == ids
    assert bridge.forwarded == 20
