"""``/stats``: the Varcade-compatible player-stats route."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.openapi import Auth, Operation, operation
from api.schemas import legacy_stats
from api.state import check_user_id, state

bp = Blueprint("stats", __name__, url_prefix="/stats")

LEGACY_STATS_BODY = {"type": "object", "additionalProperties": {"type": "string"},
                     "example": {"games": "3", "wins": "2", "losses": "1"}}


@bp.get("/<product_id>/<user_id>")
@operation(Operation(tag="varcade", response=None, plain=LEGACY_STATS_BODY,
                     auth=Auth.LEGACY_STATS, errors=(400,)))
def player_stats(product_id: str, user_id: str) -> ResponseReturnValue:
    """The player's counters as an object of STRING values, e.g. `{"games": "3"}`.

    Only counters that exist are present; a player with no data (including the
    portal's anonymous `None`) answers `{}`. Unknown product: 404
    `unknown_product`; a user id over 128 characters: 400 `invalid_user_id`.
    Public while no JWT key is configured (the Varcade portal sends no token),
    see TRACKER_LEGACY_STATS_PUBLIC.
    """
    st = state()
    product = st.product(product_id)
    check_user_id(user_id)
    st.auth.legacy_stats(user_id)
    counters = st.store.player_stats(product.id, user_id)
    body = legacy_stats.dump({"stats": {name: str(value) for name, value in counters.items()}})
    return jsonify(body["stats"])
