"""``tracker replay``: read the event stream again from a moment, after a crash of the data
Redis lost the effects of entries the consumer group had already read (README, "What a
Redis restart can cost").

It moves the consumer group back to just before the first entry at or after that moment
(``XGROUP SETID``), with the group's count of entries read kept right so the lag stays
known. Running bridges notice at their next commit and read on from there. Entries
applied before change nothing the second time (their dedupe records), so a replay from a
little too early costs time, never a double count; one from too late misses what the
crash lost. It never moves the group forward: that would skip entries unread.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import click
import redis

from tracker.commands import redis_errors
from tracker.pipeline_state import group_info
from tracker.settings import Settings
from tracker.storage.inflight import InFlight
from tracker.text import as_text, moment_ms, utc_text

ENTRY_ID = re.compile(r"^(\d+)(?:-(\d+))?$")
COUNT_PAGE = 10_000  # entries per XRANGE while counting what will be read again
STALL_SECONDS = 10.0  # --wait says so when the group has not moved for this long


@dataclass(frozen=True)
class Rewind:
    """Where the group stood, where it goes, and how many entries it will read again."""

    before: str  # the group's last delivered id before the replay
    after: str  # ... after it: the last entry before the first one read again, or 0-0
    again: int  # entries after ``after`` up to ``before``, read again
    entries_read: int | None  # the group's count of entries read, after the replay


def parse_since(text: str) -> str:
    """An entry id (``1764590400000-0``), Unix ms, or an ISO date-time (UTC unless it has
    an offset) as the first entry id to read again; ``start`` for the whole stream."""
    text = text.strip()
    if text in ("start", "0"):
        return "0-0"
    found = ENTRY_ID.match(text)
    if found:
        return f"{found[1]}-{found[2] or 0}"
    ms = moment_ms(text)
    if ms is None:
        raise click.BadParameter(
            f"{text!r} is not a time: give an entry id (1764590400000-0), Unix milliseconds, "
            "a date-time (2026-12-01T09:30, UTC unless it says +02:00) or 'start'")
    return f"{ms}-0"


def _id(value: bytes | str) -> tuple[int, int]:
    ms, _, seq = as_text(value).partition("-")
    return int(ms), int(seq or 0)


def _group(stream: redis.Redis, key: str, group: str) -> dict[str, Any]:
    info = group_info(stream, key, group)
    if info is None:
        raise click.ClickException(f"the stream {key!r} has no consumer group {group!r}: "
                                   "nothing has read it yet, so there is nothing to replay")
    return info


def plan_rewind(stream: redis.Redis, key: str, group: str, since: str) -> Rewind:
    """Where a replay from ``since`` (the first entry id to read again) moves the group."""
    info = _group(stream, key, group)
    before = as_text(info["last-delivered-id"])
    after = "0-0"
    if since != "0-0":
        previous: Any = stream.xrevrange(key, f"({since}", "-", count=1)
        after = as_text(previous[0][0]) if previous else "0-0"
    if _id(after) > _id(before):
        raise click.ClickException(
            f"the group has read only up to {before}: a replay from {since} would skip the "
            "entries in between unread")
    again, cursor = 0, after
    while True:  # count what will be read again: the entries in (after, before]
        page: Any = stream.xrange(key, f"({cursor}", before, count=COUNT_PAGE)
        again += len(page)
        if len(page) < COUNT_PAGE:
            break
        cursor = as_text(page[-1][0])
    read = info.get("entries-read")  # None when Redis lost count (an earlier SETID)
    return Rewind(before, after, again, None if read is None else int(read) - again)


def rewind(stream: redis.Redis, key: str, group: str, plan: Rewind) -> None:
    """Move the group back as planned."""
    stream.xgroup_setid(key, group, plan.after, entries_read=plan.entries_read)


def when(entry_id: str) -> str:
    """The time of an entry id, as the commands print it (UTC)."""
    ms = _id(entry_id)[0]
    return "the start" if ms == 0 else utc_text(ms)


@click.command("replay")
@click.option("--since", required=True, metavar="WHEN",
              help="the first entry to read again: a date-time (UTC unless it has an "
                   "offset), Unix ms, an entry id, or 'start' for the whole stream")
@click.option("--yes", is_flag=True, help="do not ask before moving the group")
@click.option("--past-dedupe-ttl", is_flag=True,
              help="replay entries older than TRACKER_DEDUPE_TTL, whose dedupe records may "
                   "be gone: only when their effects are gone too (an empty data Redis)")
@click.option("--wait/--no-wait", default=False, show_default=True,
              help="follow the bridges reading it again, with a progress bar (Ctrl-C "
                   "stops following, not the replay)")
def replay_command(since: str, yes: bool, past_dedupe_ttl: bool, wait: bool) -> None:
    """Read the event stream again from WHEN, after a crash of the data Redis lost writes
    (entries applied before change nothing). Moves the consumer group back; running
    bridges read on from there. Reads TRACKER_STREAM_URL, TRACKER_STREAM_KEY and
    TRACKER_STREAM_GROUP."""
    settings = Settings.from_env()
    first = parse_since(since)
    if settings.dedupe_ttl and not past_dedupe_ttl:
        # a dedupe record of an entry of time T lives until at least T + the TTL
        safe_ms = int(time.time() * 1000) - settings.dedupe_ttl * 1000
        if _id(first)[0] < safe_ms:
            raise click.ClickException(
                f"entries before {when(f'{safe_ms}-0')} may have no dedupe record any more "
                f"(TRACKER_DEDUPE_TTL={settings.dedupe_ttl} s): those already applied would "
                "count twice. Replay from a later moment, or pass --past-dedupe-ttl if their "
                "effects are gone too (an empty data Redis)")
    stream = redis.Redis.from_url(settings.stream_url, socket_timeout=30)
    key, group = settings.stream_key, settings.stream_group
    with redis_errors():
        plan = plan_rewind(stream, key, group, first)
        if plan.again == 0:
            click.echo(f"nothing to read again: no entry of {key} from {when(first)} on "
                       f"has been read by {group}")
            return
        click.echo(f"{group} has read {key} up to {plan.before} ({when(plan.before)}); "
                   f"{plan.again:,} entries from {when(first)} on will be read again")
        if not yes:
            click.confirm("Move the group back?", abort=True)
        rewind(stream, key, group, plan)
        click.echo(f"{group} moved back to {plan.after}; the bridges read on from there")
        if wait:
            _follow(stream, settings, plan)


def _follow(stream: redis.Redis, settings: Settings, plan: Rewind) -> None:
    """A progress bar of the entries read again, until the group is back where it was."""
    key, group = settings.stream_key, settings.stream_group
    start, target = _id(plan.after)[0], _id(plan.before)
    shown, last, moved_at, warned = 0, _id(plan.after), time.monotonic(), False
    with click.progressbar(length=plan.again, label="read again") as bar:
        while True:
            info = _group(stream, key, group)
            position = _id(info["last-delivered-id"])
            if position >= target:
                bar.update(plan.again - shown)
                break
            if position != last:
                last, moved_at = position, time.monotonic()
            elif not warned and time.monotonic() - moved_at > STALL_SECONDS:
                warned = True  # once: the bar goes on when a bridge comes
                click.echo(f"\nno bridge has read for {STALL_SECONDS:.0f} s: is one running "
                           "(tracker bridge)? The replay waits for it.", err=True)
            read = info.get("entries-read")
            if read is not None and plan.entries_read is not None:
                now = int(read) - plan.entries_read
            else:  # Redis lost count: by time, as entries ids are times
                now = plan.again * (position[0] - start) // max(1, target[0] - start)
            now = max(shown, min(plan.again, now))
            bar.update(now - shown)
            shown = now
            time.sleep(0.5)
    flight = InFlight.of(stream, settings)
    click.echo(f"read again; {flight.count():,} entries in flight are being applied "
               "(tracker status shows them, and each product's duplicates)")
