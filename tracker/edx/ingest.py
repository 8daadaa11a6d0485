"""Open edX tracking logs through the pipeline: log lines in, course reports out.

1. ``tracker edx-ingest FILES`` (or any producer) writes each line as it is to the
   event stream, as an entry ``{product_id, type: "tracking_log", line}`` (:func:`entry`).
2. The bridge routes these entries by product like game events. The ``edx_logs``
   handler (:class:`~tracker.handlers.edx.TrackingLogs`) keeps each course's events
   in the course's timeline, each once (:mod:`tracker.edx.records`).
3. :class:`CourseAnalysis` rebuilds the report of each course whose timeline
   changed, with the roster's course team left out, and stores it for the read API.
   Workers run it shortly after a batch; ``tracker edx-analyze`` runs it at once.

A report is built from the whole timeline, as ``tracker edx-import`` builds it from
the whole set of files, so both give the same figures for the same lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import redis

from tracker.edx.logs import LogEvent
from tracker.edx.records import from_record
from tracker.edx.report import CourseReport, build_reports
from tracker.edx.sources import LogSource, read_lines
from tracker.edx.store import AnalyticsStore, Member
from tracker.settings import Settings
from tracker.storage.keys import Keys
from tracker.storage.timelines import Timelines

log = logging.getLogger(__name__)

ENTRY_TYPE = "tracking_log"
SEND_CHUNK = 1000  # XADDs per round trip


def entry(product_id: str, line: str) -> dict[str, str]:
    """The stream entry of one tracking-log line (its end of line dropped)."""
    return {"product_id": product_id, "type": ENTRY_TYPE, "line": line.rstrip("\r\n")}


def send_lines(settings: Settings, product_id: str, sources: Sequence[LogSource],
               advance: Callable[[int], object] | None = None) -> tuple[int, int]:
    """Write every line of ``sources`` to the event stream, as ``product_id``'s entries,
    a round trip per ``SEND_CHUNK``; (lines sent, blank or comment lines left out)."""
    stream = redis.Redis.from_url(settings.stream_url)
    sent, blank = 0, 0
    pipe = stream.pipeline(transaction=False)
    for source in sources:
        for line in read_lines(source, advance):
            if not line.strip() or line.lstrip().startswith("#"):
                blank += 1
                continue
            pipe.xadd(settings.stream_key, entry(product_id, line))  # type: ignore[arg-type]
            sent += 1
            if len(pipe) >= SEND_CHUNK:
                pipe.execute()
    pipe.execute()
    return sent, blank


def store_rosters(settings: Settings, product_id: str,
                  rosters: Mapping[str, Mapping[str, Member]]) -> None:
    """Store each course's roster, and mark the course changed: its team decides who counts."""
    data = redis.Redis.from_url(settings.redis_url)
    store, timelines = AnalyticsStore(data), Timelines(data, Keys(settings.key_prefix))
    for course, members in rosters.items():
        store.save_roster(course, members)
        timelines.touch(product_id, course)


@dataclass(frozen=True)
class CourseAnalysis:
    """Course reports from the timelines the ``edx_logs`` handler keeps."""

    timelines: Timelines
    analytics: AnalyticsStore

    def events(self, product_id: str, course: str) -> Iterator[LogEvent]:
        for record in self.timelines.records(product_id, course):
            try:
                yield from_record(course, record)
            except ValueError:  # not written by our handler: say so, count the rest
                log.warning("course %s: skipping a record that is no event: %r", course, record)

    def report(self, product_id: str, course: str) -> CourseReport:
        """The course's report from its whole timeline, its team (by roster) left out."""
        roster = self.analytics.roster(course)

        def in_team(_course: str, user: str) -> bool:
            member = roster.get(user)
            return member is not None and member.is_staff

        found = build_reports(self.events(product_id, course), in_team)
        return found.get(course) or CourseReport(course)

    def run(self, product_id: str) -> dict[str, int]:
        """Rebuild and store the report of each course that changed; its learners by course.

        A course that changes again while its report is built stays marked changed,
        so the next run builds it again."""
        done: dict[str, int] = {}
        for course, changes in sorted(self.timelines.changed(product_id).items()):
            report = self.report(product_id, course)
            self.analytics.save_report(report)
            self.timelines.settle(product_id, course, changes)
            done[course] = len(report.time_spent)
        return done
