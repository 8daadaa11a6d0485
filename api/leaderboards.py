"""``/leaderboards``: the Varcade-compatible top-ten route."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from api import bodies
from api.errors import ApiError
from api.jsonbody import json_response
from api.openapi import Auth, Operation, operation
from api.params import parse_query
from api.schemas import LegacyTopTenQuerySchema, TopEntrySchema
from api.state import ApiState, state
from tracker.handlers import Board
from tracker.products import Product

bp = Blueprint("leaderboards", __name__, url_prefix="/leaderboards")

TOP_TEN = 10
DEFAULT_BOARD = "wins"
_query = LegacyTopTenQuerySchema()


def pick_board(st: ApiState, product: Product, name: str | None) -> Board:
    """The board ``name`` of the product; by default ``wins``, else its first board."""
    if name is None:
        board = st.find_board(product.id, DEFAULT_BOARD) or next(iter(product.boards), None)
        if board is None:
            raise ApiError(404, "no_leaderboard",
                           f"Product {product.id!r} has no leaderboard.", product_id=product.id)
        return board
    return st.board(product, name)


@bp.get("/top_ten/<product_id>")
@operation(Operation(tag="varcade", response=TopEntrySchema(many=True),
                     query=LegacyTopTenQuerySchema, auth=Auth.LEADERBOARDS))
def top_ten(product_id: str) -> ResponseReturnValue:
    """At most 10 `{"user_id", "score"}` rows of a board, best first.

    `?board=<name>` selects another board of the product. A configured
    product with no data answers `[]`; an unknown one 404 `unknown_product`.

    Tie order: the board's `tie_break`, the same order as ordinal ranks on the
    other routes. With `earliest`, the player who reached a score first comes
    first; with `member`, Redis `ZREVRANGE` order, i.e. DESCENDING user id bytes
    (`"b"` before `"a"`).
    """
    st = state()
    product = st.product(product_id)
    st.auth.leaderboards()
    board = pick_board(st, product, parse_query(_query).get("board"))
    # built by api.bodies, documented by TopEntrySchema
    return json_response(bodies.top_entries(st.store.top(product.id, board.name, TOP_TEN,
                                                         ascending=board.ascending,
                                                         earliest=board.earliest),
                                            bodies.splitter(board)))
