"""A season started at run time (``tracker season start``) while a real bridge and Celery
worker run: the worker read the calendar before the change, and still counts every game
of the season on the season's board, and none before it."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.pipeline import expected_wins, wait_for_pipeline
from tests.support.processes import settings_env, start_bridge, start_worker
from tests.support.varcade import game_over, xadd_all
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Store
from tracker.storage.seasons import SeasonCalendar

PLAYERS = [f"player-{i}" for i in range(12)]


def games(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [game_over("pong", *rng.sample(PLAYERS, 2)) for _ in range(n)]


def test_a_season_started_while_the_pipeline_runs_counts_the_games_of_its_time(
        settings: Settings, stream: redis.Redis, data: redis.Redis, tmp_path: Path) -> None:
    manual = tmp_path / "products.toml"
    manual.write_text(TEST_PRODUCTS.read_text().replace("pong = {}", (
        'pong = { handlers = [{ use = "wins", periods = ["season"], seasons = "manual" }, '
        '"player_stats"] }')))
    settings = dataclasses.replace(settings, products_file=str(manual))
    queues = load_products(manual).queues
    store = Store(data, Keys())
    before, during = games(300, 1), games(200, 2)
    procs = [start_bridge(settings, tmp_path, "b1"),
             start_worker(settings, tmp_path, "w1", queues, concurrency=2)]
    try:
        xadd_all(stream, before, key=settings.stream_key)
        wait_for_pipeline(settings, queues)  # the worker has read the calendar: no season

        out = CliRunner(env=settings_env(settings)).invoke(
            main, ["season", "start", "pong", "wins", "s1", "--days", "7"])
        assert out.exit_code == 0, out.output
        [season] = SeasonCalendar(data).read("pong", ("wins",))[1]["wins"]
        # the season's games, stamped from its first instant (a game server's clock a
        # minute ahead of now): the worker must read the calendar again before them
        pipe = stream.pipeline(transaction=False)
        for i, fields in enumerate(during):
            pipe.xadd(settings.stream_key, fields, id=f"{season.start_ms + i}-0")  # type: ignore[arg-type]
        pipe.execute()
        wait_for_pipeline(settings, queues)
    finally:
        for p in procs:
            p.stop()
    assert dict(store.top("pong", "wins:s1", count=100)) == {
        k: float(v) for k, v in expected_wins(during, "pong").items()}
    assert dict(store.top("pong", "wins", count=100)) == {
        k: float(v) for k, v in expected_wins(before + during, "pong").items()}
