"""The bridge against a real stream: it claims entries into per-product parts, publishes
each part once, lingers after a short read, stops reading while too much is in flight,
and publishes again what a lost bridge or a lost task left in flight."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest
import redis

import tasks.bridge as bridge_module
from tasks.bridge import READ_BATCHES, Bridge
from tracker.settings import Settings
from tracker.storage.inflight import Part


class Recorder:
    """A publisher that keeps what it was given (or fails while ``down``)."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.down = False
        self.fail_after: int | None = None  # parts accepted before the broker goes down

    def __call__(self, part: Part, source: str) -> None:
        if self.down or (self.fail_after is not None and len(self.parts) >= self.fail_after):
            raise ConnectionError("broker down")
        self.parts.append(part)

    def ids(self, bridge: Bridge, product_id: str | None = None) -> list[str]:
        """The entry ids of the published parts, in publishing order."""
        out: list[str] = []
        for part in self.parts:
            if product_id in (None, part.product_id):
                out += [entry_id for entry_id, _ in bridge.inflight.entries(part) or ()]
        return out


def add(stream: redis.Redis, settings: Settings, product_id: str, count: int) -> list[str]:
    pipe = stream.pipeline(transaction=False)
    for n in range(count):
        pipe.xadd(settings.stream_key, {"product_id": product_id, "n": n})
    return [i.decode() for i in pipe.execute()]


def make_bridge(settings: Settings, stream: redis.Redis, consumer: str = "test-bridge",
                **changes: Any) -> tuple[Bridge, Recorder]:
    recorder = Recorder()
    bridge = Bridge(dataclasses.replace(settings, **changes), stream, recorder,
                    consumer=consumer)
    bridge.ensure_group()
    return bridge, recorder


def test_a_full_read_is_published_at_once_in_parts_of_batch_size(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=25, linger_ms=60_000)
    ids = add(stream, settings, "exrps", 150)
    assert READ_BATCHES == 4

    started = time.monotonic()
    assert bridge.step() == 100  # reads 4 x batch_size, and does not linger after a full read
    assert time.monotonic() - started < 30
    assert [(p.first_id, p.product_id) for p in sent.parts] == [
        (ids[i], "exrps") for i in (0, 25, 50, 75)]
    assert sent.ids(bridge) == ids[:100]
    assert bridge.inflight.count() == 100  # until the workers finish them


def test_products_are_parted_apart_in_stream_order(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=5, linger_ms=0)
    exrps = add(stream, settings, "exrps", 7)
    pong = add(stream, settings, "pong", 12)
    exrps += add(stream, settings, "exrps", 5)

    assert bridge.step() == 20  # one read of 4 x 5: 8 exrps, 12 pong
    assert bridge.step() == 4
    assert [(p.product_id, len(bridge.inflight.entries(p) or ())) for p in sent.parts] == [
        ("exrps", 5), ("exrps", 3), ("pong", 5), ("pong", 5), ("pong", 2), ("exrps", 4)]
    assert sent.ids(bridge, "exrps") == exrps and sent.ids(bridge, "pong") == pong


def test_after_a_short_read_the_bridge_lingers_before_reading_again(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=100, linger_ms=300)
    ids = add(stream, settings, "chess", 3)
    started = time.monotonic()
    assert bridge.step() == 3
    assert time.monotonic() - started >= 0.3  # later entries gather meanwhile
    assert sent.ids(bridge) == ids


def test_an_idle_bridge_wakes_when_an_entry_arrives(settings: Settings,
                                                      stream: redis.Redis) -> None:
    bridge, _ = make_bridge(settings, stream, batch_size=100, linger_ms=0,
                               block_ms=10_000)
    add(stream, settings, "pong", 1)
    bridge.step()
    threading.Timer(0.2, add, (stream, settings, "pong", 1)).start()
    started = time.monotonic()
    assert bridge.step() == 0  # nothing new: it blocks until the entry comes ...
    assert time.monotonic() - started < 5  # ... not for the whole block_ms
    assert bridge.step() == 1


def test_nothing_is_read_while_max_pending_entries_are_in_flight(
        settings: Settings, stream: redis.Redis) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=15, linger_ms=0, max_pending=50)
    add(stream, settings, "exrps", 100)
    assert bridge.step() == 60
    assert bridge.step() == 0  # 60 in flight, over 50: the rest waits in the stream
    for part in sent.parts:
        bridge.inflight.finish(part, len(bridge.inflight.entries(part) or ()))
    assert bridge.step() == 40


def test_one_bridge_reads_at_a_time_and_a_clean_stop_hands_over_at_once(
        settings: Settings, stream: redis.Redis) -> None:
    first, _ = make_bridge(settings, stream, linger_ms=0, block_ms=50)
    second, second_sent = make_bridge(settings, stream, consumer="second", linger_ms=0,
                                      block_ms=50)
    add(stream, settings, "exrps", 3)
    assert first.step() == 3  # a commit releases the lease ...
    assert first.step() == 0  # ... an empty read keeps it, for the next read
    ids = add(stream, settings, "pong", 2)
    assert second.step() == 0 and second_sent.parts == []
    first.stop.set()
    first.run()
    assert second.step() == 2 and second_sent.ids(second) == ids
    assert first.inflight.count() == 5  # in flight: for the workers to finish
    assert stream.xinfo_consumers(settings.stream_key, settings.stream_group) == []


def test_parts_of_a_lost_bridge_are_published_by_another_once_due(
        settings: Settings, stream: redis.Redis) -> None:
    """A bridge that claimed entries and died (here: its broker was down and it stopped)."""
    lost, lost_sent = make_bridge(settings, stream, linger_ms=0, claim_idle_ms=500)
    lost_sent.down = True
    ids = add(stream, settings, "exrps", 30)
    threading.Timer(0.1, lost.stop.set).start()
    lost.step()
    assert lost_sent.parts == [] and lost.inflight.count() == 30

    other, sent = make_bridge(settings, stream, consumer="other", linger_ms=0,
                              claim_idle_ms=500, block_ms=50)
    other.step()  # not due yet
    assert sent.parts == []
    time.sleep(0.5)
    other._next_stale = 0
    other.step()
    assert sent.ids(other) == ids and other.republished == 1
    other._next_stale = 0
    other.step()
    assert len(sent.parts) == 1  # pushed back by claim_idle_ms: not published twice at once


def test_a_stop_mid_dispatch_leaves_the_rest_in_flight(settings: Settings, stream: redis.Redis,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bridge, sent = make_bridge(settings, stream, batch_size=10, linger_ms=0,
                               claim_idle_ms=100)
    ids = add(stream, settings, "exrps", 20)  # one read: two parts
    sent.fail_after = 1  # the broker takes one part, then goes away
    threading.Timer(0.3, bridge.stop.set).start()  # the bridge is stopped while it retries
    assert bridge.step() == 10
    assert bridge.forwarded == 10 and bridge.inflight.count() == 20

    sent.fail_after = None
    again, _ = make_bridge(settings, stream, consumer="again", claim_idle_ms=100)
    again.publish = sent
    time.sleep(0.15)
    monkeypatch.setattr(bridge_module, "STALE_PARTS", 1)  # one at a time: two rounds
    assert again.republish_due() == 2  # both: the first's task might have been lost too
    assert again.republished == 2
    assert sorted(map(str, sent.parts[1:])) == bridge.inflight.part_names()
    assert sent.ids(bridge)[:10] == ids[:10] and sorted(sent.ids(bridge)[10:]) == sorted(ids)
