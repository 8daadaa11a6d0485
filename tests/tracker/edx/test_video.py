"""Video viewings and metrics, on scenarios with known answers."""

from __future__ import annotations

import pytest

from tests.tracker.edx.logs_gen import line, video
from tracker.edx.logs import LogEvent, parse_line
from tracker.edx.video import VideoStats, Viewing, unique_seconds, viewings

T0 = 1_764_400_000.0


def events(*specs: tuple[str, dict[str, object]]) -> list[LogEvent]:
    out = []
    for i, (name, fields) in enumerate(specs):
        event = parse_line(line(name, T0 + 10 * i, video(**fields)))
        assert event is not None
        out.append(event)
    return out


# play@0, pause@20, play@20, seek 30->70, a play that reports the stale position 30, stop@100
WORKED = events(("play_video", {"currentTime": 0}), ("pause_video", {"currentTime": 20}),
                ("play_video", {"currentTime": 20}),
                ("seek_video", {"old_time": 30, "new_time": 70, "type": "onSlideSeek"}),
                ("play_video", {"currentTime": 30}), ("stop_video", {"currentTime": 100}))


def test_the_worked_example() -> None:
    views = viewings(WORKED, duration=100)
    assert views == [Viewing(0, 20), Viewing(20, 30), Viewing(70, 100)]
    assert sum(v.length for v in views) == 60 and unique_seconds(views, 100) == 60
    stats = VideoStats("v", 100.0)
    stats.add("ann", views)
    report = stats.as_dict()
    assert report["mean_coverage"] == 0.6
    assert report["completed_eol_coverage_0_9"] == 0  # 60 % seen
    assert report["completed_insights_end_reached"] == 1  # segment 19 (95 s) was watched
    assert report["watch_time_s"] == 60 and report["users_at_start"] == 1


def test_viewing_rules() -> None:
    assert viewings(events(("pause_video", {"currentTime": 9}))) == []  # nothing open
    assert viewings(events(("play_video", {"currentTime": 5}),
                           ("play_video", {"currentTime": 40}),  # the open one is discarded
                           ("pause_video", {"currentTime": 50}))) == [Viewing(40, 50)]
    assert viewings(events(("play_video", {"currentTime": 5}),
                           ("pause_video", {"currentTime": 5.1}))) == []  # under 0.25 s
    assert viewings(events(("play_video", {"currentTime": 50}),
                           ("pause_video", {"currentTime": 40}))) == []  # backwards
    assert viewings(events(("play_video", {"currentTime": 10}),
                           ("stop_video", {"currentTime": 130})), duration=100) == []
    assert viewings(events(("play_video", {"currentTime": 10}),
                           ("speed_change_video", {"current_time": 12, "new_speed": "2.0"}),
                           ("pause_video", {}))) == []  # missing position counts as 0
    assert viewings(events(("play_video", {"currentTime": -3}),
                           ("pause_video", {"currentTime": 50}))) == []  # outlier start


def test_unique_seconds_merges_overlaps_and_clips() -> None:
    views = [Viewing(0, 10), Viewing(5, 15), Viewing(20, 30), Viewing(25, 120)]
    assert unique_seconds(views, None) == 115
    assert unique_seconds(views, 100) == pytest.approx(95)
