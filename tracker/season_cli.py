"""``tracker season``: seasons set at run time, on boards with ``seasons = "manual"``, as
PlayFab's manual resets: start one (which ends the season running then), move the last
one's end, list them. :mod:`tracker.storage.seasons` keeps them and says why a change
takes effect a minute after it is made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import click

from tracker.commands import configured_board, configured_products, redis_errors
from tracker.handlers import Board
from tracker.periods import Period
from tracker.settings import Settings
from tracker.storage import Keys
from tracker.storage.connect import data_client
from tracker.storage.seasons import MAX_SEASON_MS, CalendarError, Season, SeasonCalendar
from tracker.text import moment_ms, utc_text

ASAP_MARGIN_MS = 1_000  # "as soon as allowed": the lead, plus this for the clocks to differ


def _instant_ms(text: str) -> int:
    """A date-time (UTC unless it says its offset) as Unix ms."""
    ms = moment_ms(text)
    if ms is None:
        raise click.BadParameter(f"{text!r} is not a date-time: give 2026-12-04T18:00 (UTC "
                                 "unless it says +02:00)")
    return ms


def _manual_board(product_id: str, board_name: str) -> tuple[Board, SeasonCalendar]:
    """The command's board, configured with seasons set at run time, and its calendar."""
    settings = Settings.from_env()
    _, board = configured_board(configured_products(settings), product_id, board_name)
    if board.periods is None or not board.periods.manual:
        raise click.BadParameter(f'{product_id}/{board_name} has no seasons set at run time '
                                 '(give it seasons = "manual" beside "season" in periods)',
                                 param_hint="BOARD")
    client = data_client(settings.redis_url, socket_timeout=30)
    return board, SeasonCalendar(client, Keys(settings.key_prefix))


def _print(seasons: Sequence[Season], now_ms: int) -> None:
    if not seasons:
        click.echo("no seasons yet")
    for season in seasons:
        state = ("ended" if season.end_ms <= now_ms else "running" if season.start_ms <= now_ms
                 else "due")
        click.echo(f"{season.id:<12} {utc_text(season.start_ms)} to {utc_text(season.end_ms)}  "
                   f"{state}")


@click.group("season")
def season_command() -> None:
    """Seasons set at run time, on boards with seasons = "manual" (PlayFab's manual resets):
    a change takes effect a minute after it is made, at the earliest, so that every worker
    has read it first. Reads TRACKER_REDIS_URL and TRACKER_PRODUCTS_FILE."""


@season_command.command("list")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
def list_command(product_id: str, board_name: str) -> None:
    """The board's seasons, in order: ended, running or due."""
    board, calendar = _manual_board(product_id, board_name)
    with redis_errors():
        now_ms, calendars = calendar.read(product_id, (board.name,))
    _print(calendars[board.name], now_ms)


@season_command.command("start")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
@click.argument("season_id", metavar="SEASON")
@click.option("--at", "at", metavar="WHEN",
              help="when it begins (a date-time, UTC unless it says its offset); default: as "
                   "soon as allowed, a minute from now")
@click.option("--until", "until", metavar="WHEN",
              help="when it ends (its first instant after); default: until the next season "
                   "starts or `tracker season end`, at most 3,660 days")
@click.option("--days", type=click.IntRange(1, MAX_SEASON_MS // 86_400_000),
              help="or how many days it lasts")
def start_command(product_id: str, board_name: str, season_id: str, at: str | None,
                  until: str | None, days: int | None) -> None:
    """Start season SEASON of BOARD: from then on the board's events also count on its
    board for that season (read with ?period=SEASON), and the season running then, if any,
    ends (PlayFab's manual reset). Closing, results, archives and buckets treat it as any
    season."""
    if until is not None and days is not None:
        raise click.UsageError("give --until WHEN or --days N, not both")
    board, calendar = _manual_board(product_id, board_name)
    assert board.periods is not None
    with redis_errors():
        if at is None:
            now_ms, _ = calendar.read(product_id, (board.name,))
            at_ms = now_ms + calendar.lead_ms + ASAP_MARGIN_MS
        else:
            at_ms = _instant_ms(at)
        until_ms = (_instant_ms(until) if until is not None
                    else at_ms + int(timedelta(days=days).total_seconds() * 1000) if days
                    else at_ms + MAX_SEASON_MS)  # until the next one, or an end set later
        try:
            # the id and the span must be a season's, as in a configured calendar
            Period.season_at(season_id, at_ms, until_ms, board.periods.clock)
            seasons = calendar.start(product_id, board.name, season_id, at_ms, until_ms)
        except (CalendarError, ValueError) as exc:
            raise click.ClickException(f"season {season_id!r} not started: {exc}") from exc
        now_ms, _ = calendar.read(product_id, (board.name,))
    click.echo(f"{product_id}/{board.name}: season {season_id} starts at {utc_text(at_ms)}")
    _print(seasons, now_ms)


@season_command.command("end")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
@click.option("--at", "at", metavar="WHEN",
              help="when it ends instead (earlier or later); default: as soon as allowed, a "
                   "minute from now")
def end_command(product_id: str, board_name: str, at: str | None) -> None:
    """Move the end of BOARD's last season to WHEN: end it early, or extend it."""
    board, calendar = _manual_board(product_id, board_name)
    with redis_errors():
        now_ms, _ = calendar.read(product_id, (board.name,))
        at_ms = (now_ms + calendar.lead_ms + ASAP_MARGIN_MS) if at is None else _instant_ms(at)
        try:
            seasons = calendar.end(product_id, board.name, at_ms)
        except CalendarError as exc:
            raise click.ClickException(f"not changed: {exc}") from exc
    click.echo(f"{product_id}/{board.name}: season {seasons[-1].id} ends at {utc_text(at_ms)}")
    _print(seasons, now_ms)

