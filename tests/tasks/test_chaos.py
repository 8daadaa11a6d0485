"""Chaos: Varcade traffic while workers and bridges are SIGKILLed and the servers restart.

The data Redis (which also holds the stream, as in compose) and the broker are
separate servers with persistence, so each can be restarted. Every few seconds
a random worker or bridge is SIGKILLed and a new one started. At the end,
everything must match an independent count of the entries written: wins and
stats (weapon counts included) exact, darts' weekly and monthly boards adding
up to its all-time board, its OpenSkill and Glicko-2 boards holding every
player, Elo totals conserved, the tournament's attempts and its league's joins and
scores each counted or refused once, the demo course's report (its tracking-log lines
are mixed in, some twice) equal to one built from the good lines, every entry
acknowledged, none pending, and the dead letter holding exactly the deliberately
malformed entries. A table of expected versus found is printed.

- Redis broker: 200,000 entries; the data Redis and the broker Redis restart once,
  and the stream is replayed from the start once (``tracker replay``), while the
  parts of the first reading are still in flight.
- RabbitMQ (quorum queues, publisher confirms): 60,000 entries; the data Redis
  restarts once and RabbitMQ drops every connection of the test's vhost once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

from tests.conftest import TEST_PRODUCTS
from tests.support import rabbitmq
from tests.support.chaos import ChaosRun, Fleet, Outage, run_chaos
from tests.support.outcome import compare, table, unapplied
from tests.support.pipeline import broker_idle
from tests.support.producer import Producer
from tests.support.redis_server import RedisServer
from tests.support.traffic import mixed_traffic
from tests.tasks.conftest import ServerFactory
from tracker.products import load_products
from tracker.replay import plan_rewind, rewind
from tracker.settings import Settings

QUEUES = load_products(TEST_PRODUCTS).queues
REDIS_RATE = 20_000  # entries per second the producer writes: a backlog builds up
RABBITMQ_RATE = 3_000  # fewer entries: spread them over the chaos


def chaos_settings(data: RedisServer, broker_url: str) -> Settings:
    return Settings(
        redis_url=data.url(0), stream_url=data.url(1), broker_url=broker_url,
        products_file=str(TEST_PRODUCTS), block_ms=200, claim_idle_ms=5000, max_pending=4000,
        visibility_timeout=10, batch_size=250, analysis_delay_ms=500,
    )


def chaos(settings: Settings, events: int, rate: float,
          outages: Callable[[Fleet], Sequence[Outage]], broker_idle: Callable[[], bool],
          title: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = mixed_traffic(events, seed=events)
    producer = Producer(settings.stream_url, settings.stream_key, traffic.rows, rate)
    fleet = Fleet(settings, tmp_path, QUEUES, random.Random(events))
    fleet.start(workers=3, bridges=2)
    try:
        run = run_chaos(fleet, producer, outages(fleet), broker_idle, min_seconds=30)
    finally:
        producer.stop.set()
        fleet.stop()
    checks = compare(settings, traffic, producer)
    with capsys.disabled():
        print(f"\n\n{report(title, len(traffic.rows), run)}\n{table(checks)}")
    lost = [] if all(c.ok for c in checks) else unapplied(settings, traffic, producer)
    assert all(c.ok for c in checks), f"{table(checks)}\nnot applied: {lost[:50]}"
    assert not run.died, f"processes exited on their own: {run.died}\n{fleet.logs()}"


def replay(settings: Settings) -> None:
    """``tracker replay --since start --yes``: every entry read so far is read again."""
    stream = redis.Redis.from_url(settings.stream_url, socket_timeout=5)
    key, group = settings.stream_key, settings.stream_group
    rewind(stream, key, group, plan_rewind(stream, key, group, "0-0"))


def report(title: str, entries: int, run: ChaosRun) -> str:
    return (f"chaos ({title}): {entries:,} entries in {run.seconds:.0f} s (writing "
            f"{run.produce_seconds:.0f} s, draining {run.drain_seconds:.0f} s after the chaos); "
            f"SIGKILLed {run.kills['worker']} workers and {run.kills['bridge']} bridges\n"
            f"events: " + "; ".join(e.strip() for e in run.events))


@pytest.mark.slow
def test_chaos_with_a_redis_broker(redis_servers: ServerFactory, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    data, broker = redis_servers("data"), redis_servers("broker")
    settings = chaos_settings(data, broker.url(0))
    broker_client = redis.Redis.from_url(settings.broker_url, socket_timeout=5)
    chaos(settings, 200_000, REDIS_RATE,
          lambda fleet: [Outage(10, "restart data Redis", lambda: data.restart(down_for=2)),
                         Outage(16, "replay from the start", lambda: replay(settings)),
                         Outage(22, "restart broker Redis", lambda: broker.restart(down_for=2))],
          lambda: broker_idle(broker_client, QUEUES), "Redis broker", tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.skipif(rabbitmq.unavailable() is not None,
                    reason=f"RabbitMQ needed: {rabbitmq.unavailable()}")
def test_chaos_with_rabbitmq(redis_servers: ServerFactory, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    data = redis_servers("data")
    with rabbitmq.vhost() as url:
        settings = chaos_settings(data, url)
        chaos(settings, 60_000, RABBITMQ_RATE,
              lambda fleet: [
                  Outage(6, "restart data Redis", lambda: data.restart(down_for=2)),
                  Outage(14, "RabbitMQ drops every connection",
                         lambda: rabbitmq.close_connections(url))],
              lambda: rabbitmq.idle(url), "RabbitMQ", tmp_path, capsys)
        queues = rabbitmq.queued(url)
        assert {name: queues[name][1] for name in QUEUES} == dict.fromkeys(QUEUES, "quorum")
