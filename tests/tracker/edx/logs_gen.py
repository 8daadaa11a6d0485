"""Our own generator of Open edX tracking-log lines (no public fixture is copied), and
realistic traffic made of them.

It writes the variants real logs have: Tutor-prefixed or bare lines, compact or
spaced JSON, the payload as a JSON string (browser) or an object (server,
mobile), legacy or new event names.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.edx.ingest import entry
from tracker.edx.logs import read_events
from tracker.edx.report import CourseReport, build_reports

COURSE = "course-v1:OrgX+Data101+2026"
VIDEO = "0b9e39477cf34507a7a48f74be381fdd"
NEW_NAMES = {"play_video": "edx.video.played", "pause_video": "edx.video.paused",
             "stop_video": "edx.video.stopped", "seek_video": "edx.video.position.changed",
             "load_video": "edx.video.loaded"}


def line(name: str, at: float, payload: dict[str, Any] | None = None, *,
         user: str = "ann", course: str = COURSE, tutor: bool = False, spaced: bool = False,
         as_string: bool = True, new_name: bool = False, source: str = "browser",
         **extra: Any) -> str:
    """One tracking-log line for event ``name`` at Unix time ``at``."""
    when = datetime.fromtimestamp(at, UTC).isoformat()
    seps = (", ", ": ") if spaced else (",", ":")
    event: Any = payload or {}
    if as_string:
        event = json.dumps(event, separators=seps)
    shown = NEW_NAMES.get(name, name) if new_name else name
    record = {"username": user, "event_type": name, "name": shown, "event_source": source,
              "time": when, "event": event, "context": {"course_id": course, "user_id": 6},
              "page": f"https://lms.example/courses/{course}/courseware/", "session": "ab" * 16,
              **extra}
    text = json.dumps(record, separators=seps)
    if tutor:
        return (f"2026-11-29 14:12:17,290 INFO 27 [tracking] [user 6] [ip 172.18.0.1] "
                f"logger.py:41 - {text}")
    return text


def video(vid: str = VIDEO, **fields: Any) -> dict[str, Any]:
    """The payload of a video event."""
    return {"id": vid, "code": "html5", **fields}


# Realistic traffic of several learners in two courses, and the reports of its files.

OTHER = "course-v1:OrgY+Art202+2026"
UNIT = "block-v1:OrgX+Data101+2026+type@vertical+block@u{}"
T0 = 1_764_400_000.0


def as_entries(lines: list[str], base_ms: int = 1_764_400_000_000
               ) -> list[tuple[str, dict[bytes, bytes]]]:
    return [(f"{base_ms + i}-0", {k.encode(): v.encode() for k, v in entry("edx", ln).items()})
            for i, ln in enumerate(lines)]


def session(rng: random.Random, user: str, course: str, start: float) -> list[str]:
    """A learner's realistic session: navigation, a video with pauses and seeks."""
    out, t, pos = [], start, 0.0
    out.append(line("seq_goto", t, {}, user=user, course=course,
                    page=f"https://apps.lms/learning/course/{course}/{UNIT.format(1)}"))
    for _ in range(rng.randint(1, 4)):
        t += rng.uniform(1, 400)
        out.append(line("play_video", t, video(currentTime=pos, duration=300), user=user,
                        course=course, new_name=rng.random() < 0.5, tutor=rng.random() < 0.3))
        watched = rng.uniform(0.1, 120)
        t += watched
        pos = min(300.0, pos + watched)
        kind = rng.choice(["pause_video", "stop_video", "seek_video"])
        payload = (video(old_time=pos, new_time=rng.uniform(0, 300), type="onSlideSeek")
                   if kind == "seek_video" else video(currentTime=pos))
        out.append(line(kind, t, payload, user=user, course=course, as_string=rng.random() < 0.7))
    t += rng.uniform(1, 2000)
    out.append(line("page_close", t, {}, user=user, course=course))
    return out


def traffic(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines: list[str] = []
    for n, user in enumerate(["ann", "bob", "cid", "dee", "prof"]):
        for course in (COURSE, OTHER):
            for k in range(rng.randint(1, 3)):
                lines += session(rng, user, course, T0 + 86_400 * k + n * 7)
    rng.shuffle(lines)  # producers interleave; the analysis orders each learner's events
    return lines


def file_reports(tmp_path: Path, lines: list[str],
                 team: set[str] = frozenset()) -> dict[str, CourseReport]:  # type: ignore[assignment]
    log = tmp_path / "tracking.log"
    log.write_text("\n".join(lines) + "\n")
    return build_reports(read_events([log], Counter()), lambda _c, user: user in team)
