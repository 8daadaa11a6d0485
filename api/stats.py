"""``/stats``: the Varcade-compatible player-stats route."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.errors import ApiError
from api.schemas import legacy_stats
from api.state import state
from tracker.events import MAX_ID_LEN

bp = Blueprint("stats", __name__, url_prefix="/stats")


@bp.get("/<product_id>/<user_id>")
def player_stats(product_id: str, user_id: str) -> ResponseReturnValue:
    """The player's counters as an object of STRING values, e.g. ``{"games": "3"}``.

    Only counters that exist are present; a player with no data (including the
    portal's anonymous ``None``) answers ``{}``. Unknown product: 404
    ``unknown_product``; a user id over 128 characters: 400 ``invalid_user_id``.
    """
    st = state()
    product = st.product(product_id)
    if len(user_id) > MAX_ID_LEN:
        raise ApiError(400, "invalid_user_id",
                       f"A user id has at most {MAX_ID_LEN} characters.", max_length=MAX_ID_LEN)
    counters = st.store.player_stats(product.id, user_id)
    body = legacy_stats.dump({"stats": {name: str(value) for name, value in counters.items()}})
    return jsonify(body["stats"])
