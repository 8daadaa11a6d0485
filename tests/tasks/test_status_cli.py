"""``tracker status`` against a real Redis and a real Celery worker."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.pipeline import in_flight
from tests.support.processes import settings_env, start_worker
from tests.support.varcade import P1, P2, game_over, raw
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store


def test_status_shows_the_pipeline_and_what_needs_attention(
        settings: Settings, products: Products, store: Store, dead_letters: DeadLetters,
        stream: redis.Redis, data: redis.Redis, tmp_path: Path) -> None:
    processor = BatchProcessor(products, store, dead_letters)
    games = [(f"1764400000000-{i}", raw(game_over("exrps", P1, P2))) for i in range(3)]
    assert processor.process("exrps", "s", games).applied == 3
    assert processor.process("exrps", "s", games[:1]).duplicates == 1
    processor.process("exrps", "s", [("1764400000001-0", raw(game_over("exrps", P1, P1)))])
    for n in range(4):
        stream.xadd(settings.stream_key, {"product_id": "pong", "n": n})
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0")
    in_flight(stream, settings).claim("bridge-1", count=1, part_size=10, max_in_flight=100,
                                      idle_ms=60_000)
    left_out = products.queues[0]  # no worker consumes it
    worker = start_worker(settings, tmp_path, "statusseen", products.queues[1:])
    runner = CliRunner(env=settings_env(settings))
    try:
        out = runner.invoke(main, ["status", "--json", "--timeout", "5"])  # a loaded CI
        text = runner.invoke(main, ["status", "--strict", "--timeout", "5"])
    finally:
        worker.stop()
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["products"]["exrps"] == {"applied": 3, "duplicates": 1, "late": 0, "refused": 0}
    assert got["products"]["pong"] == {"applied": 0, "duplicates": 0, "late": 0, "refused": 0}
    assert got["stream"] == {"length": 4, "in_flight": 1, "lag": 3}
    assert got["dead_letters"] == 1 and got["periodic_runs"] == {}
    (name,) = got["workers"]
    assert name.startswith("statusseen@") and got["workers"][name] == sorted(products.queues[1:])
    notes = "\n".join(got["attention"])
    assert "1 dead letter(s)" in notes and f"no worker consumes queue(s) {left_out}:" in notes
    assert "Celery beat has never run" in notes

    assert text.exit_code == 1, text.output  # --strict: something needs attention
    lines = text.output.splitlines()
    assert "game_event_stream: 4 entries, 3 unread, 1 in flight" in lines[0]
    assert any(line.split() == ["exrps", "3", "1", "0", "0"] for line in lines)
    assert any(line.startswith("workers") and name in line for line in lines)
    assert any(line.startswith("attention") and "dead letter" in line for line in lines)

    # all looked after: beat ran a minute ago, the letter is purged; workers not asked
    data.hset(Keys().periodic_runs, "tasks.close_periods", int(time.time()) - 60)
    assert dead_letters.remove(list(dead_letters.scan())) == 1
    calm = runner.invoke(main, ["status", "--strict", "--no-workers"])
    assert calm.exit_code == 0, calm.output
    assert "attention     none" in calm.output and "tasks.close_periods 6" in calm.output
    assert "workers" not in calm.output

    # beat stopped long ago
    data.hset(Keys().periodic_runs, "tasks.close_periods", int(time.time()) - 3600)
    stale = runner.invoke(main, ["status", "--json", "--no-workers"])
    (note,) = json.loads(stale.output)["attention"]
    assert re.fullmatch(r"tasks\.close_periods last ran 360\d s ago: is Celery beat running\?",
                        note), note


def test_status_says_when_redis_does_not_answer(settings: Settings) -> None:
    env = settings_env(settings, TRACKER_REDIS_URL="redis://127.0.0.1:1/0")
    out = CliRunner(env=env).invoke(main, ["status", "--no-workers"])
    assert out.exit_code == 1 and "Redis:" in out.output and "Traceback" not in out.output


def test_status_shows_the_seasons_set_at_run_time(settings: Settings, data: redis.Redis,
                                                   tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text('[products]\narena = { handlers = [{ use = "wins", periods = ["season"], '
                      'seasons = "manual" }] }\npong = {}\n')
    now = int(time.time() * 1000)
    day = 86_400_000
    data.set("st:{arena}:seasons:wins", json.dumps([
        ["s1", str(now - 3 * day), str(now - day)], ["s2", str(now - day), str(now + day)],
        ["s3", str(now + 2 * day), str(now + 9 * day)]]))
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))
    text = runner.invoke(main, ["status", "--no-workers"])
    assert text.exit_code == 0, text.output
    (line,) = [x for x in text.output.splitlines() if x.startswith("seasons")]
    assert re.fullmatch(r"seasons       arena/wins: s2 until \S+ \S+ UTC; next s3 at \S+ \S+ UTC",
                        line), line
    got = json.loads(runner.invoke(main, ["status", "--json", "--no-workers"]).output)
    assert [x["id"] for x in got["seasons"]["arena/wins"]] == ["s1", "s2", "s3"]
    data.set("st:{arena}:seasons:wins", json.dumps([["s1", str(now - 3 * day),
                                                     str(now - day)]]))
    text = runner.invoke(main, ["status", "--no-workers"])
    assert "seasons       arena/wins: none running\n" in text.output
