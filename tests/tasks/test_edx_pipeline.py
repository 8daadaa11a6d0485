"""Open edX tracking logs end to end: `tracker edx-ingest` → stream → bridge → Celery worker
→ course timelines → the worker's analysis → the reports the read API serves."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tests.support.pipeline import wait_for_pipeline
from tests.support.processes import Process, settings_env, start_bridge, start_worker, wait_until
from tests.tracker.edx.logs_gen import COURSE, OTHER, line, traffic
from tracker.edx.cli import edx_analyze_command, edx_import_command, edx_ingest_command
from tracker.edx.store import AnalyticsStore
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return dataclasses.replace(settings, analysis_delay_ms=300)


@pytest.fixture
def running(fast: Settings, products: Products, tmp_path: Path) -> Iterator[list[Process]]:
    procs = [start_worker(fast, tmp_path, "w1", products.queues, concurrency=2),
             start_bridge(fast, tmp_path, "b1")]
    yield procs
    for p in procs:
        p.stop()


def reports(store: AnalyticsStore) -> dict[str, Any]:
    return {c: (store.report(c), store.learners(c)) for c in (COURSE, OTHER)}


def test_logs_sent_through_the_bridge_give_the_reports_of_an_import(
        running: list[Process], fast: Settings, products: Products, data: redis.Redis,
        dead_letters: DeadLetters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = traffic(seed=11)
    half = len(lines) // 2
    plain, packed = tmp_path / "tracking.log", tmp_path / "tracking.log-1.gz"
    plain.write_text("\n".join([*lines[:half], "", "{broken"]) + "\n")
    with gzip.open(packed, "wt") as fh:  # a rotated file, its second half again too
        fh.write("\n".join(lines[half:] + lines[half:]) + "\n")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"course_id,username,role,email,name\n{COURSE},prof,instructor,,\n"
                      f"{COURSE},ann,student,ann@example.org,Ann\n")
    for name, value in settings_env(fast).items():
        if name.startswith("TRACKER_"):
            monkeypatch.setenv(name, value)

    sent = CliRunner().invoke(edx_ingest_command, [str(plain), str(packed), "--roster",
                                                   str(roster)])
    assert sent.exit_code == 0, sent.output
    assert f"{len(lines) + (len(lines) - half) + 1} lines sent" in sent.output
    wait_for_pipeline(fast, products.queues)
    store = AnalyticsStore(data)
    # the worker's own analysis, TRACKER_ANALYSIS_DELAY_MS after the last part
    wait_until(lambda: store.report(OTHER) is not None
               and not data.hgetall("st:{edx}:timelines"), timeout=60)
    through_pipeline = reports(store)
    assert through_pipeline[COURSE][0]["learners"] == 4  # prof is the course team
    assert "prof" not in through_pipeline[COURSE][1]
    (letter,) = dead_letters.list()
    assert letter.reason == "invalid_fields" and letter.fields[b"line"] == b"{broken"

    # the same files imported directly give the same stored reports
    imported = CliRunner().invoke(edx_import_command, [str(plain), str(packed), "--roster",
                                                       str(roster)])
    assert imported.exit_code == 0, imported.output
    assert reports(store) == through_pipeline
    assert "no course changed" in CliRunner().invoke(edx_analyze_command, []).output


def test_the_analysis_command_rebuilds_at_once(
        settings: Settings, data: redis.Redis, stream: redis.Redis, products: Products,
        store: Store, dead_letters: DeadLetters, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in settings_env(settings).items():
        if name.startswith("TRACKER_"):
            monkeypatch.setenv(name, value)
    log = tmp_path / "tracking.log"
    log.write_text(line("seq_goto", 1_764_400_000, {}) + "\n"
                   + line("seq_goto", 1_764_400_042, {}) + "\n")
    assert CliRunner().invoke(edx_ingest_command, [str(log)]).exit_code == 0
    entries: Any = stream.xrange(settings.stream_key)
    assert len(entries) == 2
    # applied as a worker applies a part, but no worker is there to analyse the course
    processed = BatchProcessor(products, store, dead_letters).process(
        "edx", settings.stream_key, [(i.decode(), f) for i, f in entries])
    assert processed.applied == 2
    analytics = AnalyticsStore(data)
    assert analytics.report(COURSE) is None
    answer = CliRunner().invoke(edx_analyze_command, [])
    assert answer.exit_code == 0, answer.output
    assert f"{COURSE}: report brought up to date, 1 learners worked out again" in answer.output
    report = analytics.report(COURSE)
    assert report is not None and report["total_time_5min_s"] == 42
