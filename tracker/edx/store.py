"""Course analytics in Redis: each course's roster and its latest report.

    ea:{<course>}:roster            hash  username -> JSON {role, email, name}
    ea:{<course>}:report            string JSON of the course's report (CourseReport.as_dict)
    ea:{<course>}:learners          hash  username -> JSON of the learner's figures
    ea:{<course>}:parts             hash  username -> the learner's LearnerFigures (pipeline)
    ea:courses                      set   every course with a roster or a report

A report replaces the previous one of its course in one MULTI, so a reader
never sees half of two imports. Roles come from the roster: ``student`` for
learners; ``staff``, ``instructor``, ``data_researcher`` and ``administrator``
read the course's analytics (and are left out of its figures).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from tracker.edx.logs import normalise_course
from tracker.edx.report import CourseReport, LearnerFigures

STAFF_ROLES = frozenset({"staff", "instructor", "data_researcher", "administrator"})
ROLES = STAFF_ROLES | {"student"}
FORGETTABLE = ("roster", "learners", "parts")  # a course's hashes by username


@dataclass(frozen=True, slots=True)
class Member:
    """One person of a course's roster."""

    role: str
    email: str = ""
    name: str = ""

    @property
    def is_staff(self) -> bool:
        """Reads the course's analytics, and is left out of its figures."""
        return self.role in STAFF_ROLES


def read_roster(path: Path) -> dict[str, dict[str, Member]]:
    """A roster CSV (``course_id,username,role[,email,name]``) by course, then username;
    ValueError names the bad line."""
    courses: dict[str, dict[str, Member]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            course = normalise_course((row.get("course_id") or "").strip())
            user, role = (row.get("username") or "").strip(), (row.get("role") or "").strip()
            if not course or not user or role not in ROLES:
                raise ValueError(f"{path}:{n}: needs course_id, username and a role of "
                                 f"{sorted(ROLES)}, got {row}")
            courses.setdefault(course, {})[user] = Member(
                role, (row.get("email") or "").strip(), (row.get("name") or "").strip())
    return courses


class AnalyticsStore:
    def __init__(self, client: redis.Redis, prefix: str = "ea"):
        self.client = client
        self.prefix = prefix

    def _key(self, course: str, what: str) -> str:
        if "{" in course or "}" in course:
            raise ValueError(f"not a course id: {course!r}")
        return f"{self.prefix}:{{{course}}}:{what}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}:courses"

    def save_roster(self, course: str, members: Mapping[str, Member]) -> None:
        """Replace the course's roster."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._key(course, "roster"))
        if members:
            pipe.hset(self._key(course, "roster"), mapping={
                u: json.dumps(asdict(m)) for u, m in members.items()})
        pipe.execute()
        self.client.sadd(self._index, course)  # its own slot: not in the MULTI

    def courses(self) -> list[str]:
        """Every course with a roster or a report, sorted."""
        raw: Any = self.client.smembers(self._index)
        return sorted(c.decode() for c in raw)

    def roles(self, courses: Sequence[str], username: str) -> dict[str, Member]:
        """``username``'s place in each of ``courses`` that lists them, in one round trip."""
        pipe = self.client.pipeline(transaction=False)  # one slot per course: no MULTI
        for course in courses:
            pipe.hget(self._key(course, "roster"), username)
        found: list[Any] = pipe.execute()
        return {c: Member(**json.loads(raw)) for c, raw in zip(courses, found, strict=True)
                if raw is not None}

    def has_report(self, courses: Sequence[str]) -> list[bool]:
        pipe = self.client.pipeline(transaction=False)
        for course in courses:
            pipe.exists(self._key(course, "report"))
        return [bool(n) for n in pipe.execute()]

    def member(self, course: str, username: str) -> Member | None:
        raw: Any = self.client.hget(self._key(course, "roster"), username)
        return None if raw is None else Member(**json.loads(raw))

    def save_report(self, report: CourseReport) -> None:
        """Replace the course's report and its learners' figures, atomically."""
        course = report.course_id
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(course, "report"), json.dumps(report.as_dict()))
        pipe.delete(self._key(course, "learners"))
        if report.time_spent:
            pipe.hset(self._key(course, "learners"), mapping={
                u: json.dumps(figures) for u, figures in report.time_spent.items()})
        pipe.execute()
        self.client.sadd(self._index, course)

    def save_parts(self, course: str, parts: Mapping[str, LearnerFigures]) -> None:
        """Keep learners' parts of the course's report (the pipeline's analysis)."""
        if parts:
            self.client.hset(self._key(course, "parts"),
                             mapping={u: part.to_json() for u, part in parts.items()})

    def parts(self, course: str) -> dict[str, LearnerFigures]:
        """Every learner's part of the course's report, in one read."""
        raw: Any = self.client.hgetall(self._key(course, "parts"))
        return {u.decode(): LearnerFigures.from_json(v) for u, v in raw.items()}

    def report(self, course: str) -> dict[str, Any] | None:
        raw: Any = self.client.get(self._key(course, "report"))
        return None if raw is None else dict(json.loads(raw))

    def learners(self, course: str) -> dict[str, dict[str, float]]:
        raw: Any = self.client.hgetall(self._key(course, "learners"))
        return {u.decode(): json.loads(v) for u, v in raw.items()}

    def forget(self, course: str, username: str) -> set[str]:
        """Take the person off the course's roster, learners' figures and parts, in one
        MULTI; which of the three named them. The report's sums stay until it is added
        up again (:func:`tracker.edx.erasure.forget_learner_analytics` does)."""
        pipe = self.client.pipeline(transaction=True)
        for what in FORGETTABLE:
            pipe.hdel(self._key(course, what), username)
        return {what for what, n in zip(FORGETTABLE, pipe.execute(), strict=True) if n}

    def roster(self, course: str) -> dict[str, Member]:
        """The course's whole roster, in one read."""
        raw: Any = self.client.hgetall(self._key(course, "roster"))
        return {u.decode(): Member(**json.loads(v)) for u, v in raw.items()}
