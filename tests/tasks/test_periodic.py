"""The periodic tasks through a real Celery beat and worker: beat closes the periods that
are over (their standings land in the results stream once) and catches up a course
analysis that nobody scheduled."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from api.config import ApiSettings
from tests.support.handlers import RewardedRaceTimes, prizes_granted, race_entries
from tests.support.processes import BIN, Process, settings_env, start_worker, wait_until
from tests.tracker.edx.logs_gen import COURSE, traffic
from tracker.closing import PeriodResults
from tracker.edx.store import AnalyticsStore
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store

pytestmark = pytest.mark.slow
REWARDED = f"{RewardedRaceTimes.__module__}:{RewardedRaceTimes.__name__}"


def start_beat(settings: Settings, products: Products, tmp_path: Path) -> list[Process]:
    """A worker on every queue and a beat that runs the periodic tasks every second."""
    fast = dataclasses.replace(settings, periodic_seconds=1)
    worker = start_worker(fast, tmp_path, "w1", products.queues)
    args = [str(BIN / "celery"), "-A", "tasks", "beat", "-s", str(tmp_path / "schedule"),
            "--loglevel", "INFO"]
    return [worker, Process("beat", args, settings_env(fast), tmp_path)]


@pytest.fixture
def beat(settings: Settings, products: Products, tmp_path: Path) -> Iterator[list[Process]]:
    procs = start_beat(settings, products, tmp_path)
    yield procs
    for p in procs:
        p.stop()


def play_weeks_ago(products: Products, data: redis.Redis, weeks: int) -> Period:
    """race's laps in a past week, applied as they were then (a past period takes no
    late event); the week."""
    then = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-weeks)
    at = then.start_ms + 3_600_000
    laps = [("d1", 61), ("d2", 58), ("d1", 57), ("d3", 70)]
    entries = race_entries([(d, lap, 0, i) for i, (d, lap) in enumerate(laps)], at)
    BatchProcessor(products, Store(data), DeadLetters(data), clock=lambda: at / 1000 + 60
                   ).process("race", "s", entries)
    return then


def test_beat_closes_the_periods_that_are_over_once(
        beat: list[Process], products: Products, data: redis.Redis,
        settings: Settings) -> None:
    then = play_weeks_ago(products, data, 2)
    results = PeriodResults(data)

    def published() -> list[object]:
        return [r for r in results.read("race") if r.period == then.id]

    wait_until(lambda: len(published()) >= 4, 60, what="the week's results")
    time.sleep(3)  # beat runs it every second: nothing more comes
    assert len(published()) == 4  # laps and penalties, each once, and each one's bucket
    laps_result = next(r for r in results.read("race") if r.board == "laps"
                       and r.bucket is None and r.period == then.id)
    assert laps_result.top == [{"rank": 1, "user_id": "d1", "score": 57.0},
                               {"rank": 2, "user_id": "d2", "score": 58.0},
                               {"rank": 3, "user_id": "d3", "score": 70.0}]
    assert "tasks.close_periods" in beat[0].log()
    runs = {k.decode(): int(v) for k, v in data.hgetall(Keys().periodic_runs).items()}
    assert set(runs) == {"tasks.close_periods", "tasks.run_reward_hooks",
                         "tasks.catch_up_analyses"}
    assert all(time.time() - at < 30 for at in runs.values())
    scraped = create_app(settings, ApiSettings(rate_limit="off")).test_client().get("/metrics")
    gauges = {sample.labels["task"]: sample.value
              for family in text_string_to_metric_families(scraped.get_data(as_text=True))
              if family.name == "tracker_periodic_last_run_timestamp_seconds"
              for sample in family.samples}
    assert set(gauges) == set(runs)  # /metrics says when each last ran
    assert all(gauges[task] >= at for task, at in runs.items())


def test_beat_runs_the_reward_hooks_once_per_result(
        settings: Settings, data: redis.Redis, tmp_path: Path) -> None:
    ledger = tmp_path / "prizes.jsonl"
    config = tmp_path / "products.toml"
    config.write_text(f"""[products.race]
handlers = [{{ use = "{REWARDED}", prizes = "{ledger}", order = "asc", periods = ["week"], \
bucket_size = 3 }}]
""")  # the backslash joins the lines: an inline table is one line
    hooked = dataclasses.replace(settings, products_file=str(config))
    products = load_products(config)
    then = play_weeks_ago(products, data, 1)
    procs = start_beat(hooked, products, tmp_path)
    try:
        wait_until(lambda: len(prizes_granted(ledger)) >= 4, 60, what="the prizes granted")
        time.sleep(3)  # beat runs the hooks every second: none is called twice
    finally:
        for p in procs:
            p.stop()
    granted = prizes_granted(ledger)
    assert sorted((g["board"], str(g["bucket"])) for g in granted) == [
        ("laps", "0"), ("laps", "None"), ("penalties", "0"), ("penalties", "None")]
    assert {g["period"] for g in granted} == {then.id}
    laps = next(g for g in granted if g["board"] == "laps" and g["bucket"] is None)
    assert laps["winner"] == "d1"
    assert sorted(g["id"] for g in granted) == sorted(
        r.id for r in PeriodResults(data).read("race"))
    assert "tasks.run_reward_hooks" in procs[0].log()


def test_beat_catches_up_a_course_analysis_nobody_scheduled(
        beat: list[Process], products: Products, data: redis.Redis) -> None:
    # tracking-log lines applied without a worker: no analysis is scheduled for them
    entries = [(f"1700000000000-{i}", {b"product_id": b"edx", b"type": b"tracking_log",
                                       b"line": line.encode()})
               for i, line in enumerate(traffic(seed=3))]
    report = BatchProcessor(products, Store(data), DeadLetters(data)).process(
        "edx", "s", entries)
    assert report.applied == len(entries)
    store = AnalyticsStore(data)
    assert store.report(COURSE) is None
    wait_until(lambda: store.report(COURSE) is not None, 60, what="the course report")
