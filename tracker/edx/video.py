"""Video viewings and their metrics, as the Insights pipeline defines them.

A *viewing* is a stretch of content time a learner played. Per (learner,
video), in time order:

1. a play opens a viewing (an open one is discarded). It starts at the
   ``new_time`` of the seek just before it if that seek closed the previous
   viewing (the play logged after a jump often reports the pre-jump position),
   else at the play's ``currentTime``;
2. a pause or stop closes it at ``currentTime`` (a missing one: 0);
3. a seek closes it at ``old_time``: the skipped range is not watched;
4. other events, and events while nothing is open, change nothing;
5. a viewing is dropped when it ends before it starts, lasts under 0.25 s, or
   ends past a known duration + 1 s.

Positions are content seconds; offsets below 0, above 10 h or not finite are
ignored. Bumper (pre-roll) events never reach here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracker.edx.logs import LogEvent

MAX_OFFSET = 36_000.0  # seconds: later positions are outliers
MIN_VIEWING = 0.25  # seconds
SEGMENT = 5  # seconds, as Insights
COMPLETE_COVERAGE = 0.9  # EOL's rule


@dataclass(frozen=True, slots=True)
class Viewing:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def _offset(event: LogEvent, *keys: str) -> float | None:
    value = event.get_float(*keys)
    if value is None or value < 0 or value > MAX_OFFSET:
        return None
    return value


def video_id(event: LogEvent) -> str | None:
    """The video a video event is about: its payload ``id``, stripped."""
    if not isinstance(event.payload, dict):
        return None
    vid = event.payload.get("id")
    return vid.strip() if isinstance(vid, str) and vid.strip() else None


def viewings(events: Sequence[LogEvent], duration: float | None = None) -> list[Viewing]:
    """One learner's viewings of one video (``events`` in time order)."""
    out: list[Viewing] = []
    start: float | None = None
    seek_to: float | None = None  # new_time of a seek that closed the last viewing
    for event in events:
        action = event.action
        if action == "video.play":
            at = _offset(event, "currentTime", "current_time")
            start = seek_to if seek_to is not None else at
            seek_to = None
        elif action in ("video.pause", "video.stop"):
            if start is not None:
                end = _offset(event, "currentTime", "current_time")
                _close(out, start, 0.0 if end is None else end, duration)
            start, seek_to = None, None
        elif action == "video.seek":
            seek_to = None
            if start is not None:
                end = _offset(event, "old_time")
                if end is not None:
                    _close(out, start, end, duration)
                seek_to = _offset(event, "new_time")
            start = None
    return out


def _close(out: list[Viewing], start: float, end: float, duration: float | None) -> None:
    if end < start or end - start < MIN_VIEWING:
        return
    if duration is not None and end > duration + 1:
        return
    out.append(Viewing(start, end))


def unique_seconds(views: Iterable[Viewing], duration: float | None) -> float:
    """The length of the union of ``views``, clipped to [0, duration]."""
    spans = sorted((v.start, v.end if duration is None else min(v.end, duration))
                   for v in views)
    total, reach = 0.0, -math.inf
    for start, end in spans:
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def end_instant(duration: float) -> float:
    """Where Insights counts a viewer as having reached the end."""
    return max(duration - 30.0, 0.95 * duration)


@dataclass
class VideoStats:
    """One video of one course, over all its learners."""

    video_id: str
    duration: float | None = None
    watch_time: float = 0.0  # Σ viewing lengths: rewatching counts again
    viewers: set[str] = field(default_factory=set)
    coverage: dict[str, float] = field(default_factory=dict)  # learner -> unique / duration
    complete_coverage: set[str] = field(default_factory=set)  # EOL: coverage >= 0.9
    reached_end: set[str] = field(default_factory=set)  # Insights: the end segment watched
    segment_views: dict[int, int] = field(default_factory=dict)  # 5 s segment -> viewings
    segment_users: dict[int, set[str]] = field(default_factory=dict)

    def add(self, learner: str, views: Sequence[Viewing]) -> None:
        if not views:
            return
        self.viewers.add(learner)
        self.watch_time += sum(v.length for v in views)
        for v in views:
            for k in range(int(v.start // SEGMENT), int(v.end // SEGMENT) + 1):
                self.segment_views[k] = self.segment_views.get(k, 0) + 1
                self.segment_users.setdefault(k, set()).add(learner)
        if self.duration:
            covered = unique_seconds(views, self.duration) / self.duration
            self.coverage[learner] = covered
            if covered >= COMPLETE_COVERAGE:
                self.complete_coverage.add(learner)
            last = int(end_instant(self.duration) // SEGMENT)
            if any(v.start // SEGMENT <= last <= v.end // SEGMENT for v in views):
                self.reached_end.add(learner)

    def as_dict(self) -> dict[str, object]:
        mean = (sum(self.coverage.values()) / len(self.coverage)) if self.coverage else None
        return {
            "video_id": self.video_id, "duration": self.duration,
            "viewers": len(self.viewers), "watch_time_s": round(self.watch_time, 3),
            "mean_coverage": None if mean is None else round(mean, 4),
            "completed_eol_coverage_0_9": len(self.complete_coverage),
            "completed_insights_end_reached": len(self.reached_end),
            "users_at_start": len(self.segment_users.get(0, ())),
            "users_at_end": len(self.reached_end),
        }
