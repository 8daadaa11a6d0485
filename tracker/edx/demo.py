"""A demo course for ``tracker stack``: a week of realistic Open edX tracking logs and
the course's roster, so that a first run shows course analytics end to end.

The log is what an LMS writes for the Learning MFE: browser events with their page
URL (the unit shown), video events with their positions, navigation, and server
events for answers. Learners differ in how often they come and how much they
watch; some skip ahead with seeks, some re-watch.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEMO_COURSE = "course-v1:Demo+Data101+2026"
INSTRUCTOR = "instructor"
_UNITS = [f"block-v1:Demo+Data101+2026+type@vertical+block@unit{i}" for i in range(1, 9)]
# unit index -> (video id, duration in s): every other unit has a lecture video
_VIDEOS = {i: (f"demo-video-{i + 1}", 180.0 + 60 * i) for i in range(0, 8, 2)}


@dataclass
class _Learner:
    username: str
    user_id: int
    diligence: float  # chance of a session on a given day
    patience: float  # share of a video watched before wandering off
    unit: int = 0  # where the learner is in the course


def _line(who: _Learner, name: str, at: float, payload: dict[str, Any], unit: int,
          source: str = "browser") -> str:
    record = {
        "username": who.username, "event_type": name, "name": name, "event_source": source,
        "time": datetime.fromtimestamp(at, UTC).isoformat(),
        "event": json.dumps(payload) if source == "browser" else payload,
        "context": {"course_id": DEMO_COURSE, "user_id": who.user_id, "org_id": "Demo",
                    "path": "/event" if source == "browser" else "/courses/xblock/handler"},
        "page": f"https://apps.lms.demo/learning/course/{DEMO_COURSE}/{_UNITS[unit]}",
        "session": f"{who.user_id:032x}", "ip": "10.0.0.1", "agent": "Mozilla/5.0 (demo)",
    }
    return json.dumps(record, separators=(",", ":"))


def _watch(rng: random.Random, who: _Learner, at: float, unit: int) -> tuple[list[str], float]:
    """One viewing session of the unit's video: plays, pauses, maybe a seek."""
    vid, duration = _VIDEOS[unit]
    out = [_line(who, "load_video", at, {"id": vid, "code": "html5", "duration": duration},
                 unit)]
    position, t = 0.0, at + rng.uniform(2, 10)
    goal = duration * min(1.0, who.patience + rng.uniform(-0.2, 0.3))
    while position < goal - 1:
        out.append(_line(who, "play_video", t,
                         {"id": vid, "code": "html5", "currentTime": round(position, 3),
                          "duration": duration}, unit))
        stretch = min(goal - position, rng.uniform(20, 120))
        t, position = t + stretch, position + stretch
        if position >= duration - 0.5:
            out.append(_line(who, "stop_video", t, {"id": vid, "currentTime": duration}, unit))
            break
        if rng.random() < 0.25:  # skip ahead
            target = min(duration - 1, position + rng.uniform(10, 60))
            out.append(_line(who, "seek_video", t, {"id": vid, "old_time": round(position, 3),
                                                    "new_time": round(target, 3),
                                                    "type": "onSlideSeek"}, unit))
            position, t = target, t + rng.uniform(0.5, 3)
        else:
            out.append(_line(who, "pause_video", t,
                             {"id": vid, "currentTime": round(position, 3)}, unit))
            t += rng.uniform(3, 90)
    return out, t


def demo_log(rng: random.Random, learners: int = 24, days: int = 7,
             start: float | None = None) -> list[str]:
    """The course's log lines over ``days`` days from ``start`` (default: a week ago)."""
    first_day = start if start is not None else (
        datetime.now(UTC).timestamp() // 86_400 - days) * 86_400
    people = [_Learner(f"learner{n:02d}", 100 + n, rng.uniform(0.2, 0.9), rng.uniform(0.3, 1.0))
              for n in range(1, learners + 1)]
    people.append(_Learner(INSTRUCTOR, 7, 0.6, 0.5))  # the course team: left out of figures
    lines: list[str] = []
    for day in range(days):
        for who in people:
            if rng.random() > who.diligence:
                continue
            t = first_day + day * 86_400 + rng.uniform(7, 21) * 3600
            for _ in range(rng.randint(1, 3)):  # units visited in this session
                unit = min(who.unit, len(_UNITS) - 1)
                lines.append(_line(who, "edx.ui.lms.sequence.tab_selected", t,
                                   {"current_tab": unit + 1, "target_tab": unit + 1}, unit))
                t += rng.uniform(5, 40)
                if unit in _VIDEOS:
                    watched, t = _watch(rng, who, t, unit)
                    lines += watched
                else:  # a problem: the server logs the answer
                    t += rng.uniform(60, 400)
                    lines.append(_line(who, "problem_check", t,
                                       {"problem_id": f"{_UNITS[unit]}-q", "success": "correct"
                                        if rng.random() < 0.7 else "incorrect"}, unit, "server"))
                t += rng.uniform(5, 120)
                who.unit += 1
            lines.append(_line(who, "page_close", t, {}, min(who.unit, len(_UNITS) - 1)))
    return lines


def demo_roster(learners: int = 24) -> list[dict[str, str]]:
    rows = [{"course_id": DEMO_COURSE, "username": INSTRUCTOR, "role": "instructor",
             "email": "instructor@demo.example", "name": "Ada Instructor"}]
    rows += [{"course_id": DEMO_COURSE, "username": f"learner{n:02d}", "role": "student",
              "email": f"learner{n:02d}@demo.example", "name": f"Learner {n}"}
             for n in range(1, learners + 1)]
    return rows


def write_demo(directory: Path, seed: int = 7, learners: int = 24) -> tuple[Path, Path]:
    """Write the demo course's gzip log and roster CSV; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    log, roster = directory / "tracking.log.gz", directory / "roster.csv"
    with gzip.open(log, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(demo_log(random.Random(seed), learners)) + "\n")
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["course_id", "username", "role", "email", "name"])
        writer.writeheader()
        writer.writerows(demo_roster(learners))
    return log, roster
