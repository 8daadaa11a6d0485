"""Tracking-log lines to events: every framing and payload form, bad lines counted."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from tests.tracker.edx.logs_gen import COURSE, line, video
from tracker.edx.logs import normalise_course, parse_line, read_events

AT = 1_764_400_000.123456


@pytest.mark.parametrize("tutor", [False, True])
@pytest.mark.parametrize("spaced", [False, True])
@pytest.mark.parametrize("as_string", [False, True])
@pytest.mark.parametrize("new_name", [False, True])
def test_every_form_gives_the_same_event(tutor: bool, spaced: bool, as_string: bool,
                                         new_name: bool) -> None:
    text = line("play_video", AT, video(currentTime="12.5"), tutor=tutor,
                spaced=spaced, as_string=as_string, new_name=new_name)
    event = parse_line(text)
    assert event is not None
    assert (event.username, event.course_id, event.action) == ("ann", COURSE, "video.play")
    assert event.time == pytest.approx(AT, abs=1e-6)  # microseconds kept
    assert event.get_float("currentTime") == 12.5  # numbers may come as strings


def test_payloads_that_are_not_json_objects_are_kept() -> None:
    form = parse_line(line("problem_check", AT, None, event="input_a_2_1=choice_2"))
    assert form is not None and form.payload == "input_a_2_1=choice_2"
    graded = parse_line(line("problem_graded", AT, as_string=False, event=[["a"], "<p/>"]))
    assert graded is not None and graded.payload == [["a"], "<p/>"]


def test_course_ids_from_either_spelling_or_the_page() -> None:
    assert normalise_course("OrgX/Data101/2026") == COURSE
    legacy = parse_line(line("seq_goto", AT, {}, course="OrgX/Data101/2026"))
    assert legacy is not None and legacy.course_id == COURSE
    recovered = parse_line(line("page_close", AT, {}, course="",
                                page=f"https://lms/courses/{COURSE}/jump_to/x"))
    assert recovered is not None and recovered.course_id == COURSE


UNIT = "block-v1:OrgX+Data101+2026+type@vertical+block@u2"


@pytest.mark.parametrize("where, url, unit", [
    ("page", f"https://apps.lms/learning/course/{COURSE}/"
             f"block-v1:OrgX+Data101+2026+type@sequential+block@s1/{UNIT}", UNIT),
    ("page", f"https://lms/xblock/{UNIT}?show_title=0", UNIT),
    ("referer", f"https://lms/xblock/{UNIT}", UNIT),
    ("page", f"https://lms/courses/{COURSE}/courseware/ch1/seq1/3/", "seq1/3"),
    ("page", "https://lms/dashboard", None),
])
def test_the_unit_a_page_shows(where: str, url: str, unit: str | None) -> None:
    fields = {"page": None, "referer": None, where: url}
    event = parse_line(line("page_close", AT, {}, **fields))
    assert event is not None and event.unit == unit


def test_bad_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    good = [line("play_video", AT + i, video(currentTime=i)) for i in range(3)]
    lines = ["# a comment", "", good[0], "{broken", "2026 INFO no json here", good[1],
             '{"username": "x"}', "[1, 2]", good[2]]
    path = tmp_path / "tracking.log-20261129.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    skipped: Counter[str] = Counter()
    events = list(read_events([path], skipped))
    assert [e.get_float("currentTime") for e in events] == [0, 1, 2]
    assert skipped == {"blank_or_comment": 2, "broken_json": 1, "no_json": 2, "no_time": 1}
