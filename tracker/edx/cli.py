"""``tracker edx-report``: course analytics from Open edX tracking-log files."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from tracker.edx.logs import LogEvent, read_events
from tracker.edx.report import build_reports


@click.command("edx-report")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
    skipped: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def events() -> Iterator[LogEvent]:
        with click.progressbar(files, label="reading", file=sys.stderr,
                               item_show_func=lambda p: p.name if p else "") as bar:
            for path in bar:
                yield from read_events([path], skipped)

    reports = build_reports(events(), team, counts)
    chosen = [r for cid, r in sorted(reports.items()) if course is None or cid == course]
    click.echo(json.dumps({"courses": [r.as_dict() for r in chosen],
                           "events": dict(counts), "skipped_lines": dict(skipped)}, indent=2))
