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
from tests.support.handlers import race_entries
from tests.support.processes import BIN, Process, settings_env, start_worker, wait_until
from tests.tracker.edx.logs_gen import COURSE, traffic
from tracker.closing import PeriodResults
from tracker.edx.store import AnalyticsStore
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store

pytestmark = pytest.mark.slow


@pytest.fixture
def beat(settings: Settings, products: Products, tmp_path: Path) -> Iterator[list[Process]]:
    """A worker on every queue and a beat that runs the periodic tasks every second."""
    fast = dataclasses.replace(settings, periodic_seconds=1)
    worker = start_worker(fast, tmp_path, "w1", products.queues)
    args = [str(BIN / "celery"), "-A", "tasks", "beat", "-s", str(tmp_path / "schedule"),
            "--loglevel", "INFO"]
    procs = [worker, Process("beat", args, settings_env(fast), tmp_path)]
    yield procs
    for p in procs:
        p.stop()


def test_beat_closes_the_periods_that_are_over_once(
        beat: list[Process], products: Products, data: redis.Redis,
        settings: Settings) -> None:
    # laps two weeks ago, applied as they were then (a past period takes no late event)
    then = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-2)
    at = then.start_ms + 3_600_000
    laps = [("d1", 61), ("d2", 58), ("d1", 57), ("d3", 70)]
    entries = race_entries([(d, lap, 0, i) for i, (d, lap) in enumerate(laps)], at)
    BatchProcessor(products, Store(data), DeadLetters(data), clock=lambda: at / 1000 + 60
                   ).process("race", "s", entries)
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
    assert set(runs) == {"tasks.close_periods", "tasks.catch_up_analyses"}
    assert all(time.time() - at < 30 for at in runs.values())
    scraped = create_app(settings, ApiSettings(rate_limit="off")).test_client().get("/metrics")
    gauges = {sample.labels["task"]: sample.value
              for family in text_string_to_metric_families(scraped.get_data(as_text=True))
              if family.name == "tracker_periodic_last_run_timestamp_seconds"
              for sample in family.samples}
    assert set(gauges) == set(runs)  # /metrics says when each last ran
    assert all(gauges[task] >= at for task, at in runs.items())


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
