"""The README's recovery after a crash of the data Redis that lost writes, with the stream
in another Redis (Varcade's set-up): the stream says every entry was applied, the boards
miss the lost ones, and ``tracker replay`` from a little before the crash makes them
exact again, counting nothing twice. Real servers, bridge and workers.

The data Redis keeps RDB snapshots only (no AOF), so the loss is exact: everything
written after the last ``SAVE``.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.pipeline import expected_stats, expected_wins, wait_for_pipeline
from tests.support.processes import settings_env
from tests.support.varcade import xadd_all
from tests.tasks.conftest import ServerFactory
from tests.tasks.test_outages import QUEUES, board, outage_settings, results, start
from tracker.storage import Keys, Store


def test_a_replay_from_before_the_crash_brings_back_exactly_what_it_lost(
        redis_servers: ServerFactory, tmp_path: Path) -> None:
    data = redis_servers("data", "--appendonly", "no")  # RDB only: SAVE is what survives
    other = redis_servers("stream-and-broker")
    settings = outage_settings(data.url(0), other.url(1), other.url(2))
    stream = redis.Redis.from_url(settings.stream_url)
    store = Store(redis.Redis.from_url(settings.redis_url), Keys())
    saved, lost = results(600, 5), results(600, 6)
    procs = start(settings, tmp_path)
    try:
        xadd_all(stream, saved, key=settings.stream_key)
        wait_for_pipeline(settings, QUEUES)
        data.client().save()
        [(last_saved, _)] = stream.xrevrange(settings.stream_key, count=1)
        time.sleep(0.01)  # the next entries' ids come after the snapshot's moment
        xadd_all(stream, lost, key=settings.stream_key)
        wait_for_pipeline(settings, QUEUES)
        assert board(store, "exrps") == {k: float(v) for k, v in
                                         expected_wins(saved + lost, "exrps").items()}

        data.restart()  # SIGKILL, then back from the snapshot: the second batch is gone
        for product in ("exrps", "pong"):
            assert board(store, product) == {k: float(v) for k, v in
                                             expected_wins(saved, product).items()}

        # from a little before the crash: the last of what survived comes again too
        since = int(last_saved.decode().split("-")[0]) - 50
        replay = CliRunner(env=settings_env(settings)).invoke(
            main, ["replay", "--since", str(since), "--yes", "--wait"])
        assert replay.exit_code == 0, replay.output
        wait_for_pipeline(settings, QUEUES)
    finally:
        for p in procs:
            p.stop()
    for product in ("exrps", "pong"):
        assert board(store, product) == {k: float(v) for k, v in
                                         expected_wins(saved + lost, product).items()}
        for player, stats in expected_stats(saved + lost, product).items():
            assert store.player_stats(product, player) == dict(stats)
    totals = store.counters(["exrps", "pong"])
    assert sum(t.get("applied", 0) for t in totals.values()) == len(saved) + len(lost)
    assert sum(t.get("duplicates", 0) for t in totals.values()) >= 1  # read again, once
