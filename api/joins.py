"""``/products/<id>/boards/<board>/joined``: the players who joined a tournament's board
(``join_required``, :mod:`tracker.handlers.scores`), its lobby."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.boards import board_to_read, target
from api.errors import ApiError
from api.openapi import Operation, operation
from api.params import parse_query
from api.schemas import JoinedListSchema, JoinedQuerySchema
from api.state import state

bp = Blueprint("joins", __name__, url_prefix="/products/<product_id>/boards/<board>")
_joined_query, _joined = JoinedQuerySchema(), JoinedListSchema()


@bp.get("/joined")
@operation(Operation(tag="leaderboards", response=JoinedListSchema, query=JoinedQuerySchema))
def joined(product_id: str, board: str) -> ResponseReturnValue:
    """The players who joined a tournament's board (`join_required`), the first to join
    first, whether or not they have scored yet: a tournament's lobby.

    `?period=` reads those of one period's board (players join each period's).
    404 `no_joins` for a board that takes no joins.
    """
    product, b = target(product_id, board)
    if not b.join_required:
        raise ApiError(404, "no_joins", f"Board {b.name!r} of {product.id!r} takes no joins: "
                       f"every player's scores count.", product_id=product.id, board=b.name)
    args = parse_query(_joined_query)
    name, period = board_to_read(product, b, args)
    size, found = state().store.joined_players(product.id, name, args["offset"],
                                               args["limit"])
    return jsonify(_joined.dump({
        "product_id": product.id, "board": b.name, "size": size,
        **({"period": period} if period else {}), "offset": args["offset"],
        "players": [{"user_id": user, "joined_at": at} for user, at in found]}))
