"""Course analytics from tracking logs: time spent per learner, and video metrics.

Events are merged across files and sorted per learner before anything is
computed (a session may span two rotated files); a line seen twice (the same
file imported again, or two overlapping files) counts once. Anonymous events,
events outside a course and the course team's events are left out.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tracker.edx.logs import LogEvent
from tracker.edx.timespent import CUTOFFS, day_of, time_by_day, time_by_unit, time_spent
from tracker.edx.video import VideoStats, Viewing, video_id, viewings

VIDEO_ACTIONS = frozenset({"video.load", "video.play", "video.pause", "video.stop",
                           "video.seek", "video.speed", "video.complete", "video.transcript"})


@dataclass
class CourseReport:
    course_id: str
    time_spent: dict[str, dict[str, float]] = field(default_factory=dict)  # learner -> figures
    videos: dict[str, VideoStats] = field(default_factory=dict)
    days: dict[str, dict[str, float]] = field(default_factory=dict)  # UTC date -> figures
    units: dict[str, dict[str, float]] = field(default_factory=dict)  # unit -> figures

    def add_day(self, day: str, name: str, value: float) -> None:
        _add(self.days, day, name, value)

    def add_unit(self, unit: str, name: str, value: float) -> None:
        _add(self.units, unit, name, value)

    def as_dict(self) -> dict[str, object]:
        learners = len(self.time_spent)
        totals = {f"total_time_{int(c // 60)}min_s": round(
            sum(t[f"time_{int(c // 60)}min_s"] for t in self.time_spent.values()), 3)
            for c in CUTOFFS}
        return {"course_id": self.course_id, "learners": learners, **totals,
                "days": [{"date": day, "learners": int(f["learners"]),
                          "time_5min_s": round(f["time_5min_s"], 3),
                          "time_30min_s": round(f["time_30min_s"], 3)}
                         for day, f in sorted(self.days.items())],
                "units": [{"unit": unit, "learners": int(f["learners"]),
                           "time_5min_s": round(f["time_5min_s"], 3),
                           "time_30min_s": round(f["time_30min_s"], 3)}
                          for unit, f in sorted(self.units.items())],
                "videos": [v.as_dict() for _, v in sorted(self.videos.items())]}


def _add(table: dict[str, dict[str, float]], row: str, name: str, value: float) -> None:
    figures = table.setdefault(row, {"learners": 0, "time_5min_s": 0.0, "time_30min_s": 0.0})
    figures[name] += value


def no_team(course: str, username: str) -> bool:
    return False


def fingerprint(event: LogEvent) -> bytes:
    """What tells one event from another (the same line read twice gives the same)."""
    return hashlib.blake2b(repr((event.username, event.course_id, event.time, event.name,
                                 event.source, event.unit, event.payload)).encode(),
                           digest_size=16).digest()


def order_key(event: LogEvent) -> tuple[float, str, str, str, str, str]:
    """A learner's events in time order; events of one instant in an order fixed by what
    the figures read of them, so that neither the order of the files nor the way the
    events were stored (:mod:`tracker.edx.records`) changes a figure."""
    payload = json.dumps(event.payload, sort_keys=True) if event.action in VIDEO_ACTIONS else ""
    return (event.time, event.action, event.name, event.source, event.unit or "", payload)


@dataclass
class LearnerFigures:
    """One learner's part of a course report. The pipeline's analysis keeps it per learner
    (:mod:`tracker.edx.ingest`), so that only learners with new events are worked out
    again; :func:`course_report` adds the parts up."""

    time: dict[str, float]  # time_5min_s, sessions_5min, time_30min_s, sessions_30min
    days: dict[str, list[float]]  # UTC date -> seconds per cutoff (every day with an event)
    units: dict[str, list[float]]  # unit -> seconds per cutoff (every unit shown)
    videos: dict[str, list[list[float]]]  # video -> its viewings [start, end], unfiltered
    durations: dict[str, float]  # video -> the largest positive duration seen

    def to_json(self) -> str:
        return json.dumps([self.time, self.days, self.units, self.videos, self.durations],
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> LearnerFigures:
        return cls(*json.loads(text))


TIME_NAMES = tuple(f"time_{int(c // 60)}min_s" for c in CUTOFFS)


def learner_figures(events: Iterable[LogEvent]) -> LearnerFigures:
    """The figures of one learner's events in one course (each event once, any order)."""
    evs = sorted(events, key=order_key)
    times = [e.time for e in evs]
    units = [e.unit for e in evs]
    figures: dict[str, float] = {}
    days = {day_of(t): [0.0] * len(CUTOFFS) for t in times}
    shown = {u: [0.0] * len(CUTOFFS) for u in units if u is not None}
    for i, (cutoff, name) in enumerate(zip(CUTOFFS, TIME_NAMES, strict=True)):
        spent = time_spent(times, cutoff)
        figures[name] = spent.seconds
        figures[f"sessions_{int(cutoff // 60)}min"] = spent.sessions
        for day, seconds in time_by_day(times, cutoff).items():
            days[day][i] += seconds
        for unit, seconds in time_by_unit(times, units, cutoff).items():
            shown[unit][i] += seconds
    by_video: dict[str, list[LogEvent]] = defaultdict(list)
    durations: dict[str, float] = {}
    for event in evs:
        vid = video_id(event) if event.action in VIDEO_ACTIONS else None
        if vid:
            by_video[vid].append(event)
            d = event.get_float("duration")
            if d and d > 0:  # missing, 0 and null all mean unknown
                durations[vid] = max(durations.get(vid, 0.0), d)
    # Viewings past a video's duration are dropped when the course's parts are added
    # up: the duration is the largest any learner's events gave.
    videos = {vid: [[v.start, v.end] for v in viewings(video_events)]
              for vid, video_events in by_video.items()}
    return LearnerFigures(figures, days, shown, videos, durations)


def course_report(course: str, learners: Mapping[str, LearnerFigures]) -> CourseReport:
    """The course's report from its learners' figures (the course team left out already)."""
    report = CourseReport(course)
    durations: dict[str, float] = {}
    for part in learners.values():
        for vid, d in part.durations.items():
            durations[vid] = max(durations.get(vid, 0.0), d)
    for learner in sorted(learners):  # sums in one order, whoever computes them
        part = learners[learner]
        report.time_spent[learner] = dict(part.time)
        for day, seconds in part.days.items():
            for name, value in zip(TIME_NAMES, seconds, strict=True):
                report.add_day(day, name, value)
            report.add_day(day, "learners", 1)
        for unit, seconds in part.units.items():
            for name, value in zip(TIME_NAMES, seconds, strict=True):
                report.add_unit(unit, name, value)
            report.add_unit(unit, "learners", 1)
        for vid, views in part.videos.items():
            stats = report.videos.setdefault(vid, VideoStats(vid, durations.get(vid)))
            limit = math.inf if stats.duration is None else stats.duration + 1
            stats.add(learner, [Viewing(start, end) for start, end in views if end <= limit])
    return report


def build_reports(events: Iterable[LogEvent], in_team: Callable[[str, str], bool] = no_team,
                  counts: Counter[str] | None = None) -> dict[str, CourseReport]:
    """The report of each course in ``events``; ``in_team(course, username)``: left out."""
    counts = counts if counts is not None else Counter()
    seen: set[bytes] = set()
    by_learner: dict[str, dict[str, list[LogEvent]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        if not event.username or not event.course_id:
            counts["anonymous_or_no_course"] += 1
            continue
        if in_team(event.course_id, event.username):
            counts["course_team"] += 1
            continue
        mark = fingerprint(event)
        if mark in seen:
            counts["duplicate"] += 1
            continue
        seen.add(mark)
        by_learner[event.course_id][event.username].append(event)
    counts["events"] += len(seen)
    return {course: course_report(course, {learner: learner_figures(evs)
                                           for learner, evs in learners.items()})
            for course, learners in sorted(by_learner.items())}
