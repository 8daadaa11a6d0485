"""A course's tracking-log event as one compact record, kept in the course's timeline.

The pipeline keeps, per course, only what the reports read: who, when, the
action and its names, the unit shown, and for video events their payload. Other
events keep a digest of their payload instead, so that two different events of
one learner at the same instant stay two, while the same line ingested twice
gives the same record (a timeline keeps it once).
"""

from __future__ import annotations

import json

from tracker.edx.logs import LogEvent
from tracker.edx.report import VIDEO_ACTIONS, fingerprint


def to_record(event: LogEvent) -> str:
    payload = event.payload if event.action in VIDEO_ACTIONS else fingerprint(event).hex()
    return json.dumps([event.username, event.time, event.action, event.name, event.source,
                       event.unit, payload], separators=(",", ":"))  # ASCII: no lone surrogate


def from_record(course_id: str, record: bytes | str) -> LogEvent:
    """The event ``to_record`` made ``record`` of (``payload`` is the digest for non-video
    events, which no figure reads); ValueError if it is no such record."""
    try:
        username, time, action, name, source, unit, payload = json.loads(record)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a tracking-log record: {record!r:.200}") from exc
    return LogEvent(username=username, course_id=course_id, action=action, name=name,
                    source=source, time=float(time), payload=payload, unit=unit)
