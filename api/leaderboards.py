"""``/leaderboards``: the Varcade-compatible top-ten route."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from api.errors import ApiError
from api.schemas import top_entries
from api.state import state
from tracker.handlers import Board
from tracker.products import Product

bp = Blueprint("leaderboards", __name__, url_prefix="/leaderboards")

TOP_TEN = 10
DEFAULT_BOARD = "wins"


def pick_board(product: Product, name: str | None) -> Board:
    """The board ``name`` of the product; by default ``wins``, else its first board."""
    if name is None:
        board = product.board(DEFAULT_BOARD) or next(iter(product.boards), None)
        if board is None:
            raise ApiError(404, "no_leaderboard",
                           f"Product {product.id!r} has no leaderboard.", product_id=product.id)
        return board
    board = product.board(name)
    if board is None:
        raise ApiError(
            404, "unknown_board", f"Product {product.id!r} has no board {name!r}.",
            product_id=product.id, board=name, boards=[b.name for b in product.boards],
        )
    return board


@bp.get("/top_ten/<product_id>")
def top_ten(product_id: str) -> ResponseReturnValue:
    """At most 10 ``{"user_id", "score"}`` rows of a board, best (highest score) first.

    ``?board=<name>`` selects another board of the product. A configured
    product with no data answers ``[]``; an unknown one 404 ``unknown_product``.

    Tie order: players with equal scores come in Redis ``ZREVRANGE`` order,
    i.e. by DESCENDING member bytes (``"b"`` before ``"a"``). Deterministic,
    but not a product rule; a later issue replaces it with a real tie-break.
    """
    st = state()
    product = st.product(product_id)
    board = pick_board(product, request.args.get("board"))
    rows: list[dict[str, Any]] = [
        {"user_id": user_id, "score": score}
        for user_id, score in st.store.top(product.id, board.name, TOP_TEN)
    ]
    return jsonify(top_entries.dump(rows))
