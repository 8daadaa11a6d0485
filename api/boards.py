"""``/products/<id>/boards/<board>``: a board, its pages, a player's rank, around a player.

Every answer is one atomic read (see :mod:`tracker.storage.ranks`), so ranks,
scores and the board size in it always belong together. ``?ties=`` overrides
the board's configured tie mode.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api import bodies
from api.cursors import Cursor
from api.errors import ApiError
from api.jsonbody import json_response
from api.openapi import Operation, operation
from api.params import parse_query
from api.schemas import (
    AroundQuerySchema,
    AroundSchema,
    BoardDetailSchema,
    PageQuerySchema,
    PageSchema,
    PlayersQuerySchema,
    PlayersSchema,
    StandingSchema,
    TiesQuerySchema,
)
from api.state import check_user_id, state
from tracker.handlers import Board
from tracker.products import Product
from tracker.ranking import Slice, TieMode

bp = Blueprint("boards", __name__, url_prefix="/products/<product_id>/boards/<board>")

_ties_query, _page_query, _around_query = TiesQuerySchema(), PageQuerySchema(), AroundQuerySchema()
_players_query = PlayersQuerySchema()
# Pages, ranks and windows are built by api.bodies (the hot routes); their schemas
# (PageSchema, StandingSchema, AroundSchema) document them in the OpenAPI document.
_detail, _players = BoardDetailSchema(), PlayersSchema()


def _target(product_id: str, board_name: str, owner: str | None = None) -> tuple[Product, Board]:
    st = state()
    product = st.product(product_id)
    board = st.board(product, board_name)
    st.auth.leaderboards(owner)
    return product, board


def _player_not_on_board(product: Product, board: Board, user_id: str) -> ApiError:
    return ApiError(404, "player_not_on_board",
                    f"Player {user_id!r} is not on board {board.name!r} of {product.id!r}.",
                    product_id=product.id, board=board.name, user_id=user_id)


@bp.get("")
@operation(Operation(tag="leaderboards", response=BoardDetailSchema))
def board_detail(product_id: str, board: str) -> ResponseReturnValue:
    """A board: its kind, default tie mode, size and number of distinct scores."""
    product, b = _target(product_id, board)
    size = state().ranks.size(product.id, b.name)
    return jsonify(_detail.dump({
        "product_id": product.id, "name": b.name, "kind": b.kind, "ties": b.ties,
        "start": b.start, "size": size.members, "distinct_scores": size.distinct_scores}))


@bp.get("/entries")
@operation(Operation(tag="leaderboards", response=PageSchema, query=PageQuerySchema))
def entries(product_id: str, board: str) -> ResponseReturnValue:
    """A page of the board, best first, with ranks.

    Page with `next_cursor` (keyset: a row whose score did not change is never
    skipped nor repeated while others change) or jump with `offset`.
    Rows with equal scores come by descending user id bytes.
    """
    product, b = _target(product_id, board)
    args = parse_query(_page_query)
    ties: TieMode = args.get("ties") or b.ties
    limit: int = args["limit"]
    ranks = state().ranks
    cursor: Cursor | None = args.get("cursor")
    if cursor is not None:
        if (cursor.product_id, cursor.board) != (product.id, b.name):
            raise ApiError(422, "invalid_query", "Invalid query parameters: cursor: this "
                           "cursor belongs to another board.",
                           errors={"cursor": ["This cursor belongs to another board."]})
        page: Slice = ranks.after(product.id, b.name, cursor.position, limit)
    else:
        page = ranks.page(product.id, b.name, args.get("offset", 0), limit)
    last = page.last
    more = last is not None and page.start + len(page.rows) < page.size
    next_cursor = Cursor(product.id, b.name, last).encode() if more and last else None
    return json_response(bodies.page(product.id, b.name, ties, page, next_cursor))


@bp.get("/players")
@operation(Operation(tag="leaderboards", response=PlayersSchema, query=PlayersQuerySchema))
def players_on_board(product_id: str, board: str) -> ResponseReturnValue:
    """Several players' scores, ranks and percentiles, read at one moment.

    Repeat `user_id` for each player (friends, a party, a clan). The players
    on the board come in board order, best first; the others are listed in
    `missing`.
    """
    product, b = _target(product_id, board)
    args = parse_query(_players_query)
    ties: TieMode = args.get("ties") or b.ties
    asked = list(dict.fromkeys(args["user_id"]))  # repeats count once, first place kept
    size, found = state().ranks.standings(product.id, b.name, asked)
    on_board = {p.user_id for p in found}
    return jsonify(_players.dump({
        "product_id": product.id, "board": b.name, "ties": ties, "size": size,
        "players": [{"rank": p.rank(ties), "user_id": p.user_id, "score": p.score,
                     "percentile": p.percentile} for p in found],
        "missing": [u for u in asked if u not in on_board]}))


@bp.get("/players/<user_id>")
@operation(Operation(tag="leaderboards", response=StandingSchema, query=TiesQuerySchema,
                     errors=(400,)))
def standing(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """A player's score, rank and percentile (404 `player_not_on_board` when absent).

    The percentile is the share of the board with a strictly lower score.
    """
    check_user_id(user_id)
    product, b = _target(product_id, board, owner=user_id)
    ties: TieMode = parse_query(_ties_query).get("ties") or b.ties
    found = state().ranks.standing(product.id, b.name, user_id)
    if found is None:
        raise _player_not_on_board(product, b, user_id)
    return json_response(bodies.standing(product.id, b.name, ties, found))


@bp.get("/players/<user_id>/around")
@operation(Operation(tag="leaderboards", response=AroundSchema, query=AroundQuerySchema,
                     errors=(400,)))
def around(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """A window of `limit` rows around a player, with ranks.

    The player is in the middle, unless near an end of the board, where the
    window shifts to stay full. 404 `player_not_on_board` when absent.
    """
    check_user_id(user_id)
    product, b = _target(product_id, board, owner=user_id)
    args = parse_query(_around_query)
    ties: TieMode = args.get("ties") or b.ties
    window = state().ranks.around(product.id, b.name, user_id, args["limit"])
    if window is None:
        raise _player_not_on_board(product, b, user_id)
    return json_response(bodies.around(product.id, b.name, ties, user_id, window))
