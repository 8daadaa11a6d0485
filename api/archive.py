"""``/products/<id>/boards/<board>/archive…``: the final standings of the board's
closed periods.

When a period of a board is over, closing it (:mod:`tracker.closing`) keeps its
``results_top`` best, with their ranks, in the board's archive. These routes read it
for as long as it is kept, after the period's own board has expired.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.boards import target
from api.errors import ApiError
from api.openapi import Operation, operation
from api.params import parse_query
from api.products import describe_period
from api.schemas import ArchivedStandingsSchema, ArchiveListSchema, ArchiveQuerySchema
from api.state import state
from tracker.closing import ArchivedPeriod
from tracker.handlers import Board
from tracker.periods import PeriodPolicy
from tracker.products import Product

bp = Blueprint("archive", __name__, url_prefix="/products/<product_id>/boards/<board>")
_query, _list, _standings = ArchiveQuerySchema(), ArchiveListSchema(), ArchivedStandingsSchema()


def _archived_board(product: Product, b: Board) -> PeriodPolicy:
    """The board's periods; 404 ``no_archive`` unless closing them archives them."""
    policy = b.periods
    if policy is None or not policy.results_top:
        why = "it has no periods" if policy is None else "its results_top is 0"
        raise ApiError(404, "no_archive", f"Board {b.name!r} of {product.id!r} keeps no "
                                          f"archive: {why}.",
                       product_id=product.id, board=b.name)
    return policy


def _summary(found: ArchivedPeriod) -> dict[str, object]:
    p = found.period
    return {**describe_period(p), "size": found.size,
            "closed_at": datetime.fromtimestamp(found.closed_at_ms / 1000, UTC)}


@bp.get("/archive")
@operation(Operation(tag="leaderboards", response=ArchiveListSchema, query=ArchiveQuerySchema,
                     errors=(404,)))
def archive(product_id: str, board: str) -> ResponseReturnValue:
    """The board's closed periods whose final standings are archived, the latest first.

    Each period's standings are at `…/archive/<period>`. 404 `no_archive` for a board
    whose periods are not archived (no periods, or `results_top = 0`), `unknown_period`
    for a `before` that is no real period.
    """
    product, b = target(product_id, board)
    policy = _archived_board(product, b)
    args = parse_query(_query)
    results = state().period_results
    periods = results.archived_periods(product.id, b)
    if args.get("before") is not None:
        try:
            cursor = policy.parse(args["before"])
        except ValueError as exc:  # well-formed, but no real period: as for ?period=
            raise ApiError(404, "unknown_period", f"?before= names no period: {exc}.",
                           product_id=product.id, board=b.name,
                           period=args["before"]) from None
        periods = [p for p in periods if (p.end_ms, -p.start_ms) < (cursor.end_ms,
                                                                     -cursor.start_ms)]
    page = periods[:args["limit"]]
    found = [f for f in results.archived(product.id, b.name, page) if f is not None]
    more = len(periods) > len(page)
    return jsonify(_list.dump({"product_id": product.id, "board": b.name,
                               "periods": [_summary(f) for f in found],
                               "next": page[-1].id if more else None}))


@bp.get("/archive/<period>")
@operation(Operation(tag="leaderboards", response=ArchivedStandingsSchema, errors=(404,)))
def archived_period(product_id: str, board: str, period: str) -> ResponseReturnValue:
    """A closed period's final standings: its `results_top` best with their ranks
    (competition mode), and how many played.

    404 `unknown_period` for no such period, `not_archived` for a period not closed
    yet or one nobody played in.
    """
    product, b = target(product_id, board)
    policy = _archived_board(product, b)
    try:
        wanted = policy.parse(period)
    except ValueError as exc:
        raise ApiError(404, "unknown_period", f"There is no such period: {exc}.",
                       product_id=product.id, board=b.name, period=period) from None
    (found,) = state().period_results.archived(product.id, b.name, [wanted])
    if found is None:
        open_yet = not policy.is_final(wanted, int(time.time() * 1000))
        raise ApiError(404, "not_archived",
                       f"Period {wanted.id!r} of board {b.name!r} of {product.id!r} is "
                       + ("not over yet (or still in its grace): it is archived once it "
                          "closes." if open_yet else "not in the archive: nobody played in "
                          "it, or it is not a kind of period the board is kept for."),
                       product_id=product.id, board=b.name, period=wanted.id)
    return jsonify(_standings.dump({**_summary(found), "product_id": product.id,
                                    "board": b.name, "entries": found.top}))
