"""Board maintenance: rebuild the tie structures (distinct scores, score counts) of
every configured board, and convert a board between the two ways of ordering equal
scores (``tracker convert-ties``).

The batch script keeps the tie structures up to date with every write; a rebuild is
only needed once for boards written by a version that did not keep them::

    python -m tracker.reindex            # uses the TRACKER_* environment

Each board is rebuilt by one atomic script (about a second per million members).
"""

from __future__ import annotations

import sys

import click

from tracker.commands import configured_product, configured_products, redis_errors
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Ranks
from tracker.storage.connect import data_client
from tracker.text import as_text
from tracker.tiebreak import TIE_BREAKS, TIMED_KINDS


def reindex_all(settings: Settings) -> list[tuple[str, str, int, int]]:
    """(product, board, members, distinct scores) of every board rebuilt."""
    products = load_products(settings.products_path)
    ranks = Ranks(data_client(settings.redis_url), Keys(settings.key_prefix))
    done = []
    for product in products.values():
        for board in product.boards:
            size = ranks.reindex(product.id, board.name, earliest=board.earliest)
            done.append((product.id, board.name, size.members, size.distinct_scores))
    return done


@click.command("convert-ties")
@click.argument("product_id", metavar="PRODUCT")
@click.argument("board_name", metavar="BOARD")
@click.option("--to", "mode", type=click.Choice(TIE_BREAKS), required=True,
              help="earliest: equal scores by who reached them first; member: by user id.")
def convert_ties_command(product_id: str, board_name: str, mode: str) -> None:
    """Convert a board, with its period and bucket boards, to another tie_break.

    Run it with the product's workers stopped, between the old setting and the new
    one: each board is converted by one atomic script, and nothing is written to a
    board whose members do not fit (say, one converted already). Scores keep their
    values; converted to earliest, the players already there count as having reached
    their scores at the earliest time. Reads TRACKER_REDIS_URL and
    TRACKER_PRODUCTS_FILE."""
    settings = Settings.from_env()
    product = configured_product(configured_products(settings), product_id)
    board = product.board(board_name)
    if board is not None and board.subscore:  # its numbers hold a subscore, not a time
        raise click.BadParameter(f"{product_id}/{board_name} ranks equal scores by its "
                                 f"subscore: it has no tie_break to convert",
                                 param_hint="BOARD")
    if board is None or (mode == "earliest" and board.kind not in TIMED_KINDS):
        timed = [b.name for b in product.boards if b.kind in TIMED_KINDS]
        raise click.BadParameter(f"{product_id} has no {board_name!r} board that can break "
                                 f"ties by time (those that can: {timed})",
                                 param_hint="BOARD")
    keys = Keys(settings.key_prefix)
    client = data_client(settings.redis_url, socket_timeout=60)
    ranks = Ranks(client, keys)
    with redis_errors():
        # the board, and its period and bucket boards (not their tie structures)
        prefix = keys.board(product_id, "")
        scanned = (as_text(k) for k in client.scan_iter(
            match=keys.board(product_id, board_name) + ":*", _type="zset"))
        found = [keys.board(product_id, board_name),
                 *sorted(k for k in scanned if not k.endswith(":scores"))]
        members = 0
        with click.progressbar(found, label="boards", file=sys.stderr) as boards:
            for key in boards:
                members += ranks.convert_ties(product_id, key[len(prefix):],
                                              earliest=mode == "earliest")
    click.echo(f"{product_id}/{board_name}: {len(found)} board(s), {members} member(s) "
               f"converted to tie_break = {mode!r}; now set it in the product configuration")


def main() -> int:
    for product, board, members, distinct in reindex_all(Settings.from_env()):
        print(f"{product}/{board}: {members} members, {distinct} distinct scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
