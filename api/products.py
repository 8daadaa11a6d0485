"""``/products``: the configured products, their boards and their handlers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.openapi import Operation, operation
from api.schemas import ProductListSchema, ProductSchema
from api.state import state
from tracker.handlers import Board, Handler
from tracker.periods import Period
from tracker.products import Product
from tracker.tiers import Tier

bp = Blueprint("products", __name__, url_prefix="/products")

_product, _list = ProductSchema(), ProductListSchema()


def handler_name(handler: Handler) -> str:
    """The name products.toml uses for it: built-in name, else ``module:Class``."""
    cls = type(handler)
    return cls.name or f"{cls.__module__}:{cls.__qualname__}"


def describe_period(p: Period) -> dict[str, Any]:
    """A period as PeriodRefSchema has it: its id and kind, its days, and its exact span."""
    return {"id": p.id, "kind": p.kind, "start": p.start, "end": p.end,
            "starts_at": p.starts_at, "ends_at": p.ends_at}


def describe_board(board: Board) -> dict[str, Any]:
    """``BoardSchema``'s fields of a board."""
    policy = board.periods
    return {"name": board.name, "kind": board.kind,
            "order": "asc" if board.ascending else "desc", "ties": board.ties,
            "tie_break": "earliest" if board.earliest else "member",
            "start": board.start,
            "periods": None if policy is None else {
                "kinds": list(policy.kinds), "keep": policy.keep,
                "grace_seconds": policy.grace_ms // 1000, "bucket_size": policy.bucket_size,
                "results_top": policy.results_top,
                "seasons": [describe_period(p) for p in policy.seasons],
                "manual_seasons": policy.manual,
                **({"time_zone": policy.clock.zone} if policy.clock.zone
                   else {"utc_offset": policy.clock.name})},
            "tiers": [describe_tier(t) for t in board.tiers], "history": board.history,
            "records": board.records, "attempts": board.attempts,
            "subscore": board.subscore or None, "max_players": board.max_players,
            "join_required": board.join_required,
            "rate_limit": ({"submissions": board.rate_limit.submissions,
                            "seconds": board.rate_limit.seconds} if board.rate_limit else None)}


def describe_tier(tier: Tier) -> dict[str, Any]:
    """``TierSchema``'s fields of a tier: its name and its one cutoff, if any."""
    cutoff = tier.cutoff
    return {"name": tier.name, **({} if cutoff is None else {cutoff[0]: cutoff[1]})}


def describe(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "boards": [describe_board(b) for b in product.boards],
        "handlers": [{"name": handler_name(h), "boards": [b.name for b in h.boards]}
                     for h in product.handlers],
    }


# Redis is read only for the seasons of boards that set them at run time
@bp.get("")
@operation(Operation(tag="products", response=ProductListSchema))
def list_products() -> ResponseReturnValue:
    """Every configured product with its boards and handlers, by product id."""
    st = state()
    st.auth.leaderboards()
    return jsonify(_list.dump({"products": [describe(st.product(p))
                                            for p in sorted(st.products)]}))


@bp.get("/<product_id>")
@operation(Operation(tag="products", response=ProductSchema))
def get_product(product_id: str) -> ResponseReturnValue:
    """One product with its boards (name, kind, default tie mode) and handlers."""
    st = state()
    product = st.product(product_id)
    st.auth.leaderboards()
    return jsonify(_product.dump(describe(product)))
