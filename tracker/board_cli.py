"""``tracker board``: a board's rows in a terminal, for an operator on the server (the
read API and ``/dashboard/boards`` show the same to everyone else)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tracker import subscore
from tracker.commands import configured_products, redis_errors
from tracker.manual_seasons import current_seasons
from tracker.periods import NotKept, kept_period, period_board
from tracker.ranking import TieMode
from tracker.settings import Settings
from tracker.storage import Keys, Ranks, Store
from tracker.storage.connect import data_client


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.command("board")
@click.argument("product_id")
@click.argument("board")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Rows to show.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="0-based position of the first row.")
@click.option("--period", help="A period's board (2026-11-29T14, 2026-W48, 2026-11, a season "
                                "id) instead of the all-time board.")
@click.option("--ties", type=click.Choice([m.value for m in TieMode]),
              help="How equal scores rank (default: the board's mode).")
@click.option("--around", "player", help="The rows around this player instead (marked *).")
def board_command(product_id: str, board: str, limit: int, offset: int, period: str | None,
                  ties: str | None, player: str | None) -> None:
    """Show a board's rows with their ranks (and each player's record on a score board).
    Reads TRACKER_REDIS_URL and TRACKER_PRODUCTS_FILE."""
    settings = Settings.from_env()
    product = configured_products(settings).get(product_id)
    if product is None:
        raise click.ClickException(f"product {product_id!r} is not configured")
    client, keys = data_client(settings.redis_url, socket_timeout=30), Keys(settings.key_prefix)
    with redis_errors():  # the seasons its boards set at run time, as they are now
        product = current_seasons(client, keys, product)
    b = product.board(board)
    if b is None:
        names = ", ".join(x.name for x in product.boards) or "none"
        raise click.ClickException(f"{product_id!r} has no board {board!r} (boards: {names})")
    name, span = board, ""
    if period is not None:
        try:
            read = kept_period(b.periods, period)
            name = period_board(board, read)
            span = f" ({_when(read.start_ms)[:16]} to {_when(read.end_ms)[:16]} UTC)"
        except NotKept as exc:
            raise click.ClickException(f"board {board!r} is {exc}") from None
        except ValueError as exc:
            raise click.ClickException(f"no such period: {exc}") from None
    ranks = Ranks(client, keys)
    kept = name if b.records else None
    with redis_errors():
        window = (ranks.around(product.id, name, player, limit, ascending=b.ascending,
                               earliest=b.earliest, records=kept) if player else
                  ranks.page(product.id, name, offset, limit, ascending=b.ascending,
                             earliest=b.earliest, records=kept))
    if window is None:
        raise click.ClickException(f"player {player!r} is not on board {name!r}")
    mode = TieMode(ties) if ties else b.ties
    # a tournament's limits hold per period on a board kept per period, else all-time
    limited = period is not None or b.periods is None
    joined = (Store(client, keys).joined(product.id, name)
              if limited and b.join_required else None)
    click.echo(f"{product.id} {name}{span}: {window.size} player(s), ranked {mode.value}"
               + (f"; each player's first {b.attempts} submission(s) count"
                  if limited and b.attempts else "")
               + (f"; the first {b.max_players} player(s) "
                  f"{'to join ' if b.join_required else ''}are in"
                  if limited and b.max_players else "")
               + (f"; only the {joined} player(s) who joined count"
                  if joined is not None else "")
               + (f"; at most {b.rate_limit.submissions} submission(s) of a player per "
                  f"{b.rate_limit.seconds} s count" if b.rate_limit else "")
               + (f"; score / subscore, equal scores by the "
                  f"{'lowest' if b.subscore == 'asc' else 'highest'} subscore"
                  if b.subscore else ""))
    records = window.records or [None] * len(window.rows)
    for entry, record in zip(window.ranked(mode), records, strict=True):
        mark = "*" if entry.user_id == player else " "
        if b.subscore:  # the packed number: both columns
            score, sub = subscore.split(entry.score, b.subscore, b.ascending)
            shown = f"{score:g} / {sub}"
        else:
            shown = f"{entry.score:g}"
        line = f"{mark}{entry.rank:>7}  {entry.user_id}  {shown}"
        if record is not None:
            line += (f"  ({record.submissions} submission(s), last {_when(record.last_at)}"
                     + (f", {record.metadata}" if record.metadata else "") + ")")
        click.echo(line)
