"""``/products/<id>/boards/<board>/buckets…``: the buckets (cohorts) of a board's periods.

A board kept per period with ``bucket_size = n`` puts each player, at its first
write of a period, in the bucket being filled; each bucket of n players is
ranked on its own (:mod:`tracker.periods`). These routes read one period,
``?period=`` or by default the current one of the board's first kind.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api import bodies
from api.boards import board_to_read, page_body, player_not_on_board, records_of, target
from api.errors import ApiError
from api.jsonbody import json_response
from api.openapi import Operation, operation
from api.params import parse_query
from api.schemas import (
    BucketListSchema,
    BucketPageSchema,
    PageQuerySchema,
    PeriodQuerySchema,
    PlayerBucketSchema,
    TiesQuerySchema,
)
from api.state import check_user_id, state
from tracker.handlers import Board
from tracker.periods import bucket_board
from tracker.products import Product
from tracker.ranking import TieMode

bp = Blueprint("buckets", __name__, url_prefix="/products/<product_id>/boards/<board>")
_period_query, _page_query, _ties_query = PeriodQuerySchema(), PageQuerySchema(), \
    TiesQuerySchema()
_list = BucketListSchema()


def _period_to_read(product: Product, b: Board, args: dict[str, Any]) -> tuple[str, str, int]:
    """The period board to read (``?period=``, else the current period of the board's
    first kind), its period's id and the bucket size; 404 ``no_buckets`` when the board
    is not split into buckets."""
    policy = b.periods
    if policy is None or not policy.bucket_size:
        raise ApiError(404, "no_buckets",
                       f"Board {b.name!r} of {product.id!r} is not split into buckets (set "
                       "bucket_size beside periods on its handler).",
                       product_id=product.id, board=b.name)
    if args.get("period") is None:
        current = policy.period_at(policy.kinds[0], int(time.time() * 1000))
        if current is None:
            raise ApiError(404, "unknown_period",
                           f"No season of board {b.name!r} of {product.id!r} is on now: "
                           "ask for one with ?period=.", product_id=product.id, board=b.name)
        args = {**args, "period": current.id}
    name, period_id = board_to_read(product, b, args)
    return name, period_id or args["period"], policy.bucket_size


@bp.get("/buckets")
@operation(Operation(tag="leaderboards", response=BucketListSchema, query=PeriodQuerySchema,
                     errors=(404,)))
def buckets(product_id: str, board: str) -> ResponseReturnValue:
    """How a period's board is split into buckets: their size, how many players have one
    and how many buckets are begun.

    404 `no_buckets` for a board without buckets.
    """
    product, b = target(product_id, board)
    name, period, size = _period_to_read(product, b, parse_query(_period_query))
    players = state().store.buckets_filled(product.id, name)
    return jsonify(_list.dump({"product_id": product.id, "board": b.name, "period": period,
                               "bucket_size": size, "players": players,
                               "buckets": math.ceil(players / size)}))


@bp.get("/buckets/<int:bucket>/entries")
@operation(Operation(tag="leaderboards", response=BucketPageSchema, query=PageQuerySchema,
                     errors=(404,)))
def bucket_entries(product_id: str, board: str, bucket: int) -> ResponseReturnValue:
    """A page of one bucket, best first, ranked among the bucket's players.

    Pages as `…/entries` does. 404 `unknown_bucket` for a bucket not begun.
    """
    product, b = target(product_id, board)
    args = parse_query(_page_query)
    name, period, size = _period_to_read(product, b, args)
    if bucket >= math.ceil(state().store.buckets_filled(product.id, name) / size):
        raise ApiError(404, "unknown_bucket",
                       f"Bucket {bucket} of board {b.name!r} of {product.id!r} is not begun "
                       f"in {period}.", product_id=product.id, board=b.name, period=period,
                       bucket=bucket)
    body = page_body(product, b, bucket_board(name, bucket), period, args, (), records=name)
    body["bucket"] = bucket
    return json_response(body)


@bp.get("/players/<user_id>/bucket")
@operation(Operation(tag="leaderboards", response=PlayerBucketSchema, query=TiesQuerySchema,
                     errors=(400, 404)))
def player_bucket(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """The player's bucket of a period, and its score, rank and percentile among the
    bucket's players (`size`: the bucket's).

    The bucket's rows are at `…/buckets/<bucket>/entries`. 404 `player_not_on_board`
    when the player has not played in the period.
    """
    check_user_id(user_id)
    product, b = target(product_id, board, owner=user_id)
    args = parse_query(_ties_query)
    ties: TieMode = args.get("ties") or b.ties
    name, period, _ = _period_to_read(product, b, args)
    bucket = state().store.bucket_of(product.id, name, user_id)
    # the bucket never changes in the period; the standing is one atomic read of it
    found = None if bucket is None else state().ranks.standing(
        product.id, bucket_board(name, bucket), user_id, ascending=b.ascending,
        earliest=b.earliest, records=records_of(b, name))
    if bucket is None or found is None:  # None: forgotten meanwhile
        raise player_not_on_board(product, b, user_id)
    body = bodies.standing(product.id, b.name, period, ties, found,
                           split=bodies.splitter(b))
    body["bucket"] = bucket
    return json_response(body)
