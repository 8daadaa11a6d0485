"""Forgetting a player (a right-to-erasure request): ``tracker forget-player``; and
deleting a player's records on one board (a cheat's scores): ``tracker delete-records``.

Per product, one atomic script (``storage/forget.lua``) takes the player off every
board, all-time and of every period still kept, keeping each board's tie
structures right, deletes its stats, ratings and game histories, and takes its
rows out of the boards' archives of closed periods. Then the dead letters whose
original fields name the player are deleted too.

What it cannot undo: the games the player took part in stay in its opponents'
ratings and histories (a rating board's total, zero-sum for Elo, then differs by
what the player had won or lost), the entries of the results stream already
published (read by whatever grants rewards) name it still, and an event of the
player still in the event stream, applied later or replayed, puts the player back.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence

import click

from tracker.commands import configured_board, configured_products, redis_errors
from tracker.handlers import Board
from tracker.manual_seasons import current_seasons
from tracker.periods import period_board
from tracker.products import PERIODIC_KINDS, Product
from tracker.settings import Settings
from tracker.storage import DeadLetter, DeadLetters, Forgotten, Keys, Store
from tracker.storage.connect import data_client


def kept_boards(board: Board, now_ms: int) -> list[str]:
    """``board``'s all-time board and its period boards still kept, plus the next
    period's (a producer's clock ahead)."""
    names = [board.name]
    policy = board.periods
    if policy is None:
        return names
    for kind in policy.kinds:
        readable = policy.readable(kind, now_ms)
        ahead = (policy.shift(readable[0], 1) if readable
                 else policy.seasons[0] if policy.seasons else None)
        names += [period_board(board.name, period)
                  for period in [ahead, *readable] if period is not None]
    return names


def player_boards(product: Product, now_ms: int) -> list[str]:
    """Every board of ``product`` that may hold a player (:func:`kept_boards` of each)."""
    return [name for board in product.boards for name in kept_boards(board, now_ms)]


def forget_players(store: Store, product: Product, user_ids: Sequence[str],
                   now_ms: int) -> list[Forgotten]:
    """Remove each player's board entries, stats, ratings and histories in ``product``
    (one atomic script per player), and their counts in the boards' rate-limit windows
    (found in one SCAN for all of them: it walks the whole keyspace)."""
    store.forget_rate_counts(product.id, [b.name for b in product.boards if b.rate_limit],
                             user_ids)
    boards = player_boards(_current(store, product), now_ms)
    return [store.forget(product.id, user_id, boards, product.earliest)
            for user_id in user_ids]


def delete_records(store: Store, product: Product, board: Board, user_ids: Sequence[str],
                   now_ms: int) -> list[Forgotten]:
    """Take each player off ``board`` (all-time and every kept period, buckets included)
    with its records, archived rows and rate-limit counts; their stats, other boards,
    joins and buckets stay."""
    if board.rate_limit:
        store.forget_rate_counts(product.id, [board.name], user_ids)
    boards = kept_boards(_current(store, product).board(board.name) or board, now_ms)
    return [store.forget(product.id, user_id, boards, product.earliest, records_only=True)
            for user_id in user_ids]


def _current(store: Store, product: Product) -> Product:
    """``product`` with the seasons its boards set at run time, as they are now."""
    return current_seasons(store.client, store.keys, product)


def naming(letters: Iterable[DeadLetter], user_ids: Sequence[str]) -> list[DeadLetter]:
    """The letters one of whose original fields (``user_id``, ``winner_id``, ``p1_id``…)
    is exactly one of ``user_ids``."""
    wanted = {u.encode() for u in user_ids}
    return [letter for letter in letters if not wanted.isdisjoint(letter.fields.values())]


def delete_dead_letters(letters: DeadLetters,
                        select: Callable[[Iterable[DeadLetter]], list[DeadLetter]]) -> int:
    """Delete the dead letters ``select`` picks of all of them (read with a progress bar
    on stderr); how many were deleted."""
    with click.progressbar(letters.scan(), length=letters.count(), label="dead letters",
                           file=sys.stderr) as scanned:
        found = select(scanned)
    return sum(letters.remove(found[i:i + 500]) for i in range(0, len(found), 500))


@click.command("forget-player")
@click.argument("user_ids", nargs=-1, required=True, metavar="USER_ID...")
@click.option("--product", "product_ids", multiple=True, metavar="PRODUCT",
              help="Only in this product (repeatable); default: every configured product.")
@click.option("--keep-dead-letters", is_flag=True,
              help="Leave the dead letters that name the player.")
@click.confirmation_option(prompt="Delete these players' scores, stats, ratings and "
                                  "histories for good?")
def forget_player_command(user_ids: Sequence[str], product_ids: Sequence[str],
                          keep_dead_letters: bool) -> None:
    """Forget players (a right-to-erasure request): their places on every board (all-time
    and of every kept period), stats, ratings and game histories, and the dead letters
    that name them. Each product's part is atomic. Reads TRACKER_REDIS_URL and
    TRACKER_PRODUCTS_FILE; --yes skips the question."""
    settings = Settings.from_env()
    products = configured_products(settings)
    unknown = [p for p in product_ids if p not in products]
    if unknown:
        raise click.BadParameter(f"not configured: {', '.join(unknown)}", param_hint="--product")
    client = data_client(settings.redis_url, socket_timeout=30)
    keys = Keys(settings.key_prefix)
    store = Store(client, keys)
    now_ms = int(time.time() * 1000)
    with redis_errors():
        for product_id in product_ids or sorted(products):
            forgotten = forget_players(store, products[product_id], user_ids, now_ms)
            for user_id, gone in zip(user_ids, forgotten, strict=True):
                if gone.boards or gone.keys or gone.archived:
                    click.echo(f"{user_id}: {product_id}: off {gone.boards} board(s), "
                               f"{gone.keys} key(s) deleted" + (
                                   f", out of {gone.archived} archived period(s)"
                                   if gone.archived else ""))
        if not keep_dead_letters:
            removed = delete_dead_letters(DeadLetters(client, keys),
                                          lambda letters: naming(letters, user_ids))
            click.echo(f"dead letters naming them: {removed} deleted")
    click.echo(f"forgot {len(user_ids)} player(s)")


@click.command("delete-records")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
@click.argument("user_ids", nargs=-1, required=True, metavar="USER_ID...")
@click.confirmation_option(prompt="Delete these players' records on this board for good?")
def delete_records_command(product_id: str, board_name: str, user_ids: Sequence[str]) -> None:
    """Take players off one points, best or latest board (a cheat's scores, as Nakama's
    record delete): off the all-time board and every kept period's, buckets included,
    with their records (submissions, metadata) and their rows of the archived periods,
    each player atomically, tie structures kept right. Their stats, other boards, joins
    and buckets stay, and a later submission counts again. Reads TRACKER_REDIS_URL and
    TRACKER_PRODUCTS_FILE; --yes skips the question."""
    settings = Settings.from_env()
    product, board = configured_board(configured_products(settings), product_id, board_name)
    if board.kind not in PERIODIC_KINDS:
        raise click.BadParameter(
            f"{board_name} is a {board.kind} board: each rating or streak came from games "
            "against others, so it is not deleted alone (forget-player forgets a player "
            "everywhere)", param_hint="BOARD")
    store = Store(data_client(settings.redis_url, socket_timeout=30), Keys(settings.key_prefix))
    now_ms = int(time.time() * 1000)
    with redis_errors():
        for user_id, gone in zip(user_ids, delete_records(store, product, board, user_ids,
                                                          now_ms), strict=True):
            click.echo(f"{user_id}: off {gone.boards} board(s)" + (
                f", out of {gone.archived} archived period(s)" if gone.archived else ""))
