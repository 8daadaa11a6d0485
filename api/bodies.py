"""The bodies of the hot read routes, built as plain dicts and lists.

The marshmallow schemas in :mod:`api.schemas` stay the schema of record: the
OpenAPI document is generated from them, and tests/api/test_bodies.py checks
that every builder here gives exactly what the schema's ``dump`` gives. The
builders exist because ``dump`` costs about 100 µs on a page of ten rows,
which was a quarter of a top-10 request; building the dicts costs a few µs.

Field order follows the schemas' declaration order (the JSON keeps it). The
values need no conversion: :mod:`tracker.ranking` already types ranks and
sizes as int and scores as float, as the schemas' fields would; only a tie
mode becomes its value, as ``Enum(by_value=True)`` makes it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tracker import subscore
from tracker.handlers import Board
from tracker.ranking import Record, Slice, Standing, TieMode
from tracker.tiers import Tier, tier_of

Body = dict[str, Any]
# a board's number read back -> its score and subscore (tracker.subscore)
Split = Callable[[float], tuple[float, int]]


def splitter(board: Board) -> Split | None:
    """How to show the numbers of ``board``: None when they are its scores, else the
    split of its packed (score, subscore) numbers."""
    if not board.subscore:
        return None
    return functools.partial(subscore.split, direction=board.subscore,
                             ascending=board.ascending)


def score_fields(number: float, split: Split | None) -> Body:
    """A row's ``score``, and its ``subscore`` on a board that has one."""
    if split is None:
        return {"score": number}
    score, sub = split(number)
    return {"score": score, "subscore": sub}


def entries(window: Slice, ties: TieMode, tiers: Sequence[Tier] = (),
            split: Split | None = None) -> list[Body]:
    """``EntrySchema(many=True)`` of ``window.ranked(ties)``, without building the Entries;
    with each row's tier on a board that has ``tiers``, its record when read, and its
    subscore when ``split`` (:func:`splitter`)."""
    ranks = window.ranks(ties)
    if not tiers and window.records is None and split is None:
        return [{"rank": rank, "user_id": user_id, "score": score}
                for rank, (user_id, score) in zip(ranks, window.rows, strict=True)]
    rows: list[Body] = [{"rank": rank, "user_id": user_id, **score_fields(score, split)}
                        for rank, (user_id, score) in zip(ranks, window.rows, strict=True)]
    if tiers:  # tiers go by competition ranks, whatever mode the rows are ranked in
        competition = (ranks if ties is TieMode.COMPETITION
                       else window.ranks(TieMode.COMPETITION))
        for row, comp, (_, score) in zip(rows, competition, window.rows, strict=True):
            row["tier"] = tier_of(tiers, score, comp, window.size)
    if window.records is not None:
        for row, kept in zip(rows, window.records, strict=True):
            row.update(record(kept))
    return rows


def record(kept: Record | None) -> Body:
    """``EntrySchema``'s fields of a member's record: its submissions, their first and
    last times and its metadata (when it has some); none when nothing is kept."""
    if kept is None:
        return {}
    body: Body = {"submissions": kept.submissions, "first_at": kept.first_at,
                  "last_at": kept.last_at}
    if kept.metadata is not None:
        body["metadata"] = json.loads(kept.metadata)
    return body


def top_entries(rows: Iterable[tuple[str, float]], split: Split | None = None) -> list[Body]:
    """``TopEntrySchema(many=True)``: the Varcade top ten."""
    return [{"user_id": user_id, **score_fields(score, split)} for user_id, score in rows]


def _ref(product_id: str, board: str, period: str | None, ties: TieMode, size: int) -> Body:
    """``BoardRefSchema``'s fields; ``period`` only when a period was read (a ``null``
    would send the body to Flask's slower encoder, see :mod:`api.jsonbody`)."""
    if period is None:
        return {"product_id": product_id, "board": board, "ties": ties.value, "size": size}
    return {"product_id": product_id, "board": board, "period": period, "ties": ties.value,
            "size": size}


def page(product_id: str, board: str, period: str | None, ties: TieMode, window: Slice,
         next_cursor: str | None, tiers: Sequence[Tier] = (),
         prev_cursor: str | None = None, split: Split | None = None) -> Body:
    """``PageSchema``: a page of the board (of ``period``, None: all-time), ranked in
    ``ties`` mode; ``prev_cursor`` only when there is a previous page (no ``null`` on
    the top pages, the most read: see :func:`_ref`)."""
    body = _ref(product_id, board, period, ties, window.size)
    body.update(offset=window.start, entries=entries(window, ties, tiers, split),
                next_cursor=next_cursor)
    if prev_cursor is not None:
        body["prev_cursor"] = prev_cursor
    return body


def standing(product_id: str, board: str, period: str | None, ties: TieMode,
             found: Standing, tiers: Sequence[Tier] = (), rating_as: str | None = None,
             split: Split | None = None) -> Body:
    """``StandingSchema``: a player's score, rank, percentile (and tier, and what stands
    behind the score under ``rating_as``: ``skill``, ``glicko`` or ``streak``)."""
    body = _ref(product_id, board, period, ties, found.size)
    body["user_id"] = found.user_id
    body.update(score_fields(found.score, split))
    body.update(rank=found.rank(ties), percentile=found.percentile)
    if tiers:
        body["tier"] = player_tier(tiers, found)
    if rating_as is not None and found.rating is not None:
        # a streak is a count; ratings are real numbers
        convert = int if rating_as == "streak" else float
        body[rating_as] = {name: convert(value) for name, value in found.rating}
    body.update(record(found.record))
    return body


def player_tier(tiers: Sequence[Tier], found: Standing) -> str:
    return tier_of(tiers, found.score, found.rank(TieMode.COMPETITION), found.size)


def standing_row(board: Board, found: Standing, ties: TieMode) -> Body:
    """A standing's fields in a list of a player's standings (``PlayerBoardSchema``,
    ``PlayerPeriodSchema``): the board's size, the score, rank, percentile, tier and
    record, each when the board has them."""
    body: Body = {"size": found.size, **score_fields(found.score, splitter(board)),
                  "rank": found.rank(ties), "percentile": found.percentile}
    if board.tiers:
        body["tier"] = player_tier(board.tiers, found)
    body.update(record(found.record))
    return body


def around(product_id: str, board: str, period: str | None, ties: TieMode, user_id: str,
           window: Slice, tiers: Sequence[Tier] = (), split: Split | None = None) -> Body:
    """``AroundSchema``: the window of rows around a player."""
    body = _ref(product_id, board, period, ties, window.size)
    body.update(user_id=user_id, offset=window.start,
                entries=entries(window, ties, tiers, split))
    return body
