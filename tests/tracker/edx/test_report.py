"""Course reports from log files: time spent, videos, duplicates, the course team."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.tracker.edx.logs_gen import COURSE, VIDEO, line, video
from tracker.edx.logs import read_events
from tracker.edx.report import build_reports
from tracker.edx.timespent import time_by_day, time_by_unit, time_spent

MIDNIGHT = 1_764_374_400.0  # 2025-11-29 00:00 UTC


def test_gaps_are_credited_to_the_unit_of_their_first_event() -> None:
    times = [0.0, 10.0, 20.0, 2000.0, 2030.0, 2040.0]
    units = ["u1", None, "u2", None, None, "u3"]
    assert time_by_unit(times, units, 300) == {"u1": 20.0, "u2": 40.0}
    assert time_by_unit([0.0, 5.0], [None, "u1"], 300) == {}  # no unit yet: uncredited


def test_gaps_are_booked_on_the_day_they_start() -> None:
    times = [MIDNIGHT - 100, MIDNIGHT - 10, MIDNIGHT + 50, MIDNIGHT + 4000]
    assert time_by_day(times, 300) == {"2025-11-28": 150.0}
    assert time_by_day(times, 3600) == {"2025-11-28": 150.0}
    assert time_by_day(times, 4000) == {"2025-11-28": 150.0, "2025-11-29": 3950.0}


def test_time_spent_sums_gaps_below_the_cutoff() -> None:
    times = [0.0, 60.0, 120.5, 2000.0, 2100.0]  # a 31-minute gap: two sessions
    assert time_spent(times, 300).seconds == pytest.approx(220.5)
    assert time_spent(times, 300).sessions == 2
    assert time_spent(times, 1800).seconds == pytest.approx(220.5)  # 1879.5 s is not < 1800
    assert time_spent(times, 3600).seconds == 2100 and time_spent([5.0], 300).seconds == 0


def test_a_report_from_two_files(tmp_path: Path) -> None:
    # ann's session crosses midnight and the two rotated files; bob watches all
    ann = [line("play_video", MIDNIGHT - 30, video(currentTime=0, duration=0)),
           line("pause_video", MIDNIGHT - 10, video(currentTime=20)),
           line("play_video", MIDNIGHT + 10, video(currentTime=20), tutor=True),
           line("pause_video", MIDNIGHT + 40, video(currentTime=50, duration=100),
                spaced=True, as_string=False, source="mobile")]
    bob = [line("play_video", MIDNIGHT + 100, video(currentTime=0), user="bob"),
           line("stop_video", MIDNIGHT + 200, video(currentTime=100), user="bob")]
    staff = [line("play_video", MIDNIGHT + 5, video(currentTime=0), user="prof")]
    anonymous = [line("page_close", MIDNIGHT, {}, user="")]
    first, second = tmp_path / "tracking.log-1", tmp_path / "tracking.log-2"
    first.write_text("\n".join(ann[:2] + staff) + "\n")
    second.write_text("\n".join(ann[2:] + bob + anonymous) + "\n")
    counts: Counter[str] = Counter()
    reports = build_reports(read_events([second, first, first], counts),
                            lambda course, user: user == "prof",
                            counts=counts)  # the first file imported twice
    report = reports[COURSE]
    assert set(report.time_spent) == {"ann", "bob"}
    assert report.time_spent["ann"]["time_5min_s"] == pytest.approx(70)  # across midnight
    assert report.time_spent["ann"]["sessions_5min"] == 1
    assert counts["duplicate"] == 2 and counts["course_team"] == 2  # team: before dedupe
    assert counts["anonymous_or_no_course"] == 1
    (stats,) = report.videos.values()
    assert stats.video_id == VIDEO and stats.duration == 100  # the 0 was "unknown"
    assert stats.coverage == {"ann": 0.5, "bob": 1.0}
    summary = report.as_dict()
    assert summary["learners"] == 2
    # ann's gap across midnight (20 s from 23:59:50) is booked on the day it starts
    assert summary["days"] == [
        {"date": "2025-11-28", "learners": 1, "time_5min_s": 40.0, "time_30min_s": 40.0},
        {"date": "2025-11-29", "learners": 2, "time_5min_s": 130.0, "time_30min_s": 130.0}]
    assert summary["videos"] == [{
        "video_id": VIDEO, "duration": 100.0, "viewers": 2, "watch_time_s": 150.0,
        "mean_coverage": 0.75, "completed_eol_coverage_0_9": 1,
        "completed_insights_end_reached": 1, "users_at_start": 2, "users_at_end": 1}]


def test_the_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tracker.edx.cli import edx_report_command

    log = tmp_path / "tracking.log"
    log.write_text("\n".join([
        line("play_video", MIDNIGHT, video(currentTime=0, duration=100)),
        line("stop_video", MIDNIGHT + 100, video(currentTime=100)),
        line("play_video", MIDNIGHT, video(currentTime=0), user="prof"), "{oops"]) + "\n")
    team = tmp_path / "team.txt"
    team.write_text("prof\n")
    result = CliRunner().invoke(edx_report_command, [str(log), "--team", str(team)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    (course,) = body["courses"]
    assert course["course_id"] == COURSE and course["learners"] == 1
    assert course["total_time_5min_s"] == 100 and course["videos"][0]["mean_coverage"] == 1
    assert body["skipped_lines"] == {"broken_json": 1} and body["events"]["course_team"] == 1
