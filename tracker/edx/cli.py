"""``tracker edx-report`` and ``tracker edx-import``: course analytics from Open edX
tracking-log files, printed, or stored in Redis for the read API."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import click

from tracker.edx.ingest import Busy, CourseAnalysis, send_lines, store_rosters
from tracker.edx.logs import LogEvent, read_events
from tracker.edx.report import CourseReport, build_reports
from tracker.edx.sources import LogSource, sources
from tracker.edx.store import AnalyticsStore, Member, read_roster
from tracker.settings import Settings
from tracker.storage import Keys, Timelines
from tracker.storage.connect import data_client

# Log files, or s3://bucket/prefix for every object under the prefix (tracker.edx.sources)
LOCATIONS = click.argument("locations", nargs=-1, required=True, metavar="FILES_OR_S3_URLS…")


def _sources(locations: Sequence[str]) -> list[LogSource]:
    try:
        return sources(locations)
    except (OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    except Exception as exc:  # boto3's: no credentials, no such bucket, endpoint down
        raise click.ClickException(f"cannot list {', '.join(locations)}: "
                                   f"{type(exc).__name__}: {exc}") from None


def _reports(locations: Sequence[str], in_team: Callable[[str, str], bool]
             ) -> tuple[dict[str, CourseReport], dict[str, int], dict[str, int]]:
    """Reports of the logs (a progress bar on stderr), events by outcome, skipped lines."""
    found = _sources(locations)
    skipped: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def events() -> Iterator[LogEvent]:
        with click.progressbar(length=sum(s.size for s in found), label="reading",
                               file=sys.stderr) as bar:
            yield from read_events(found, skipped, bar.update)

    reports = build_reports(events(), in_team, counts)
    return reports, dict(counts), dict(skipped)


@click.command("edx-report")
@LOCATIONS
@click.option("--team", "team_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Usernames of the course team, one per line: left out of the figures.")
@click.option("--course", default=None, help="Only this course (course-v1:… or Org/Course/Run).")
def edx_report_command(locations: tuple[str, ...], team_file: Path | None,
                       course: str | None) -> None:
    """Time spent and video metrics per course, as JSON, from tracking logs (plain or gzip,
    bare or logger-prefixed lines; files, or s3://bucket/prefix for every object under
    it). Logs are merged and sorted per learner; a line seen twice counts once."""
    team: set[str] = set()
    if team_file is not None:
        team = {ln.strip() for ln in team_file.read_text().splitlines() if ln.strip()}
    reports, counts, skipped = _reports(locations, lambda _course, user: user in team)
    chosen = [r for cid, r in sorted(reports.items()) if course is None or cid == course]
    click.echo(json.dumps({"courses": [r.as_dict() for r in chosen], "events": counts,
                           "skipped_lines": skipped}, indent=2))


@click.command("edx-import")
@LOCATIONS
@click.option("--roster", "roster_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV: course_id,username,role[,email,name]; role is student, staff, "
                   "instructor, data_researcher or administrator.")
def edx_import_command(locations: tuple[str, ...], roster_file: Path) -> None:
    """Store each course's roster and its report (time spent, videos) in Redis
    (TRACKER_REDIS_URL), for the read API's course analytics. A course's report is
    replaced whole: give every log file of the period. Course-team members (by the
    roster) are left out of the figures."""
    roster = _roster(roster_file)
    store = AnalyticsStore(data_client(Settings.from_env().redis_url))
    for course, members in roster.items():
        store.save_roster(course, members)

    def in_team(course: str, user: str) -> bool:
        member = roster.get(course, {}).get(user)
        return member is not None and member.is_staff

    reports, counts, skipped = _reports(locations, in_team)
    for report in reports.values():
        store.save_report(report)
    click.echo(f"{len(reports)} courses stored ({', '.join(sorted(reports)) or 'none'}); "
               f"events: {counts}; skipped lines: {skipped}")


def _roster(path: Path) -> dict[str, dict[str, Member]]:
    try:
        return read_roster(path)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


PRODUCT = click.option("--product", default="edx", show_default=True,
                       help="The product id the lines go under (one with the edx_logs handler).")


@click.command("edx-ingest")
@LOCATIONS
@PRODUCT
@click.option("--roster", "roster_file", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also store this roster (CSV as for edx-import); its courses are analysed "
                   "again.")
def edx_ingest_command(locations: tuple[str, ...], product: str,
                       roster_file: Path | None) -> None:
    """Send tracking-log lines (plain or gzip files, or s3://bucket/prefix) through the
    pipeline: each line goes to the event stream as it is, and the bridge and workers
    keep each course's events and rebuild its report (TRACKER_ANALYSIS_DELAY_MS after
    they come). Lines seen before count once; lines that are no event are
    dead-lettered with their reason."""
    settings = Settings.from_env()
    found = _sources(locations)
    if roster_file is not None:
        store_rosters(settings, product, _roster(roster_file))
    with click.progressbar(length=sum(s.size for s in found), label="sending",
                           file=sys.stderr) as bar:
        sent, blank = send_lines(settings, product, found, bar.update)
    click.echo(f"{sent} lines sent to {settings.stream_key} as product {product!r}"
               f" ({blank} blank or comment lines left out)")


@click.command("edx-analyze")
@PRODUCT
@click.option("--wait", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds to wait while a worker's analysis of the product runs.")
def edx_analyze_command(product: str, wait: float) -> None:
    """Bring now the report of every course whose events or roster changed since its
    last analysis up to date (workers do it on their own shortly after new events)."""
    settings = Settings.from_env()
    data = data_client(settings.redis_url)
    analysis = CourseAnalysis(Timelines(data, Keys(settings.key_prefix)), AnalyticsStore(data))
    deadline = time.monotonic() + wait
    while True:
        try:
            done = analysis.run(product)
            break
        except Busy:
            if time.monotonic() > deadline:
                raise click.ClickException(f"another analysis of {product!r} is still "
                                           "running; try again later") from None
            time.sleep(0.5)
    if not done:
        click.echo("no course changed")
    for course, learners in done.items():
        click.echo(f"{course}: report brought up to date, {learners} learners worked out "
                   "again")
