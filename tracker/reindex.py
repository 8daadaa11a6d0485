"""Rebuild the tie structures (distinct scores, score counts) of every configured board.

The batch script keeps them up to date with every write; this is only needed
once for boards written by a version that did not keep them::

    python -m tracker.reindex            # uses the TRACKER_* environment

Each board is rebuilt by one atomic script (about a second per million members).
"""

from __future__ import annotations

import sys

from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import Keys, Ranks
from tracker.storage.connect import data_client


def reindex_all(settings: Settings) -> list[tuple[str, str, int, int]]:
    """(product, board, members, distinct scores) of every board rebuilt."""
    products = load_products(settings.products_path)
    ranks = Ranks(data_client(settings.redis_url), Keys(settings.key_prefix))
    done = []
    for product in products.values():
        for board in product.boards:
            size = ranks.reindex(product.id, board.name)
            done.append((product.id, board.name, size.members, size.distinct_scores))
    return done


def main() -> int:
    for product, board, members, distinct in reindex_all(Settings.from_env()):
        print(f"{product}/{board}: {members} members, {distinct} distinct scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
