"""``tracker edx-report`` and ``tracker edx-import``: course analytics from Open edX
tracking-log files, printed, or stored in Redis for the read API."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import click
import redis

from tracker.edx.logs import LogEvent, read_events
from tracker.edx.report import CourseReport, build_reports
from tracker.edx.store import AnalyticsStore, read_roster
from tracker.settings import Settings

FILES = click.argument("files", nargs=-1, required=True,
                       type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _reports(files: Sequence[Path], in_team: Callable[[str, str], bool]
             ) -> tuple[dict[str, CourseReport], dict[str, int], dict[str, int]]:
    """Reports of ``files`` (a progress bar on stderr), events by outcome, skipped lines."""
    skipped: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def events() -> Iterator[LogEvent]:
        with click.progressbar(files, label="reading", file=sys.stderr,
                               item_show_func=lambda p: p.name if p else "") as bar:
            for path in bar:
                yield from read_events([path], skipped)

    reports = build_reports(events(), in_team, counts)
    return reports, dict(counts), dict(skipped)


@click.command("edx-report")
@FILES
@click.option("--team", "team_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Usernames of the course team, one per line: left out of the figures.")
@click.option("--course", default=None, help="Only this course (course-v1:… or Org/Course/Run).")
def edx_report_command(files: tuple[Path, ...], team_file: Path | None,
                       course: str | None) -> None:
    """Time spent and video metrics per course, as JSON, from tracking logs (plain or gzip,
    bare or logger-prefixed lines). Files are merged and sorted per learner; a line
    seen twice counts once."""
    team: set[str] = set()
    if team_file is not None:
        team = {ln.strip() for ln in team_file.read_text().splitlines() if ln.strip()}
    reports, counts, skipped = _reports(files, lambda _course, user: user in team)
    chosen = [r for cid, r in sorted(reports.items()) if course is None or cid == course]
    click.echo(json.dumps({"courses": [r.as_dict() for r in chosen], "events": counts,
                           "skipped_lines": skipped}, indent=2))


@click.command("edx-import")
@FILES
@click.option("--roster", "roster_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV: course_id,username,role[,email,name]; role is student, staff, "
                   "instructor, data_researcher or administrator.")
def edx_import_command(files: tuple[Path, ...], roster_file: Path) -> None:
    """Store each course's roster and its report (time spent, videos) in Redis
    (TRACKER_REDIS_URL), for the read API's course analytics. A course's report is
    replaced whole: give every log file of the period. Course-team members (by the
    roster) are left out of the figures."""
    try:
        roster = read_roster(roster_file)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    store = AnalyticsStore(redis.Redis.from_url(Settings.from_env().redis_url))
    for course, members in roster.items():
        store.save_roster(course, members)

    def in_team(course: str, user: str) -> bool:
        member = roster.get(course, {}).get(user)
        return member is not None and member.is_staff

    reports, counts, skipped = _reports(files, in_team)
    for report in reports.values():
        store.save_report(report)
    click.echo(f"{len(reports)} courses stored ({', '.join(sorted(reports)) or 'none'}); "
               f"events: {counts}; skipped lines: {skipped}")
