"""Open edX tracking logs through the pipeline: log lines in, course reports out.

1. ``tracker edx-ingest FILES`` (or any producer) writes each line as it is to the
   event stream, as an entry ``{product_id, type: "tracking_log", line}`` (:func:`entry`).
2. The bridge routes these entries by product like game events. The ``edx_logs``
   handler (:class:`~tracker.handlers.edx.TrackingLogs`) keeps each learner's events
   in their timeline of the course, each once (:mod:`tracker.edx.records`).
3. :class:`CourseAnalysis` works out again the part of each learner with new
   events, adds up the course's parts (the roster's course team left out) and
   stores the report for the read API. Workers run it shortly after a batch;
   ``tracker edx-analyze`` runs it at once.

Both ``tracker edx-import`` (from files) and the analysis build reports with the
same two steps (:func:`~tracker.edx.report.learner_figures`, then
:func:`~tracker.edx.report.course_report`), so both give the same figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import redis

from tracker.edx.logs import LogEvent
from tracker.edx.records import from_record, parse_timeline, timeline
from tracker.edx.report import CourseReport, course_report, learner_figures
from tracker.edx.sources import LogSource, read_lines
from tracker.edx.store import AnalyticsStore, Member
from tracker.settings import Settings
from tracker.storage.connect import data_client
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
    data = data_client(settings.redis_url)
    store, timelines = AnalyticsStore(data), Timelines(data, Keys(settings.key_prefix))
    for course, members in rosters.items():
        store.save_roster(course, members)
        timelines.touch(product_id, timeline(course, ""))


# An analysis holds its product's lock this long, renewed per learner it works out: a
# worker killed mid-analysis holds up the next one at most this long.
LOCK_MS = 15_000


class Busy(Exception):
    """Another analysis of the product is running; try again later."""


@dataclass(frozen=True)
class CourseAnalysis:
    """Course reports from the learners' timelines the ``edx_logs`` handler keeps.

    Per learner, the analysis keeps the learner's part of the report (their time
    spent, per day and unit, their video viewings); a run works out again only the
    parts of learners with new events, then adds up every part of the course, the
    roster's course team left out. The sums come out as ``tracker edx-import``'s."""

    timelines: Timelines
    analytics: AnalyticsStore

    def events(self, product_id: str, course: str, learner: str) -> Iterator[LogEvent]:
        for record in self.timelines.records(product_id, timeline(course, learner)):
            try:
                yield from_record(course, learner, record)
            except ValueError:  # not written by our handler: say so, count the rest
                log.warning("course %s, %s: skipping a record that is no event: %r", course,
                            learner, record)

    def report(self, course: str) -> CourseReport:
        """The course's report from its learners' stored parts, its team left out."""
        roster = self.analytics.roster(course)
        parts = {learner: part for learner, part in self.analytics.parts(course).items()
                 if not (learner in roster and roster[learner].is_staff)}
        return course_report(course, parts)

    def run(self, product_id: str) -> dict[str, int]:
        """Bring the report of every course that changed up to date; per course, how many
        learners' parts were worked out again. Raises :class:`Busy` while another
        analysis of the product runs.

        A timeline that changes while it is read stays marked changed, so the next run
        reads it again; a run that dies half-way leaves everything marked."""
        token = self.timelines.lock(product_id, LOCK_MS)
        if token is None:
            raise Busy(product_id)
        try:
            # From now on, new records schedule the next analysis (one that waited
            # for the lock kept the schedule, so no other was scheduled meanwhile).
            self.timelines.unschedule(product_id)
            changed: dict[str, dict[str, int]] = {}
            for name, changes in self.timelines.changed(product_id).items():
                try:
                    course, learner = parse_timeline(name)
                except ValueError:
                    log.warning("not a course timeline, left alone: %r", name)
                    continue
                changed.setdefault(course, {})[learner] = changes
            done: dict[str, int] = {}
            for course, learners in sorted(changed.items()):
                parts = {}
                for learner in learners:
                    if not self.timelines.keep(product_id, token, LOCK_MS):
                        raise Busy(product_id)  # it lapsed: another run may have begun
                    if learner:
                        parts[learner] = learner_figures(
                            self.events(product_id, course, learner))
                self.analytics.save_parts(course, parts)
                self.analytics.save_report(self.report(course))
                for learner, changes in learners.items():
                    self.timelines.settle(product_id, timeline(course, learner), changes)
                done[course] = len(parts)
            return done
        finally:
            self.timelines.unlock(product_id, token)
