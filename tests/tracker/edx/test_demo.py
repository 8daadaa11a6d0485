"""The demo course of `tracker stack`: realistic lines, every one an event, figures with
substance, the instructor left out by the roster."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from tracker.edx.demo import DEMO_COURSE, INSTRUCTOR, demo_log, write_demo
from tracker.edx.logs import parse_line, read_events
from tracker.edx.report import build_reports
from tracker.edx.store import read_roster


def test_every_line_is_an_event_of_the_course() -> None:
    lines = demo_log(random.Random(1), learners=10, days=3, start=1_764_000_000)
    events = [parse_line(ln) for ln in lines]
    assert all(e is not None and e.course_id == DEMO_COURSE and e.unit for e in events)
    actions = Counter(e.action for e in events if e is not None)
    assert {"video.load", "video.play", "video.pause", "video.seek", "nav.sequence",
            "problem.check", "page.close"} <= set(actions)
    assert demo_log(random.Random(1), learners=10, days=3, start=1_764_000_000) == lines


def test_the_written_demo_gives_a_report_without_its_instructor(tmp_path: Path) -> None:
    log, roster_file = write_demo(tmp_path, learners=12)
    roster = read_roster(roster_file)[DEMO_COURSE]
    assert roster[INSTRUCTOR].is_staff and len(roster) == 13
    skipped: Counter[str] = Counter()
    reports = build_reports(read_events([log], skipped),
                            lambda _c, user: roster[user].is_staff)
    report = reports[DEMO_COURSE]
    assert not skipped and INSTRUCTOR not in report.time_spent
    assert 6 <= len(report.time_spent) <= 12
    summary = report.as_dict()
    assert summary["total_time_30min_s"] > 0 and len(summary["units"]) >= 3  # type: ignore[arg-type]
    videos = summary["videos"]
    assert videos and all(0 < v["mean_coverage"] <= 1 for v in videos)  # type: ignore[index, union-attr]
