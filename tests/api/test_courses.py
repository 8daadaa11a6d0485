"""Course analytics: imported by `tracker edx-import`, read by the course's staff only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from tests.api.conftest import OTHER, UNIT, Token, bearer
from tests.tracker.edx.logs_gen import COURSE
from tracker.edx.cli import edx_import_command
from tracker.settings import Settings


def path(course: str, rest: str = "") -> str:
    return f"/courses/{quote(course)}/analytics{rest}"


def test_staff_read_their_course(secured: FlaskClient, token: Token, imported: None) -> None:
    for who in ("prof", "ta"):
        body = secured.get(path(COURSE), headers=bearer(token(sub=who))).get_json()
        assert body["course_id"] == COURSE and body["learners"] == 3
        assert body["total_time_5min_s"] == 154  # ann 50, bob 100, dee 4; prof left out
        assert body["units"] == [{"unit": UNIT, "learners": 1, "time_5min_s": 50.0,
                                  "time_30min_s": 50.0}]
        (v,) = body["videos"]
        assert (v["viewers"], v["mean_coverage"], v["completed_eol_coverage_0_9"]) == (
            2, 0.75, 1)
    learners = secured.get(path(COURSE, "/learners"), headers=bearer(token(sub="prof")))
    rows = learners.get_json()["learners"]
    assert [(r["username"], r.get("email"), r["time_5min_s"]) for r in rows] == [
        ("ann", "ann@example.org", 50.0), ("bob", "bob@example.org", 100.0),
        ("dee", None, 4.0)]  # not enrolled by the roster: no contact details


def test_only_that_courses_staff(secured: FlaskClient, token: Token, imported: None) -> None:
    assert secured.get(path(COURSE)).status_code == 401
    for who in ("ann", "carl", "nobody"):  # a student; staff of another course; a stranger
        resp = secured.get(path(COURSE, "/learners"), headers=bearer(token(sub=who)))
        assert resp.status_code == 403 and resp.get_json()["error"] == "not_course_staff"
    admin = bearer(token(sub="ops", scope="analytics:admin"))  # the explicit grant
    assert secured.get(path(COURSE), headers=admin).status_code == 200
    other = secured.get(path(OTHER, "/learners"), headers=bearer(token(sub="carl")))
    assert [r["username"] for r in other.get_json()["learners"]] == ["ann"]
    missing = secured.get(path("course-v1:No+Such+Course"), headers=admin)
    assert missing.status_code == 404 and missing.get_json()["error"] == "no_report"


def test_the_courses_a_caller_may_read(secured: FlaskClient, token: Token,
                                       imported: None) -> None:
    assert secured.get("/courses").status_code == 401

    def courses(**claims: str) -> list[dict[str, object]]:
        resp = secured.get("/courses", headers=bearer(token(**claims)))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["courses"]  # type: ignore[no-any-return]

    assert courses(sub="prof") == [{"course_id": COURSE, "role": "instructor",
                                    "has_report": True}]
    assert courses(sub="carl") == [{"course_id": OTHER, "role": "staff", "has_report": True}]
    assert courses(sub="ann") == []  # a student of both: no analytics
    everything = courses(sub="ops", scope="analytics:admin")
    assert [(c["course_id"], c["role"]) for c in everything] == [(OTHER, None), (COURSE, None)]


def test_a_bad_roster_is_refused(tmp_path: Path, settings: Settings,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(f"course_id,username,role\n{COURSE},ann,teacher\n")
    log = tmp_path / "tracking.log"
    log.write_text("")
    monkeypatch.setenv("TRACKER_REDIS_URL", settings.redis_url)
    result = CliRunner().invoke(edx_import_command, [str(log), "--roster", str(roster)])
    assert result.exit_code == 2 and "roster.csv:2" in result.output
