"""``/courses/<course_id>/analytics``: a course's time spent and video metrics, for its staff,
and ``/courses``: the courses a caller may read.

Stored by the pipeline's course analysis or ``tracker edx-import`` (:mod:`tracker.edx`).
Only a caller whose token
``sub`` has a staff, instructor, data researcher or administrator role in that
course's roster, or holds the explicit grant ``analytics:admin``, may read them.
Contact details come from the roster and are shown only for the course's own
enrolled students. No raw event, IP or user agent is ever served.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.auth import ANALYTICS_ADMIN
from api.errors import ApiError
from api.openapi import Auth, Operation, operation
from api.schemas import CourseAnalyticsSchema, CourseListSchema, LearnerListSchema
from api.state import state
from tracker.edx.logs import normalise_course
from tracker.edx.store import AnalyticsStore

bp = Blueprint("courses", __name__, url_prefix="/courses")

_report, _learners, _list = CourseAnalyticsSchema(), LearnerListSchema(), CourseListSchema()


@bp.get("")
@operation(Operation(tag="course analytics", response=CourseListSchema,
                     auth=Auth.COURSE_STAFF))
def my_courses() -> ResponseReturnValue:
    """The courses whose analytics the caller may read: those whose roster gives the
    token's `sub` a staff role, or every course for an `analytics:admin` grant."""
    who = state().auth.principal()
    store = AnalyticsStore(state().store.client)
    courses = store.courses()
    roles = store.roles(courses, who.subject) if who.subject else {}
    if ANALYTICS_ADMIN not in who.scopes:
        courses = [c for c in courses if c in roles and roles[c].is_staff]
    rows = [{"course_id": c, "role": roles[c].role if c in roles else None, "has_report": r}
            for c, r in zip(courses, store.has_report(courses), strict=True)]
    return jsonify(_list.dump({"courses": rows}))


def _authorized(course_id: str) -> tuple[str, AnalyticsStore]:
    """The course (normalised) and the store, once the caller is that course's staff."""
    course = normalise_course(course_id)
    if "{" in course or "}" in course:
        raise ApiError(404, "no_report", f"No analytics for course {course_id!r}.")
    store = AnalyticsStore(state().store.client)

    def is_staff(username: str) -> bool:
        member = store.member(course, username)
        return member is not None and member.is_staff

    state().auth.course_staff(is_staff)  # before anything of the course is read
    return course, store


@bp.get("/<course_id>/analytics")
@operation(Operation(tag="course analytics", response=CourseAnalyticsSchema,
                     auth=Auth.COURSE_STAFF, errors=(404,)))
def course_analytics(course_id: str) -> ResponseReturnValue:
    """The course's learners, their total time spent, and each video's metrics."""
    course, store = _authorized(course_id)
    report = store.report(course)
    if report is None:
        raise ApiError(404, "no_report", f"No analytics imported for course {course!r}.")
    return jsonify(_report.dump(report))


@bp.get("/<course_id>/analytics/learners")
@operation(Operation(tag="course analytics", response=LearnerListSchema,
                     auth=Auth.COURSE_STAFF, errors=(404,)))
def course_learners(course_id: str) -> ResponseReturnValue:
    """Each learner's time spent, with name and email for the course's enrolled students."""
    course, store = _authorized(course_id)
    roster = store.roster(course)  # one read, not one per learner
    rows = []
    for username, figures in sorted(store.learners(course).items()):
        member = roster.get(username)
        contact = {}
        if member is not None and member.role == "student":
            contact = {"name": member.name, "email": member.email}
        rows.append({"username": username, **contact, **figures})
    return jsonify(_learners.dump({"course_id": course, "learners": rows}))
