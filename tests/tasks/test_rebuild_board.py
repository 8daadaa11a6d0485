"""The README's way to add a board to a product with history: stop the product's workers,
``tracker rebuild-board`` with the new configuration, start them with it. Real bridge and
workers: the entries the bridge read while the workers were stopped wait in flight, the
rebuild leaves them to the workers, and every game counts once on the new board."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.pipeline import expected_wins, group_drained, wait_for_pipeline
from tests.support.processes import settings_env, start_bridge, start_worker, wait_until
from tests.support.varcade import game_over, xadd_all
from tracker.periods import Period, PeriodKind, period_board
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Store

PLAYERS = [f"player-{i}" for i in range(20)]


def results(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [game_over(rng.choice(["pong", "exrps"]), *rng.sample(PLAYERS, 2)) for _ in range(n)]


def test_a_weekly_board_added_later_holds_every_game_once(
        settings: Settings, stream: redis.Redis, data: redis.Redis, tmp_path: Path) -> None:
    weekly = tmp_path / "products.toml"
    weekly.write_text(TEST_PRODUCTS.read_text().replace("pong = {}", (
        'pong = { handlers = [{ use = "wins", periods = ["week"] }, "player_stats"] }')))
    queues = load_products(weekly).queues
    store = Store(data, Keys())
    before, during = results(600, 1), results(400, 2)
    week = period_board("wins", Period.containing(PeriodKind.WEEK, int(
        stream.time()[0]) * 1000))

    bridge = start_bridge(settings, tmp_path, "b1")
    worker = start_worker(settings, tmp_path, "old", queues, concurrency=2)
    procs = [bridge, worker]
    try:
        xadd_all(stream, before, key=settings.stream_key)
        wait_for_pipeline(settings, queues)
        assert dict(store.top("pong", week, count=100)) == {}  # no weekly board yet

        worker.stop()  # the product's workers stop; the bridge reads on, into parts in flight
        last = xadd_all(stream, during, key=settings.stream_key)[-1]
        wait_until(lambda: stream.xinfo_groups(settings.stream_key)[0]["last-delivered-id"]
                   == last.encode(), 30, what="the bridge read everything")
        assert not group_drained(stream, settings)

        out = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(weekly))).invoke(
            main, ["rebuild-board", "pong", "wins", "--yes"])
        assert out.exit_code == 0, out.output
        waiting = sum(1 for r in during if r["product_id"] == "pong")
        assert f"{waiting:,} entries in flight are left to the workers" in out.output
        assert dict(store.top("pong", week, count=100)) == {
            k: float(v) for k, v in expected_wins(before, "pong").items()}

        new = dataclasses.replace(settings, products_file=str(weekly))
        procs.append(start_worker(new, tmp_path, "new", queues, concurrency=2))
        wait_for_pipeline(settings, queues)
    finally:
        for p in procs:
            p.stop()
    everything = {k: float(v) for k, v in expected_wins(before + during, "pong").items()}
    assert dict(store.top("pong", week, count=100)) == everything
    assert dict(store.top("pong", "wins", count=100)) == everything
