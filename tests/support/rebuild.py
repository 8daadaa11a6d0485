"""Helpers of the rebuild tests: traffic of every board kind, the pipeline's own steps
(claim, apply, finish) run in process as a bridge and a worker run them, a board's keys
dumped for comparison, ``tracker rebuild-board`` invoked, and a board wrecked."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import redis
from click.testing import CliRunner, Result

from tasks.cli import main
from tests.support.processes import settings_env
from tests.support.varcade import game_over, submitted, xadd_all
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.rebuild import owned
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store
from tracker.storage.inflight import InFlight, Part

PLAYERS = [f"p{i}" for i in range(12)]
OLD_MS = 1_759_000_000_000  # 2025-09-27: its week and month closed long ago


def games(product: str, n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        winner, loser = rng.sample(PLAYERS, 2)
        out.append(game_over(product, winner, loser))
    return out


def traffic(rng: random.Random) -> list[dict[str, str]]:
    """Games of darts and tennis; snake's scores with metadata and subscores; cup's league
    with joins; race's laps (lowest first, a week's buckets of 3)."""
    scores = [submitted("snake", board, rng.choice(PLAYERS), rng.randint(1, 500),
                        subscore=rng.randint(0, 9) if board == "fastest" else None,
                        metadata='{"run": 1}' if board == "high_score" else None)
              for board in ("high_score", "fastest") for _ in range(60)]
    joins = [{"product_id": "cup", "type": "join", "board": "league", "user_id": p}
             for p in PLAYERS[:6]]
    league = [submitted("cup", "league", rng.choice(PLAYERS), rng.randint(1, 99))
              for _ in range(40)]
    laps = [{"product_id": "race", "game_id": "g", "type": "gameplay",
             "event_name": "progression", "progress_event": "round_started",
             "p1_id": rng.choice(PLAYERS), "p2_id": "x", "lap": str(rng.randint(40_000, 90_000)),
             "penalty": str(rng.randint(0, 5))} for _ in range(40)]
    return games("darts", 150) + games("tennis", 150, seed=2) + scores + joins + league + laps


def claim_all(stream: redis.Redis, settings: Settings) -> list[tuple[Part, int]]:
    """What bridges do: read the whole stream into parts in flight."""
    flight = InFlight.of(stream, settings)
    parts: list[tuple[Part, int]] = []
    while (claim := flight.claim("bridge", count=200, part_size=50, max_in_flight=10**6,
                                 idle_ms=600_000)).status == "ok":
        parts += claim.parts
    return parts


def work(stream: redis.Redis, data: redis.Redis, settings: Settings, products: Products,
         parts: list[tuple[Part, int]], finish: bool = True) -> None:
    """What workers do: apply each part, then finish it."""
    flight, keys = InFlight.of(stream, settings), Keys(settings.key_prefix)
    processor = BatchProcessor(products, Store(data, keys), DeadLetters(data, keys))
    for part, count in parts:
        entries = flight.entries(part)
        assert entries is not None
        processor.process(part.product_id, settings.stream_key, entries)
        if finish:
            flight.finish(part, count)


def pipeline(stream: redis.Redis, data: redis.Redis, settings: Settings,
             products: Products, entries: list[dict[str, str]]) -> None:
    if not stream.exists(settings.stream_key):
        stream.xgroup_create(settings.stream_key, settings.stream_group, id="0", mkstream=True)
    xadd_all(stream, entries, settings.stream_key)
    work(stream, data, settings, products, claim_all(stream, settings))


def dump(data: redis.Redis, product: str, board: str) -> dict[str, Any]:
    """Every key of ``board`` (:func:`owned`) with its value, and whether it expires."""
    prefix = Keys().product(product)
    found: dict[str, Any] = {}
    for raw in data.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode()
        if not owned(key[len(prefix):], board):
            continue
        found[key[len(prefix):]] = (value_of(data, key), data.pttl(key) > 0)
    return found


def value_of(data: redis.Redis, key: str) -> Any:
    kind = data.type(key).decode()  # type: ignore[union-attr]
    if kind == "zset":
        return data.zrange(key, 0, -1, withscores=True)
    if kind == "hash":
        return data.hgetall(key)
    if kind == "list":
        return data.lrange(key, 0, -1)
    if kind == "set":
        return sorted(data.smembers(key))  # type: ignore[arg-type]
    return data.get(key)


def rebuild(settings: Settings, product: str, board: str, *args: str,
            products_file: Path | None = None) -> Result:
    env = settings_env(settings)
    if products_file is not None:
        env["TRACKER_PRODUCTS_FILE"] = str(products_file)
    return CliRunner(env=env).invoke(main, ["rebuild-board", product, board, "--yes", *args])


def wreck(data: redis.Redis, product: str, board: str) -> None:
    """Delete the board's keys and leave a stale player behind, as a bad deploy could."""
    prefix = Keys().product(product)
    for raw in data.scan_iter(match=f"{prefix}*"):
        if owned(raw.decode()[len(prefix):], board):
            data.delete(raw)
    data.zadd(f"{prefix}lb:{board}", {"ghost": 99})
    data.hset(f"{prefix}rating:{board}:ghost", "mu", "1")
