"""Open edX tracking logs: lines to events, whatever the framing and the payload form.

A line may carry a logger prefix (Tutor: ``2023-05-23 14:12:17,290 INFO 27
[tracking] [user 6] … - {json}``): the event is the JSON value from the first
``{``. The ``event`` payload comes as a JSON string, an object, a list or a
form-encoded string; it is decoded when it is JSON and kept raw otherwise, never
pattern-matched. ``name`` and ``event_type`` both go through one alias table to
a canonical action. Lines that are no event are counted by reason, never fatal.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from tracker.edx.sources import LogSource, read_lines

_DECODER = json.JSONDecoder()
_COURSE_IN_URL = re.compile(r"/courses/(course-v1:[^/?#]+|[^/?#]+/[^/?#]+/[^/?#]+)/")
_LEGACY_COURSE = re.compile(r"^([^/+:]+)/([^/+:]+)/([^/+:]+)\Z")
# A unit (vertical) in a URL: the Learning MFE's /xblock/<key> iframe and its course
# URLs name it; a legacy courseware URL names the sequential and the unit's position.
_VERTICAL = re.compile(r"block-v1:[^/?#&\s]+?\+type@vertical\+block@[^/?#&\s]+")
_COURSEWARE = re.compile(r"/courses/[^/]+/courseware/[^/?#]+/([^/?#]+)/(\d+)")

# Legacy and new names of the same action, both mapped to one canonical action.
ALIASES: dict[str, str] = {
    "load_video": "video.load", "edx.video.loaded": "video.load",
    "play_video": "video.play", "edx.video.played": "video.play",
    "pause_video": "video.pause", "edx.video.paused": "video.pause",
    "stop_video": "video.stop", "edx.video.stopped": "video.stop",
    "seek_video": "video.seek", "edx.video.position.changed": "video.seek",
    "edx.video.seeked": "video.seek",
    "speed_change_video": "video.speed",
    "complete_video": "video.complete", "edx.video.completed": "video.complete",
    "show_transcript": "video.transcript", "edx.video.transcript.shown": "video.transcript",
    "hide_transcript": "video.transcript", "edx.video.transcript.hidden": "video.transcript",
    "seq_goto": "nav.sequence", "seq_next": "nav.sequence", "seq_prev": "nav.sequence",
    "edx.ui.lms.sequence.tab_selected": "nav.sequence",
    "edx.ui.lms.sequence.next_selected": "nav.sequence",
    "edx.ui.lms.sequence.previous_selected": "nav.sequence",
    "page_close": "page.close",
    "problem_check": "problem.check",
}


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One tracking-log event, normalised."""

    username: str
    course_id: str  # course-v1:Org+Course+Run, or "" outside a course
    action: str  # canonical (ALIASES), else the raw name
    name: str  # the raw name (``name``, else ``event_type``)
    source: str  # browser, server, mobile or task
    time: float  # Unix seconds, microsecond precision
    payload: Any  # decoded ``event``: dict, list, or the raw string
    unit: str | None = None  # the unit its page or referer shows, if any

    def get_float(self, *keys: str) -> float | None:
        """The first of ``keys`` in a dict payload as a finite number (strings allowed)."""
        if not isinstance(self.payload, dict):
            return None
        for key in keys:
            value = self.payload.get(key)
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                return number
        return None


def normalise_course(text: str) -> str:
    """``Org/Course/Run`` and ``course-v1:Org+Course+Run`` as one spelling (the latter)."""
    m = _LEGACY_COURSE.match(text)
    return f"course-v1:{m[1]}+{m[2]}+{m[3]}" if m else text


def _course(record: dict[str, Any]) -> str:
    found = record.get("context")
    context: dict[str, Any] = found if isinstance(found, dict) else {}
    course = str(context.get("course_id") or "")
    if not course:  # recovered from the page, the referer or the request path
        for url in (record.get("page"), record.get("referer"), context.get("path")):
            m = _COURSE_IN_URL.search(url) if isinstance(url, str) else None
            if m:
                course = m[1]
                break
    return normalise_course(course)


def _unit(record: dict[str, Any]) -> str | None:
    """The unit the event's page (else referer) shows: a vertical's usage key, or
    ``<sequential>/<position>`` from a legacy courseware URL."""
    for url in (record.get("page"), record.get("referer")):
        if not isinstance(url, str):
            continue
        found = _VERTICAL.findall(url)
        if found:
            return str(found[-1])
        m = _COURSEWARE.search(url)
        if m:
            return f"{m[1]}/{m[2]}"
    return None


def _payload(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # form-encoded answers and the like stay as they came
    return raw


def _time(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def parse_line(line: str, skipped: Counter[str] | None = None) -> LogEvent | None:
    """The event of one line, or None (counted in ``skipped`` by reason)."""
    def skip(reason: str) -> None:
        if skipped is not None:
            skipped[reason] += 1

    text = line.strip()
    if not text or text.startswith("#"):
        skip("blank_or_comment")
        return None
    start = text.find("{")
    if start < 0:
        skip("no_json")
        return None
    try:
        record, _ = _DECODER.raw_decode(text, start)  # from a '{': always an object
    except ValueError:
        skip("broken_json")
        return None
    when = _time(record.get("time"))
    if when is None:
        skip("no_time")
        return None
    raw_name = str(record.get("name") or record.get("event_type") or "")
    action = ALIASES.get(raw_name) or ALIASES.get(str(record.get("event_type") or ""))
    return LogEvent(username=str(record.get("username") or ""), course_id=_course(record),
                    action=action or raw_name, name=raw_name,
                    source=str(record.get("event_source") or ""), time=when,
                    payload=_payload(record.get("event")), unit=_unit(record))


@lru_cache(maxsize=4096)  # a worker's part: up to TRACKER_BATCH_SIZE lines
def parse_entry_line(line: str) -> LogEvent | str:
    """:func:`parse_line` of a stream entry's line, or the reason it is no event.

    Remembered: a worker parses each line when it validates the entry and again
    when the handler reads it, a part apart; the second time costs a lookup. The
    event is shared, so nobody may change its payload."""
    skipped: Counter[str] = Counter()
    found = parse_line(line, skipped)
    return found if found is not None else next(iter(skipped), "no_event")


def read_events(sources: Iterable[Path | LogSource], skipped: Counter[str],
                advance: Callable[[int], object] | None = None) -> Iterator[LogEvent]:
    """The events of the logs, in order; ``advance`` as for :func:`read_lines`."""
    for source in sources:
        for line in read_lines(source, advance):
            event = parse_line(line, skipped)
            if event is not None:
                yield event
