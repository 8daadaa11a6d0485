"""Tracking logs through the pipeline's processing, against a real Redis: the reports a
worker's analysis builds from the timelines equal those built from the files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracker.edx.logs_gen import (
    COURSE,
    OTHER,
    T0,
    UNIT,
    VIDEO,
    as_entries,
    file_reports,
    line,
    session,
    traffic,
    video,
)
from tracker.edx.ingest import Busy, CourseAnalysis
from tracker.edx.logs import parse_line
from tracker.edx.records import from_record, parse_timeline, timeline, to_record
from tracker.edx.store import Member
from tracker.events import InvalidEvent, parse_entry
from tracker.processing import BatchProcessor
from tracker.storage import DeadLetters


def test_a_report_through_the_pipeline_equals_the_report_from_the_files(
        tmp_path: Path, pipeline: tuple[BatchProcessor, CourseAnalysis]) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=3)
    batch = as_entries(lines)
    for start in range(0, len(batch), 37):  # parts of any size
        report = processor.process("edx", "s", batch[start:start + 37])
        assert not report.dead_lettered
    assert analysis.run("edx") == {COURSE: 5, OTHER: 5}
    expected = file_reports(tmp_path, lines)
    for course in (COURSE, OTHER):
        assert analysis.analytics.report(course) == expected[course].as_dict()
        assert analysis.analytics.learners(course) == expected[course].time_spent
    (stats, *_) = expected[COURSE].videos.values()
    assert len(stats.coverage) == 5  # every learner watched: the test has substance
    assert analysis.run("edx") == {}  # nothing changed since


def test_lines_seen_again_count_once(tmp_path: Path, pipeline: tuple[BatchProcessor,
                                                                     CourseAnalysis]) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=5)
    first = as_entries(lines)
    processor.process("edx", "s", first)
    again = processor.process("edx", "s", first)  # a redelivered part
    assert again.duplicates == len(lines) and again.applied == 0
    # the same file ingested a second time: new entries, the same events
    second = processor.process("edx", "s", as_entries(lines[:50], base_ms=1_800_000_000_000))
    assert second.applied == 50
    analysis.run("edx")
    data = analysis.timelines.client
    kept = sum(data.zcard(k) for k in data.scan_iter("st:{edx}:tl:*"))
    assert kept == len(lines)
    assert analysis.analytics.report(COURSE) == file_reports(tmp_path, lines)[COURSE].as_dict()


def test_the_roster_s_course_team_is_left_out(tmp_path: Path, pipeline: tuple[
        BatchProcessor, CourseAnalysis]) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=8)
    processor.process("edx", "s", as_entries(lines))
    analysis.run("edx")
    analysis.analytics.save_roster(COURSE, {"prof": Member("instructor"), "ann": Member("student")})
    assert analysis.run("edx") == {}  # the timelines did not change
    assert "prof" in analysis.analytics.learners(COURSE)
    analysis.timelines.touch("edx", timeline(COURSE, ""))  # what `--roster` does
    assert analysis.run("edx") == {COURSE: 0}  # no learner's part changed: added up again
    assert set(analysis.analytics.learners(COURSE)) == {"ann", "bob", "cid", "dee"}
    expected = file_reports(tmp_path, lines, team={"prof"})[COURSE]
    assert analysis.analytics.report(COURSE) == expected.as_dict()


def test_a_course_that_changes_during_its_analysis_stays_marked(
        pipeline: tuple[BatchProcessor, CourseAnalysis]) -> None:
    processor, analysis = pipeline
    processor.process("edx", "s", as_entries([line("seq_goto", T0, {}, user="ann")]))
    (changes,) = analysis.timelines.changed("edx").values()
    processor.process("edx", "s", as_entries([line("seq_goto", T0 + 9, {}, user="ann")],
                                             base_ms=1_800_000_000_000))
    assert not analysis.timelines.settle("edx", timeline(COURSE, "ann"), changes)  # it changed
    assert analysis.run("edx") == {COURSE: 1}
    assert analysis.analytics.report(COURSE)["total_time_5min_s"] == 9  # type: ignore[index]
    assert analysis.timelines.changed("edx") == {}


def test_bad_lines_are_dead_lettered_with_their_reason_and_the_rest_goes_on(
        pipeline: tuple[BatchProcessor, CourseAnalysis], dead_letters: DeadLetters) -> None:
    processor, analysis = pipeline
    good = line("seq_goto", T0, {}, user="ann")
    anonymous = line("page_close", T0, {}, user="")
    no_course = line("page_close", T0, {}, user="ann", course="", page="https://lms/dashboard")
    bad = ['{"username": "ann", "time": "2026-13-45"}', "{oops", "no json here",
           '{"username": "ann", "time": "2026-11-30T00:00:00+00:00", '
           '"context": {"course_id": "x\\ud800"}}']
    batch = as_entries([good, *bad, anonymous, no_course])
    report = processor.process("edx", "s", batch)
    assert report.applied == 1 and report.ignored == 2
    assert report.dead_lettered == {"invalid_fields": 4}
    letters = {letter.entry_id: letter for letter in dead_letters.list()}
    assert [letters[batch[i][0]].fields[b"line"].decode() for i in (1, 2, 3, 4)] == bad
    assert "no_time" in letters[batch[1][0]].detail
    assert "broken_json" in letters[batch[2][0]].detail
    assert "no_json" in letters[batch[3][0]].detail
    assert "not valid Unicode" in letters[batch[4][0]].detail
    assert analysis.run("edx") == {COURSE: 1}


def test_an_entry_without_its_line_is_refused() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_entry("1-0", {b"product_id": b"edx", b"type": b"tracking_log"})
    assert caught.value.reason == "invalid_fields" and "line" in caught.value.detail
    with pytest.raises(InvalidEvent):
        parse_entry("1-0", {b"product_id": b"edx", b"type": b"tracking_log", b"line": b""})


names = st.sampled_from(["play_video", "pause_video", "stop_video", "seek_video", "seq_goto",
                         "page_close", "problem_check", "edx.video.played"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.tuples(names, st.sampled_from(["ann", "bob"]),
                                 st.integers(0, 4000), st.integers(0, 3), st.floats(0, 200)),
                       min_size=1, max_size=40),
       split=st.integers(1, 40), duplicates=st.integers(0, 10))
def test_any_log_gives_the_same_report_both_ways(
        tmp_path: Path, pipeline: tuple[BatchProcessor, CourseAnalysis], data: redis.Redis,
        events: list[tuple[str, str, int, int, float]], split: int, duplicates: int) -> None:
    """Same-instant events, repeated lines, seeks, units: the two ways agree exactly."""
    data.flushdb()
    processor, analysis = pipeline
    lines = [line(name, T0 + tenth / 10, video(currentTime=pos, old_time=pos, new_time=pos / 2,
                                                duration=200),
                  user=user, page=f"https://apps.lms/learning/course/{COURSE}/{UNIT.format(unit)}")
             for name, user, tenth, unit, pos in events]
    lines += lines[:duplicates]
    batch = as_entries(lines)
    for start in range(0, len(batch), split):
        processor.process("edx", "s", batch[start:start + split])
    analysis.run("edx")
    expected = file_reports(tmp_path, lines)[COURSE].as_dict()
    assert analysis.analytics.report(COURSE) == expected
    assert json.loads(json.dumps(expected)) == expected


def test_a_record_keeps_what_the_figures_read() -> None:
    played = parse_line(line("play_video", T0 + 0.123456, video(currentTime=1.5), user="é"))
    assert played is not None
    back = from_record(COURSE, "é", to_record(played).encode())
    assert back == played  # a video event comes back whole
    closed = parse_line(line("page_close", T0, {"a": 1}, user="ann"))
    assert closed is not None and from_record(COURSE, "ann", to_record(closed)).payload != \
        closed.payload
    assert to_record(closed) != to_record(parse_line(line("page_close", T0, {"a": 2}))  # type: ignore[arg-type]
                                          )
    with pytest.raises(ValueError):
        from_record(COURSE, "ann", b"[1, 2]")
    assert VIDEO in to_record(played)


def test_only_learners_with_new_events_are_worked_out_again(
        tmp_path: Path, pipeline: tuple[BatchProcessor, CourseAnalysis]) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=13)
    processor.process("edx", "s", as_entries(lines))
    assert analysis.run("edx") == {COURSE: 5, OTHER: 5}
    more = session(random.Random(1), "bob", COURSE, T0 + 9 * 86_400)
    processor.process("edx", "s", as_entries(more, base_ms=1_800_000_000_000))
    assert analysis.run("edx") == {COURSE: 1}  # bob's part only; the rest added up again
    assert analysis.analytics.report(COURSE) == file_reports(tmp_path, lines + more)[
        COURSE].as_dict()


def test_analyses_of_a_product_take_turns(pipeline: tuple[BatchProcessor,
                                                          CourseAnalysis]) -> None:
    processor, analysis = pipeline
    processor.process("edx", "s", as_entries([line("seq_goto", T0, {}, user="ann")]))
    token = analysis.timelines.lock("edx", 10_000)  # as a running analysis holds it
    assert token is not None
    assert analysis.timelines.schedule("edx", 10_000)  # the worker scheduled the next
    with pytest.raises(Busy):
        analysis.run("edx")
    assert analysis.timelines.changed("edx")  # nothing was settled
    assert not analysis.timelines.schedule("edx", 10_000)  # a waiting run keeps the schedule
    analysis.timelines.unlock("edx", "not-the-token")  # only the holder frees it
    with pytest.raises(Busy):
        analysis.run("edx")
    analysis.timelines.unlock("edx", token)
    assert analysis.run("edx") == {COURSE: 1}
    assert analysis.timelines.schedule("edx", 10_000)  # a run clears it: new events schedule


@given(course=st.text(min_size=1, max_size=30), user=st.text(max_size=30))
def test_timeline_names_are_unambiguous(course: str, user: str) -> None:
    assert parse_timeline(timeline(course, user)) == (course, user)
