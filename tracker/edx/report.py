"""Course analytics from tracking logs: time spent per learner, and video metrics.

Events are merged across files and sorted per learner before anything is
computed (a session may span two rotated files); a line seen twice (the same
file imported again, or two overlapping files) counts once. Anonymous events,
events outside a course and the course team's events are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tracker.edx.logs import LogEvent
from tracker.edx.timespent import CUTOFFS, day_of, time_by_day, time_by_unit, time_spent
from tracker.edx.video import VideoStats, video_id, viewings

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


def build_reports(events: Iterable[LogEvent], in_team: Callable[[str, str], bool] = no_team,
                  counts: Counter[str] | None = None) -> dict[str, CourseReport]:
    """The report of each course in ``events``; ``in_team(course, username)``: left out."""
    counts = counts if counts is not None else Counter()
    seen: set[bytes] = set()
    by_learner: dict[tuple[str, str], list[LogEvent]] = defaultdict(list)
    # (course, learner) -> video -> its events; (course, video) -> its duration
    videos: dict[tuple[str, str], dict[str, list[LogEvent]]] = defaultdict(
        lambda: defaultdict(list))
    durations: dict[tuple[str, str], float] = {}
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
        who = (event.course_id, event.username)
        by_learner[who].append(event)
        vid = video_id(event) if event.action in VIDEO_ACTIONS else None
        if vid:
            videos[who][vid].append(event)
            d = event.get_float("duration")
            if d and d > 0:  # missing, 0 and null all mean unknown
                key = (event.course_id, vid)
                durations[key] = max(durations.get(key, 0.0), d)
    reports: dict[str, CourseReport] = {}
    for (course, learner), evs in sorted(by_learner.items()):
        evs.sort(key=order_key)
        report = reports.setdefault(course, CourseReport(course))
        times = [e.time for e in evs]
        units = [e.unit for e in evs]
        figures: dict[str, float] = {}
        for cutoff in CUTOFFS:
            name = f"time_{int(cutoff // 60)}min_s"
            spent = time_spent(times, cutoff)
            figures[name] = spent.seconds
            figures[f"sessions_{int(cutoff // 60)}min"] = spent.sessions
            for day, seconds in time_by_day(times, cutoff).items():
                report.add_day(day, name, seconds)
            for unit, seconds in time_by_unit(times, units, cutoff).items():
                report.add_unit(unit, name, seconds)
        for day in {day_of(t) for t in times}:
            report.add_day(day, "learners", 1)
        for unit in {u for u in units if u is not None}:
            report.add_unit(unit, "learners", 1)
        report.time_spent[learner] = figures
        for vid, video_events in videos.get((course, learner), {}).items():
            video_events.sort(key=order_key)
            stats = report.videos.setdefault(vid, VideoStats(vid, durations.get((course, vid))))
            stats.add(learner, viewings(video_events, stats.duration))
    counts["events"] += sum(len(v) for v in by_learner.values())
    return reports
