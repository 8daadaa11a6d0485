"""Outages of 10 s: the broker Redis, then the data Redis. Nothing is lost, nothing counted
twice, nothing acknowledged that was not applied, and every process rides it out (the same
PIDs are alive afterwards).

Each Redis is a server of its own (AOF on), so that one can be down while the others are up.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import TEST_PRODUCTS
from tests.support.pipeline import expected_wins, in_flight, wait_for_pipeline
from tests.support.processes import Process, start_bridge, start_worker, wait_until
from tests.support.varcade import game_over, xadd_all
from tests.tasks.conftest import ServerFactory
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Store

OUTAGE = 10.0
PLAYERS = [str(uuid.UUID(int=(11 << 64) + i)) for i in range(30)]
QUEUES = load_products(TEST_PRODUCTS).queues


def results(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [game_over(rng.choice(["exrps", "pong"]), *rng.sample(PLAYERS, 2)) for _ in range(n)]


def board(store: Store, product: str) -> dict[str, float]:
    return dict(store.top(product, "wins", count=1000))


def pending(stream: redis.Redis, settings: Settings) -> int:
    """Entries read and not yet finished (applied or dead-lettered)."""
    return in_flight(stream, settings).count()


def acknowledged(stream: redis.Redis, settings: Settings) -> int:
    """Entries of the group read and finished so far."""
    group = next(g for g in stream.xinfo_groups(settings.stream_key)
                 if g["name"].decode() == settings.stream_group)
    return int(group["entries-read"]) - pending(stream, settings)


def outage_settings(redis_url: str, stream_url: str, broker_url: str) -> Settings:
    """Short timeouts, so that an outage and the recovery after it fit in a test."""
    return Settings(redis_url=redis_url, stream_url=stream_url, broker_url=broker_url,
                    products_file=str(TEST_PRODUCTS), block_ms=200, claim_idle_ms=3000,
                    visibility_timeout=10)


def start(settings: Settings, tmp_path: Path) -> list[Process]:
    procs = [start_worker(settings, tmp_path, f"w{i}", QUEUES, concurrency=2) for i in (1, 2)]
    return [*procs, start_bridge(settings, tmp_path, "b1")]


@pytest.mark.slow
def test_broker_down_10s_the_bridge_backs_off_keeps_entries_pending_and_resumes(
        redis_servers: ServerFactory, tmp_path: Path) -> None:
    data, broker = redis_servers("data"), redis_servers("broker")
    settings = outage_settings(data.url(0), data.url(1), broker.url(0))
    stream = redis.Redis.from_url(settings.stream_url)
    store = Store(redis.Redis.from_url(settings.redis_url), Keys())
    before, during = results(1000, 1), results(1000, 2)
    procs = start(settings, tmp_path)
    pids = [p.pid for p in procs]
    try:
        xadd_all(stream, before, key=settings.stream_key)
        # down while the workers are busy: some tasks are running, some are queued
        wait_until(lambda: board(store, "exrps"), 20, interval=0.01, what="work under way")
        broker.kill()
        went_down = time.monotonic()
        xadd_all(stream, during, key=settings.stream_key)
        # the bridge reads the new entries but cannot hand them on: they stay pending,
        # unacknowledged, and nothing of them is applied
        time.sleep(1.0)  # tasks that were running finish
        applied = {p: board(store, p) for p in ("exrps", "pong")}
        acked = acknowledged(stream, settings)
        assert pending(stream, settings) > 0
        time.sleep(max(0.0, went_down + OUTAGE - time.monotonic()))
        assert pending(stream, settings) > 0
        assert acknowledged(stream, settings) == acked < len(before) + len(during)
        assert {p: board(store, p) for p in ("exrps", "pong")} == applied
        broker.start()

        wait_for_pipeline(settings, QUEUES, timeout=90)
        assert [p.pid for p in procs] == pids and all(p.alive() for p in procs), \
            "a process exited during the outage"
    finally:
        for p in procs:
            p.stop()

    for product in ("exrps", "pong"):
        assert board(store, product) == {
            k: float(v) for k, v in expected_wins(before + during, product).items()}
    bridge = procs[-1].log()
    pauses = [float(d) for d in
              re.findall(r"publish_part failed .*?; retrying in ([\d.]+) s", bridge)]
    assert len(pauses) >= 3, bridge  # it kept trying, with growing pauses, not in a hot loop
    assert pauses[-1] > pauses[0] and max(pauses) <= 5 and len(pauses) < 20
    assert all("Connection to broker lost" in w.log() for w in procs[:2])


@pytest.mark.slow
def test_data_redis_down_10s_workers_retry_with_backoff_and_ack_nothing_unapplied(
        redis_servers: ServerFactory, tmp_path: Path) -> None:
    data, other = redis_servers("data"), redis_servers("stream-and-broker")
    settings = outage_settings(data.url(0), other.url(1), other.url(2))
    stream = redis.Redis.from_url(settings.stream_url)
    store = Store(redis.Redis.from_url(settings.redis_url), Keys())
    before, during = results(1000, 3), results(1000, 4)
    procs = start(settings, tmp_path)
    pids = [p.pid for p in procs]
    try:
        xadd_all(stream, before, key=settings.stream_key)
        wait_for_pipeline(settings, QUEUES)

        data.kill()
        went_down = time.monotonic()
        xadd_all(stream, during, key=settings.stream_key)
        # every new entry is read, none can be applied, so none is acknowledged
        wait_until(lambda: pending(stream, settings) == len(during), 10,
                   what="all new entries read and pending")
        time.sleep(max(0.0, went_down + OUTAGE - time.monotonic()))
        assert pending(stream, settings) == len(during)
        data.start()

        wait_for_pipeline(settings, QUEUES, timeout=90)
        assert [p.pid for p in procs] == pids and all(p.alive() for p in procs), \
            "a process exited during the outage"
    finally:
        for p in procs:
            p.stop()

    for product in ("exrps", "pong"):
        assert board(store, product) == {
            k: float(v) for k, v in expected_wins(before + during, product).items()}
    logs = "\n".join(w.log() for w in procs[:2])
    delays = [float(d) for d in re.findall(r"Redis unavailable .*? again in ([\d.]+) s", logs)]
    assert delays and max(delays) >= 2  # backing off ...
    assert len(delays) < 200  # ... not hammering
