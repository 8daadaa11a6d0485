"""Waiting for the real pipeline to finish its work, and counting what it should show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import cast

import redis

from tests.support.processes import wait_until
from tracker.settings import Settings
from tracker.storage.inflight import InFlight


def in_flight(stream: redis.Redis, settings: Settings) -> InFlight:
    return InFlight.of(stream, settings)


def group_drained(stream: redis.Redis, settings: Settings) -> bool:
    """Every stream entry was read by the group, and no part is in flight any more."""
    try:
        groups = stream.xinfo_groups(settings.stream_key)
    except redis.ResponseError:
        return False
    last = stream.xinfo_stream(settings.stream_key)["last-generated-id"]
    for group in groups:
        if group["name"] in (settings.stream_group, settings.stream_group.encode()):
            flight = in_flight(stream, settings)
            return bool(group["last-delivered-id"] == last and flight.count() == 0
                        and not flight.part_names())
    return False


def broker_idle(broker: redis.Redis, queues: Iterable[str]) -> bool:
    """No task waiting in a queue and none delivered but unacknowledged (Redis broker)."""
    waiting = sum(int(broker.llen(q)) for q in queues)
    return waiting == 0 and int(broker.hlen("unacked")) == 0


def wait_for_pipeline(settings: Settings, queues: Iterable[str], timeout: float = 120) -> None:
    stream = redis.Redis.from_url(settings.stream_url)
    broker = redis.Redis.from_url(settings.broker_url)
    qs = list(queues)
    wait_until(lambda: group_drained(stream, settings) and broker_idle(broker, qs), timeout,
               interval=0.2, what="stream drained and broker idle")


def expected_wins(entries: Iterable[Mapping[str, str]], product: str) -> Counter[str]:
    """An independent count: wins per player, losers present with 0 (one result per game)."""
    wins: Counter[str] = Counter()
    games: set[str] = set()
    for e in entries:
        if e.get("product_id") == product and e.get("type") == "game_over":
            if e["winner_id"] == e["loser_id"] or e["game_id"] in games:
                continue
            games.add(e["game_id"])
            wins[e["winner_id"]] += 1
            wins[e["loser_id"]] += 0
    return wins


def expected_stats(entries: Iterable[Mapping[str, str]], product: str) -> dict[str, Counter[str]]:
    stats: dict[str, Counter[str]] = {}
    games: set[str] = set()
    weapons = {"0": "rock", "1": "paper", "2": "scissors", "null": "botch"}
    for e in entries:
        if e.get("product_id") != product:
            continue
        if e.get("type") == "game_over" and e["winner_id"] != e["loser_id"] \
                and e["game_id"] not in games:
            games.add(e["game_id"])
            w = stats.setdefault(e["winner_id"], Counter())
            w.update({"games": 1, "wins": 1, "losses": 0})
            loser = stats.setdefault(e["loser_id"], Counter())
            loser.update({"games": 1, "losses": 1, "wins": 0})
        elif e.get("event_name") == "select_weapon" and product == "exrps":
            name = weapons.get(e["event_data"])
            stat = f"{name}_selection_count" if name else "invalid_selection_count"
            stats.setdefault(e["user_id"], Counter())[stat] += 1
    return stats


def snapshot(client: redis.Redis, pattern: str = "st:*",
             stream_ids: bool = True) -> dict[bytes, object]:
    """Every key's content, compared by value (DUMP bytes depend on insertion order);
    not the monitoring totals (``:counters``), which count duplicates too. Without
    ``stream_ids``, a stream's entries without their IDs (which hold the time)."""
    out: dict[bytes, object] = {}
    for key in client.scan_iter(pattern, count=1000):
        if key.endswith(b":counters"):
            continue
        kind = client.type(key)
        if kind == b"zset":  # member -> score says it all: the order follows
            out[key] = dict(cast(list[tuple[bytes, float]],
                                 client.zrange(key, 0, -1, withscores=True)))
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        elif kind == b"set":
            out[key] = client.smembers(key)
        elif kind == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == b"stream":
            entries = client.xrange(key) or []
            out[key] = entries if stream_ids else [fields for _, fields in entries]
        else:
            out[key] = client.dump(key)
    return out


def everything(client: redis.Redis) -> dict[str, object]:
    """Every key's content (but the monitoring totals), by key name as text."""
    return {key.decode(): value for key, value in snapshot(client, "*").items()}
