"""``/products/<id>/boards/<board>``: a board, its pages, a player's rank, around a player.

Every answer is one atomic read (see :mod:`tracker.storage.ranks`), so ranks,
scores and the board size in it always belong together. ``?ties=`` overrides
the board's configured tie mode; ``?period=`` reads the board of one hour, day,
week or month (:mod:`tracker.periods`) instead of the all-time board.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api import bodies
from api.cursors import Cursor
from api.errors import ApiError
from api.jsonbody import json_response
from api.openapi import Operation, operation
from api.params import parse_query
from api.products import describe_board, describe_period, describe_tier
from api.schemas import (
    AroundQuerySchema,
    AroundSchema,
    BoardDetailSchema,
    CutoffListSchema,
    CutoffQuerySchema,
    HistoryQuerySchema,
    HistorySchema,
    PageQuerySchema,
    PageSchema,
    PeriodListSchema,
    PeriodQuerySchema,
    PlayersQuerySchema,
    PlayersSchema,
    StandingSchema,
    TierListSchema,
    TiesQuerySchema,
)
from api.state import check_user_id, state
from tracker.handlers import Board, RateLimit
from tracker.periods import NotKept, Period, kept_period, period_board
from tracker.products import Product
from tracker.ranking import Slice, TieMode
from tracker.tiers import Tier

bp = Blueprint("boards", __name__, url_prefix="/products/<product_id>/boards/<board>")
# Board kinds whose players' standings show the rating behind the score, under this key
RATING_DETAIL = {"skill": "skill", "glicko": "glicko", "streak": "streak"}

_ties_query, _page_query, _around_query = TiesQuerySchema(), PageQuerySchema(), AroundQuerySchema()
_players_query, _period_query = PlayersQuerySchema(), PeriodQuerySchema()
_history_query, _history = HistoryQuerySchema(), HistorySchema()
# Pages, ranks and windows are built by api.bodies (the hot routes); their schemas
# (PageSchema, StandingSchema, AroundSchema) document them in the OpenAPI document.
_detail, _players, _periods = BoardDetailSchema(), PlayersSchema(), PeriodListSchema()
_tiers = TierListSchema()
_cutoffs_query, _cutoffs = CutoffQuerySchema(), CutoffListSchema()


def target(product_id: str, board_name: str, owner: str | None = None) -> tuple[Product, Board]:
    st = state()
    product = st.product(product_id)
    board = st.board(product, board_name)
    st.auth.leaderboards(owner)
    return product, board


def board_to_read(product: Product, board: Board,
                  args: dict[str, Any]) -> tuple[str, str | None]:
    """The board to read, all-time or of the query's ``period``, and that period's id.

    404 ``unknown_period`` when the board is not kept per that kind of period, or
    that period is not readable (too old: expired; not begun; not a real date)."""
    text: str | None = args.get("period")
    if text is None:
        return board.name, None
    try:
        period = kept_period(board.periods, text)
    except NotKept as exc:
        raise ApiError(404, "unknown_period", f"Board {board.name!r} of {product.id!r} is "
                       f"{exc}.", product_id=product.id, board=board.name,
                       period=exc.period.id) from None
    except ValueError as exc:
        raise ApiError(404, "unknown_period", f"There is no such period: {exc}.",
                       product_id=product.id, board=board.name, period=text) from None
    policy = board.periods
    assert policy is not None  # kept_period says so
    readable = policy.readable(period.kind, int(time.time() * 1000))
    if period not in readable:
        raise ApiError(404, "unknown_period",
                       f"Period {period.id!r} of board {board.name!r} is not readable: "
                       + (f"{readable[-1].id} to {readable[0].id} are." if readable
                          else "none of its seasons has begun."),
                       product_id=product.id, board=board.name, period=period.id,
                       periods=[p.id for p in readable])
    return period_board(board.name, period), period.id


def player_not_on_board(product: Product, board: Board, user_id: str,
                        name: str | None = None) -> ApiError:
    """404 ``player_not_on_board``; on a tournament's board that takes only the scores of
    players who joined it, ``joined`` says whether the player joined (``name``, the board
    read: all-time or a period's)."""
    error = ApiError(404, "player_not_on_board",
                     f"Player {user_id!r} is not on board {board.name!r} of {product.id!r}.",
                     product_id=product.id, board=board.name, user_id=user_id)
    if board.join_required and name is not None:
        error.fields["joined"] = bool(state().store.joined(product.id, name, user_id))
    return error


@bp.get("")
@operation(Operation(tag="leaderboards", response=BoardDetailSchema, query=PeriodQuerySchema))
def board_detail(product_id: str, board: str) -> ResponseReturnValue:
    """A board: its kind, default tie mode, periods, size and number of distinct scores
    (and the players who joined it, on a board with `join_required`)."""
    product, b = target(product_id, board)
    name, period = board_to_read(product, b, parse_query(_period_query))
    size = state().ranks.size(product.id, name)
    joined = {"joined": state().store.joined(product.id, name)} if b.join_required else {}
    return jsonify(_detail.dump({
        **describe_board(b), "product_id": product.id, "size": size.members,
        "distinct_scores": size.distinct_scores, **joined,
        **({"period": period} if period else {})}))


@bp.get("/periods")
@operation(Operation(tag="leaderboards", response=PeriodListSchema))
def periods(product_id: str, board: str) -> ResponseReturnValue:
    """The periods of the board that can be read, with their sizes.

    For each kind of period the board is kept for: the current period, then
    the `keep` before it, newest first. Empty for a board kept all-time only.
    """
    product, b = target(product_id, board)
    now = int(time.time() * 1000)
    found = readable_periods(b, now)
    sizes = state().store.board_sizes(product.id, [period_board(b.name, p) for p in found])
    return jsonify(_periods.dump({"product_id": product.id, "board": b.name, "periods": [
        {**describe_period(p), "size": size, "final": is_final(b, p, now)}
        for p, size in zip(found, sizes, strict=True)]}))


def readable_periods(b: Board, now_ms: int) -> list[Period]:
    """The board's periods that can be read, per kind: the current one, then the kept ones."""
    return b.periods.all_readable(now_ms) if b.periods else []


def is_final(b: Board, period: Period, now_ms: int) -> bool:
    return b.periods is not None and b.periods.is_final(period, now_ms)


@bp.get("/tiers")
@operation(Operation(tag="leaderboards", response=TierListSchema, query=PeriodQuerySchema))
def tiers(product_id: str, board: str) -> ResponseReturnValue:
    """The board's tiers now: the score each takes and how many players are in it.

    A player is in the first tier it qualifies for. `threshold` is the lowest
    score that reaches a tier or a better one at this moment (rank and percent
    cutoffs move with the board).
    """
    product, b = target(product_id, board)
    name, period = board_to_read(product, b, parse_query(_period_query))
    size, found = state().ranks.tiers(product.id, name, b.tiers, ascending=b.ascending,
                                      earliest=b.earliest) if b.tiers else (
        state().ranks.size(product.id, name).members, [])
    split = bodies.splitter(b)
    return jsonify(_tiers.dump({
        "product_id": product.id, "board": b.name, "size": size,
        **({"period": period} if period else {}),
        "tiers": [{**tier, "members": members,
                   **(threshold(low, split) if low is not None else {})}
                  for tier, (low, members) in zip(map(describe_tier, b.tiers), found,
                                                  strict=True)]}))


def threshold(low: float, split: bodies.Split | None) -> bodies.Body:
    """A tier's ``threshold``: the lowest score that reaches it, and on a board with a
    subscore, the lowest subscore with that score (``threshold_subscore``)."""
    if split is None:
        return {"threshold": low}
    score, sub = split(low)
    return {"threshold": score, "threshold_subscore": sub}


@bp.get("/cutoffs")
@operation(Operation(tag="leaderboards", response=CutoffListSchema, query=CutoffQuerySchema))
def cutoffs(product_id: str, board: str) -> ResponseReturnValue:
    """The score it takes now to be within the best `top` % of the board (top 1 %, 10 %…).

    The same cutoff as a percent tier's, for any shares, in one atomic read: for a
    dashboard, or to tell a player how far the next band is.
    """
    product, b = target(product_id, board)
    args = parse_query(_cutoffs_query)
    name, period = board_to_read(product, b, args)
    size, found = state().ranks.cutoffs(product.id, name, args["top"], ascending=b.ascending,
                                        earliest=b.earliest)
    split = bodies.splitter(b)
    return jsonify(_cutoffs.dump({
        "product_id": product.id, "board": b.name, "size": size,
        **({"period": period} if period else {}),
        "cutoffs": [{"top": top, **bodies.score_fields(score, split), "players": players}
                    # none if the board is empty
                    for top, (score, players) in zip(args["top"], found, strict=False)]}))


@bp.get("/entries")
@operation(Operation(tag="leaderboards", response=PageSchema, query=PageQuerySchema))
def entries(product_id: str, board: str) -> ResponseReturnValue:
    """A page of the board, best first, with ranks.

    Page with `next_cursor` and back with `prev_cursor` (keyset: a row whose score
    did not change is never skipped nor repeated while others change), or jump with
    `offset`.
    Rows with equal scores come earliest achievement first on a board whose
    `tie_break` is `earliest`, else by descending user id bytes.
    """
    product, b = target(product_id, board)
    args = parse_query(_page_query)
    name, period = board_to_read(product, b, args)
    return json_response(page_body(product, b, name, period, args, b.tiers))


def records_of(b: Board, name: str) -> str | None:
    """The board whose records a read of ``name`` (``b``'s all-time or period board)
    shows: ``name`` itself, or None when ``b`` keeps none."""
    return name if b.records else None


def page_body(product: Product, b: Board, name: str, period: str | None,
              args: dict[str, Any], tiers: Sequence[Tier],
              records: str | None = None) -> bodies.Body:
    """The page that ``args`` (a PageQuerySchema) asks for of board ``name``, which is
    ``b`` or one of its period's (or bucket's) boards; ``records``: the board that keeps
    the rows' records, when it is not ``name`` (a bucket's)."""
    ties: TieMode = args.get("ties") or b.ties
    limit: int = args["limit"]
    ranks = state().ranks
    kept = records_of(b, records or name)
    cursor: Cursor | None = args.get("cursor")
    if cursor is not None:
        if (cursor.product_id, cursor.board) != (product.id, name):
            raise ApiError(422, "invalid_query", "Invalid query parameters: cursor: this "
                           "cursor belongs to another board or period.",
                           errors={"cursor": ["This cursor belongs to another board or "
                                              "period."]})
        read = ranks.before if cursor.backward else ranks.after
        page: Slice = read(product.id, name, cursor.position, limit, ascending=b.ascending,
                           earliest=b.earliest, records=kept)
    else:
        page = ranks.page(product.id, name, args.get("offset", 0), limit,
                          ascending=b.ascending, earliest=b.earliest, records=kept)
    first, last = page.first, page.last
    more = last is not None and page.start + len(page.rows) < page.size
    next_cursor = Cursor(product.id, name, last).encode() if more and last else None
    prev_cursor = Cursor(product.id, name, first, backward=True).encode() \
        if page.start > 0 and first else None
    return bodies.page(product.id, b.name, period, ties, page, next_cursor, tiers,
                       prev_cursor, bodies.splitter(b))


@bp.get("/players")
@operation(Operation(tag="leaderboards", response=PlayersSchema, query=PlayersQuerySchema))
def players_on_board(product_id: str, board: str) -> ResponseReturnValue:
    """Several players' scores, ranks and percentiles, read at one moment.

    Repeat `user_id` for each player (friends, a party, a clan). The players
    on the board come in board order, best first; the others are listed in
    `missing`.
    """
    product, b = target(product_id, board)
    args = parse_query(_players_query)
    ties: TieMode = args.get("ties") or b.ties
    name, period = board_to_read(product, b, args)
    asked = list(dict.fromkeys(args["user_id"]))  # repeats count once, first place kept
    size, found = state().ranks.standings(product.id, name, asked, ascending=b.ascending,
                                          earliest=b.earliest, records=records_of(b, name))
    on_board = {p.user_id for p in found}
    split = bodies.splitter(b)
    return jsonify(_players.dump({
        "product_id": product.id, "board": b.name, "ties": ties, "size": size,
        **({"period": period} if period else {}),
        "players": [{"rank": p.rank(ties), "user_id": p.user_id,
                     **bodies.score_fields(p.score, split), "percentile": p.percentile,
                     **({"tier": bodies.player_tier(b.tiers, p)} if b.tiers else {}),
                     **bodies.record(p.record)}
                    for p in found],
        "missing": [u for u in asked if u not in on_board]}))


@bp.get("/players/<user_id>")
@operation(Operation(tag="leaderboards", response=StandingSchema, query=TiesQuerySchema,
                     errors=(400,)))
def standing(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """A player's score, rank and percentile (404 `player_not_on_board` when absent).

    The percentile is the share of the board with a strictly lower score.
    """
    check_user_id(user_id)
    product, b = target(product_id, board, owner=user_id)
    args = parse_query(_ties_query)
    ties: TieMode = args.get("ties") or b.ties
    name, period = board_to_read(product, b, args)
    rating_as = RATING_DETAIL.get(b.kind)
    found = state().ranks.standing(product.id, name, user_id,
                                   rating_of=b.name if rating_as else None,
                                   ascending=b.ascending, earliest=b.earliest,
                                   records=records_of(b, name))
    if found is None:
        raise player_not_on_board(product, b, user_id, name)
    body = bodies.standing(product.id, b.name, period, ties, found, b.tiers, rating_as,
                           bodies.splitter(b))
    if b.rate_limit:
        body["rate"] = rate_window(product.id, b, b.rate_limit, user_id)
    return json_response(body)


def rate_window(product_id: str, board: Board, limit: RateLimit, user_id: str
                ) -> dict[str, int]:
    """``RateWindowSchema``: the player's current window of the board's ``limit``
    (windows go by event time; the server's clock says which one is current)."""
    length = limit.seconds * 1000
    window = int(time.time() * 1000) // length
    counted = state().ranks.counted_in_window(product_id, board.name, user_id, window)
    return {"window_start": window * length, "window_end": (window + 1) * length,
            "counted": counted, "left": max(0, limit.submissions - counted)}


@bp.get("/players/<user_id>/around")
@operation(Operation(tag="leaderboards", response=AroundSchema, query=AroundQuerySchema,
                     errors=(400,)))
def around(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """A window of `limit` rows around a player, with ranks.

    The player is in the middle, unless near an end of the board, where the
    window shifts to stay full. 404 `player_not_on_board` when absent.
    """
    check_user_id(user_id)
    product, b = target(product_id, board, owner=user_id)
    args = parse_query(_around_query)
    ties: TieMode = args.get("ties") or b.ties
    name, period = board_to_read(product, b, args)
    window = state().ranks.around(product.id, name, user_id, args["limit"],
                                  ascending=b.ascending, earliest=b.earliest,
                                  records=records_of(b, name))
    if window is None:
        raise player_not_on_board(product, b, user_id)
    return json_response(bodies.around(product.id, b.name, period, ties, user_id, window,
                                       b.tiers, bodies.splitter(b)))


@bp.get("/players/<user_id>/history")
@operation(Operation(tag="leaderboards", response=HistorySchema, query=HistoryQuerySchema,
                     errors=(400,)))
def history(product_id: str, board: str, user_id: str) -> ResponseReturnValue:
    """The player's latest games on a rating or streak board, newest first: when, the
    player's score just after, the opponent and the result.

    404 `no_history` when the board keeps none (its handler's `history` is 0).
    """
    check_user_id(user_id)
    product, b = target(product_id, board, owner=user_id)
    args = parse_query(_history_query)
    if not b.history:
        raise ApiError(404, "no_history",
                       f"Board {b.name!r} of {product.id!r} keeps no game history (set "
                       "history = <games> on its handler).", product_id=product.id,
                       board=b.name)
    games = state().store.history(product.id, b.name, user_id, args["limit"])
    return jsonify(_history.dump({
        "product_id": product.id, "board": b.name, "user_id": user_id, "kept": b.history,
        "games": [{"time": datetime.fromtimestamp(g.at_ms / 1000, UTC), "score": g.score,
                   "opponent": g.opponent, "result": "win" if g.result == "W" else "loss"}
                  for g in games]}))
