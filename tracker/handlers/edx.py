"""The Open edX tracking-log handler: each learner's events kept in a timeline per course."""

from __future__ import annotations

from collections.abc import Iterable

from tracker.edx.logs import parse_entry_line
from tracker.edx.records import timeline, to_record
from tracker.events import Event
from tracker.handlers.base import AddToTimeline, Handler, Op


class TrackingLogs(Handler):
    """Reads ``tracking_log`` entries (one log line each, ``tracker edx-ingest``) and keeps
    every event of a learner in a course in the learner's timeline of that course, once
    however often its line comes. Anonymous events and events outside a course are not kept. The
    course reports are worked out from the timelines (:mod:`tracker.edx.ingest`)."""

    name = "edx_logs"
    events = frozenset({("tracking_log", None)})

    def ops(self, event: Event) -> Iterable[Op]:
        found = parse_entry_line(event["line"])  # the schema's parse, remembered
        if isinstance(found, str) or not found.username or not found.course_id:
            return ()
        return (AddToTimeline(timeline(found.course_id, found.username), to_record(found),
                              found.time),)
