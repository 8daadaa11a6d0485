"""A player across products: its typed statistics (one product, or every product in
one call), its standings on every board, and on each readable period of one board.

Counters are JSON integers here (the Varcade route keeps strings). Reading
them needs a token with ``stats:read``, or one whose ``sub`` is the player;
standings are leaderboard reads (public by default).
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api import bodies
from api.boards import is_final, readable_periods, records_of, target
from api.openapi import Auth, Operation, operation
from api.params import parse_query
from api.products import describe_period
from api.schemas import (
    PlayerAllStatsSchema,
    PlayerBoardsQuerySchema,
    PlayerBoardsSchema,
    PlayerPeriodsSchema,
    PlayerStatsSchema,
    TiesQuerySchema,
)
from api.state import check_user_id, state
from tracker.periods import period_board
from tracker.ranking import TieMode
from tracker.storage import BoardRead

bp = Blueprint("players", __name__)

_one, _all = PlayerStatsSchema(), PlayerAllStatsSchema()
_boards_query, _boards = PlayerBoardsQuerySchema(), PlayerBoardsSchema()
_ties_query, _periods = TiesQuerySchema(), PlayerPeriodsSchema()


@bp.get("/products/<product_id>/players/<user_id>/stats")
@operation(Operation(tag="players", response=PlayerStatsSchema, auth=Auth.STATS,
                     errors=(400,)))
def product_stats(product_id: str, user_id: str) -> ResponseReturnValue:
    """A player's counters in one product (`{}` when the player has none)."""
    st = state()
    product = st.product(product_id)
    check_user_id(user_id)
    st.auth.stats(user_id)
    counters = st.store.player_stats(product.id, user_id)
    return jsonify(_one.dump({"product_id": product.id, "user_id": user_id, "stats": counters}))


@bp.get("/players/<user_id>/stats")
@operation(Operation(tag="players", response=PlayerAllStatsSchema, auth=Auth.STATS,
                     errors=(400,)))
def all_stats(user_id: str) -> ResponseReturnValue:
    """A player's counters in every configured product, in one call.

    Products where the player has no counters are left out.
    """
    st = state()
    check_user_id(user_id)
    st.auth.stats(user_id)
    by_product = st.store.stats_by_product(sorted(st.products), user_id)
    return jsonify(_all.dump({"user_id": user_id, "products": by_product}))


@bp.get("/players/<user_id>/boards")
@operation(Operation(tag="leaderboards", response=PlayerBoardsSchema,
                     query=PlayerBoardsQuerySchema, errors=(400, 404)))
def boards_of_player(user_id: str) -> ResponseReturnValue:
    """A player's score, rank and percentile on every board it is on, in one call: a
    profile page's "my ranks" (all-time boards; a board's periods are read one by one).

    Each board is read atomically, all in one round trip to Redis. `?product_id=` (repeat
    it) keeps some products only, in the order asked; 404 `unknown_product` names one that
    is not configured.
    """
    st = state()
    check_user_id(user_id)
    st.auth.leaderboards(user_id)
    args = parse_query(_boards_query)
    products = ([st.product(p) for p in dict.fromkeys(args["product_id"])]
                if "product_id" in args else list(st.products.values()))
    boards = [(product, b) for product in products for b in product.boards]
    found = st.ranks.standings_of(user_id, [
        BoardRead(product.id, b.name, b.ascending, b.earliest, records_of(b, b.name))
        for product, b in boards])
    rows = []
    for (product, b), standing in zip(boards, found, strict=True):
        if standing is None:
            continue
        ties: TieMode = args.get("ties") or b.ties
        rows.append({"product_id": product.id, "board": b.name, "kind": b.kind, "ties": ties,
                     **bodies.standing_row(b, standing, ties)})
    return jsonify(_boards.dump({"user_id": user_id, "boards": rows}))


@bp.get("/products/<product_id>/boards/<board>/players/<user_id>/periods")
@operation(Operation(tag="leaderboards", response=PlayerPeriodsSchema, query=TiesQuerySchema,
                     errors=(400,)))
def periods_of_player(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """A player's score, rank and percentile in each period of the board that can still be
    read, in one call: this week's and the kept weeks' before it (a profile's "my weeks").

    Only the periods the player is on are listed; none on a board kept all-time only.
    Each period's board is read atomically, all in one round trip to Redis.
    """
    check_user_id(user_id)
    product, b = target(product_id, board, owner=user_id)
    ties: TieMode = parse_query(_ties_query).get("ties") or b.ties
    now = int(time.time() * 1000)
    found = readable_periods(b, now)
    names = [period_board(b.name, p) for p in found]
    standings = state().ranks.standings_of(user_id, [
        BoardRead(product.id, name, b.ascending, b.earliest, records_of(b, name))
        for name in names])
    rows = [{**describe_period(p), "final": is_final(b, p, now),
             **bodies.standing_row(b, s, ties)}
            for p, s in zip(found, standings, strict=True) if s is not None]
    return jsonify(_periods.dump({"product_id": product.id, "board": b.name,
                                  "user_id": user_id, "ties": ties, "periods": rows}))
