"""A learner's tracking-log event as one compact record, kept in the learner's timeline
of the course (:func:`timeline`).

The pipeline keeps only what the reports read: when, the action and its names, the
unit shown, and for video events their payload. Other events keep a digest of their
payload instead, so that two different events of one learner at the same instant
stay two, while the same line ingested twice gives the same record (a timeline
keeps it once).
"""

from __future__ import annotations

import json

from tracker.edx.logs import LogEvent
from tracker.edx.report import VIDEO_ACTIONS, fingerprint


def timeline(course_id: str, username: str) -> str:
    """The name of a learner's timeline in a course; ``username`` "" names the course
    itself (its roster changed: its report is added up again)."""
    return f"{len(course_id)}:{course_id}:{username}"


def parse_timeline(name: str) -> tuple[str, str]:
    """(course, username) of a :func:`timeline` name; ValueError if it is none."""
    size, _, rest = name.partition(":")
    if not size.isdigit() or len(rest) <= int(size) or rest[int(size)] != ":":
        raise ValueError(f"not a course timeline: {name!r}")
    return rest[:int(size)], rest[int(size) + 1:]


def to_record(event: LogEvent) -> str:
    payload = event.payload if event.action in VIDEO_ACTIONS else fingerprint(event).hex()
    return json.dumps([event.time, event.action, event.name, event.source, event.unit,
                       payload], separators=(",", ":"))  # ASCII: no lone surrogate


def from_record(course_id: str, username: str, record: bytes | str) -> LogEvent:
    """The event ``to_record`` made ``record`` of (``payload`` is the digest for non-video
    events, which no figure reads); ValueError if it is no such record."""
    try:
        time, action, name, source, unit, payload = json.loads(record)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a tracking-log record: {record!r:.200}") from exc
    return LogEvent(username=username, course_id=course_id, action=action, name=name,
                    source=source, time=float(time), payload=payload, unit=unit)
