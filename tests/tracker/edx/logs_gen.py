"""Our own generator of Open edX tracking-log lines (no public fixture is copied).

It writes the variants real logs have: Tutor-prefixed or bare lines, compact or
spaced JSON, the payload as a JSON string (browser) or an object (server,
mobile), legacy or new event names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

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
