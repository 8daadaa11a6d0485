"""Forgetting a learner: their timelines, roster entry, figures and part of every course
report go, the reports are added up again as if they had never come, and later
analyses do not bring them back; the ``tracker forget-learner`` command does that
and erases their user state and dead letters. Real Redis throughout."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.processes import settings_env
from tests.tracker.edx.logs_gen import (
    COURSE,
    OTHER,
    T0,
    as_entries,
    file_reports,
    line,
    session,
    traffic,
)
from tracker.edx import erasure
from tracker.edx.erasure import AnalyticsForgotten, forget_learner_analytics
from tracker.edx.ingest import Busy, CourseAnalysis
from tracker.edx.store import Member
from tracker.processing import BatchProcessor
from tracker.settings import Settings
from tracker.storage import DeadLetter, DeadLetters
from tracker.userstate import UserStateClient


def not_ann(lines: list[str]) -> list[str]:
    return [ln for ln in lines if '"username":"ann"' not in ln and '"username": "ann"' not in ln]


def ann_keys(data: redis.Redis) -> list[bytes]:
    return [k for k in data.scan_iter(count=1000) if k.endswith(b":ann")]


def test_a_forgotten_learner_leaves_the_reports_as_if_never_there(
        tmp_path: Path, pipeline: tuple[BatchProcessor, CourseAnalysis],
        data: redis.Redis) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=3)
    assert not_ann(lines) != lines
    processor.process("edx", "s", as_entries(lines))
    analysis.run("edx")
    analysis.analytics.save_roster(COURSE, {"ann": Member("student"), "prof": Member("staff")})
    assert ann_keys(data)  # her two timelines

    gone = forget_learner_analytics(analysis, ["edx"], "ann")
    assert gone == AnalyticsForgotten(2, (COURSE, OTHER), (COURSE, OTHER))
    assert not ann_keys(data)
    expected = file_reports(tmp_path, not_ann(lines), team={"prof"})
    assert analysis.analytics.report(COURSE) == expected[COURSE].as_dict()
    for course in (COURSE, OTHER):
        assert "ann" not in analysis.analytics.learners(course)
        assert "ann" not in analysis.analytics.parts(course)
    assert analysis.analytics.member(COURSE, "ann") is None
    assert analysis.analytics.member(COURSE, "prof") == Member("staff")

    # bob comes back: the next analysis adds up the parts, ann's is not among them
    more = session(random.Random(1), "bob", COURSE, T0 + 9 * 86_400)
    processor.process("edx", "s", as_entries(more, base_ms=1_800_000_000_000))
    assert analysis.run("edx") == {COURSE: 1}
    expected = file_reports(tmp_path, not_ann(lines) + more, team={"prof"})
    assert analysis.analytics.report(COURSE) == expected[COURSE].as_dict()
    # again: nothing names her any more
    assert forget_learner_analytics(analysis, ["edx"], "ann") == AnalyticsForgotten(0, (), ())


def test_a_learner_forgotten_before_the_first_analysis_never_counts(
        tmp_path: Path, pipeline: tuple[BatchProcessor, CourseAnalysis]) -> None:
    processor, analysis = pipeline
    lines = traffic(seed=4)
    processor.process("edx", "s", as_entries(lines))  # not analysed yet: no course known
    assert analysis.analytics.courses() == []
    gone = forget_learner_analytics(analysis, ["edx"], "ann")
    assert gone == AnalyticsForgotten(2, (), ())
    assert analysis.run("edx") == {COURSE: 4, OTHER: 4}
    expected = file_reports(tmp_path, not_ann(lines))
    for course in (COURSE, OTHER):
        assert analysis.analytics.report(course) == expected[course].as_dict()


def test_forgetting_waits_for_a_running_analysis(
        pipeline: tuple[BatchProcessor, CourseAnalysis],
        monkeypatch: pytest.MonkeyPatch) -> None:
    processor, analysis = pipeline
    processor.process("edx", "s", as_entries(traffic(seed=5)))
    analysis.run("edx")
    token = analysis.timelines.lock("edx", 60_000)  # an analysis running
    assert token is not None
    monkeypatch.setattr(erasure, "LOCK_WAIT_S", 0.3)
    with pytest.raises(Busy):
        forget_learner_analytics(analysis, ["edx"], "ann")
    assert "ann" in analysis.analytics.learners(COURSE)  # nothing done

    monkeypatch.setattr(erasure, "LOCK_WAIT_S", 10)
    release = threading.Timer(0.5, analysis.timelines.unlock, ["edx", token])
    release.start()
    gone = forget_learner_analytics(analysis, ["edx"], "ann")
    release.join()
    assert gone.courses == (COURSE, OTHER)
    assert analysis.timelines.lock("edx", 1000) is not None  # the eraser let go of it


def test_the_command_forgets_learners_everywhere(
        settings: Settings, pipeline: tuple[BatchProcessor, CourseAnalysis],
        data: redis.Redis, dead_letters: DeadLetters) -> None:
    processor, analysis = pipeline
    processor.process("edx", "s", as_entries(traffic(seed=6)))
    analysis.run("edx")
    states = UserStateClient(data)
    unit = "block-v1:OrgX+Data101+2026+type@problem+block@p1"
    for user in ("ann", "bob"):
        states.set(user, unit, {"answer": 42})
    # dead letters: two lines that name ann (one Tutor-prefixed), one bob's
    bad = ['{"username": "ann", "time": "2026-13-45"}',
           'INFO [tracking] logger.py:41 - {"username":"ann","time":"never"}',
           '{"username": "bob", "time": "2026-13-45"}']
    processor.process("edx", "s", as_entries(bad, base_ms=1_900_000_000_000))
    assert dead_letters.count() == 3
    runner = CliRunner(env=settings_env(settings))

    refused = runner.invoke(main, ["forget-learner", "ann"], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert states.get("ann", unit).state == {"answer": 42}

    out = runner.invoke(main, ["forget-learner", "ann", "nobody", "--yes"])
    assert out.exit_code == 0, out.output
    assert ("ann: user state: 2 key(s) in 1 course(s); course analytics: 2 course(s), "
            "2 timeline(s), 2 report(s) added up again") in out.output
    assert ("nobody: user state: 0 key(s) in 0 course(s); course analytics: 0 course(s), "
            "0 timeline(s), 0 report(s) added up again") in out.output
    assert "dead letters naming them: 2 deleted" in out.output
    assert "forgot 2 learner(s)" in out.output
    assert not list(states.get_many("ann", [unit]))
    assert states.get("bob", unit).state == {"answer": 42}
    assert not ann_keys(data)
    assert [lt.fields[b"line"].decode() for lt in dead_letters.scan()] == [bad[2]]
    for course in (COURSE, OTHER):
        assert "ann" not in analysis.analytics.learners(course)
        assert "bob" in analysis.analytics.learners(course)

    kept = runner.invoke(main, ["forget-learner", "bob", "--keep-dead-letters", "--yes"])
    assert kept.exit_code == 0, kept.output
    assert "dead letters" not in kept.output and dead_letters.count() == 1


def test_a_line_that_only_mentions_the_name_is_not_the_learner_s() -> None:
    texts = ['{"username": "ann2", "x": 1}', '{"username": "xann"}', '{"name": "ann"}',
             '{"username" :  "ann" }', '{"username": "\\u00e9mile"}', '{"username": "émile"}',
             line("x", T0, user="ann", tutor=True)]
    letters = [DeadLetter("s", f"{i}-0", "invalid_fields", "", "edx",
                          {b"line": text.encode()}) for i, text in enumerate(texts)]
    found = erasure.naming_learner(letters, ["ann", "émile"])
    assert [lt.entry_id for lt in found] == ["3-0", "4-0", "5-0", "6-0"]
