"""Typed player statistics: one product, or every product in one call.

Counters are JSON integers here (the Varcade route keeps strings). Reading
them needs a token with ``stats:read``, or one whose ``sub`` is the player.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.openapi import Auth, Operation, operation
from api.schemas import PlayerAllStatsSchema, PlayerStatsSchema
from api.state import check_user_id, state

bp = Blueprint("players", __name__)

_one, _all = PlayerStatsSchema(), PlayerAllStatsSchema()


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
