"""Several bridges and worker processes on one product: counts exact, Elo zero-sum."""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import uuid
from pathlib import Path

import pytest
import redis

from tests.support.pipeline import expected_wins, wait_for_pipeline
from tests.support.processes import start_bridge, start_worker
from tests.support.varcade import game_over, xadd_all
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import Store

EVENTS = 20_000
PLAYERS = [str(uuid.UUID(int=(7 << 64) + i)) for i in range(200)]


@pytest.mark.slow
def test_two_bridges_four_worker_processes_20k_results(
        settings: Settings, products: Products, stream: redis.Redis, store: Store,
        tmp_path: Path) -> None:
    settings = dataclasses.replace(settings, batch_size=100)  # many tasks in flight at once
    rng = random.Random(2026)
    rows = [game_over("exrps", *rng.sample(PLAYERS, 2)) for _ in range(EVENTS)]

    # 2 workers x 2 prefork processes = 4 processes writing the same boards
    workers = [start_worker(settings, tmp_path, f"w{i}", products.queues, concurrency=2)
               for i in range(2)]
    bridges = [start_bridge(settings, tmp_path, f"b{i}") for i in range(2)]
    try:
        # two producers writing while the bridges read
        halves = [rows[: EVENTS // 2], rows[EVENTS // 2:]]
        writers = [threading.Thread(target=xadd_all, args=(redis.Redis.from_url(
            settings.stream_url), half, settings.stream_key, 500)) for half in halves]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        wait_for_pipeline(settings, products.queues, timeout=300)
    finally:
        for p in bridges + workers:
            p.stop()

    wins = expected_wins(rows, "exrps")
    board = dict(store.top("exrps", "wins", count=1000))
    assert board == {p: float(n) for p, n in wins.items()}
    assert sum(board.values()) == EVENTS

    elo = dict(store.top("exrps", "elo", count=1000))
    assert len(elo) == len(PLAYERS)
    assert sum(elo.values()) == len(PLAYERS) * 1500  # exact: ratings live on a 1/65536 grid
    games = sum(store.player_stats("exrps", p).get("games", 0) for p in PLAYERS)
    assert games == 2 * EVENTS
    assert all("Traceback" not in w.log() for w in workers), "a worker task failed"
    forwarded = [int(m) for b in bridges
                 for m in re.findall(r"stopped after forwarding (\d+) entries", b.log())]
    assert len(forwarded) == 2 and sum(forwarded) == EVENTS  # each entry handed on once
