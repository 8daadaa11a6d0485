"""Leaderboards: the queries of the board routes (a period, a tie mode, a page, a window,
players, cutoffs), checked before any read."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.cursors import CursorField
from api.schemas.common import MAX_OFFSET, MAX_PAGE
from tracker.events import MAX_ID_LEN
from tracker.ranking import TieMode

# an hour, a day, an ISO week, a month, or a season's id (tracker.periods.SEASON_ID)
PERIOD_PATTERN = (r"^([0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2}(T[0-9]{2})?)?)"
                  r"|[A-Za-z][A-Za-z0-9_-]{0,31})$")
PERIOD_ERROR = ("Not a period id: an hour (2026-11-29T14), a day (2026-11-29), an ISO week "
                "(2026-W48), a month (2026-11) or a season's id (s3).")


class PeriodQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    # Only the form is checked here (422 otherwise): a well-formed id of no real
    # period ("2026-02-30") names a period the board does not have, a 404.
    period = fields.String(validate=validate.Regexp(PERIOD_PATTERN, error=PERIOD_ERROR),
                           metadata={
        "description": "Read the board of one period instead of the all-time board: an "
                       "hour (2026-11-29T14, 14:00 to 15:00), a day (2026-11-29), an ISO week "
                       "(2026-W48) or a month (2026-11), on the board's clock (UTC unless "
                       "its `utc_offset` or `time_zone` says otherwise), or one of the "
                       "board's seasons by its id. The board must be kept per that kind of "
                       "period (see its `periods`)."})


def ties_query() -> fields.Enum[TieMode]:
    return fields.Enum(
        TieMode, by_value=True,
        metadata={"description": "How equal scores rank: ordinal (1,2,3,4), competition "
                                 "(1,2,2,4) or dense (1,2,2,3). Default: the board's "
                                 "configured mode."},
    )


class TiesQuerySchema(PeriodQuerySchema):
    ties = ties_query()


class PageQuerySchema(TiesQuerySchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"Rows per page, 1-{MAX_PAGE}."})
    cursor = CursorField(metadata={
        "description": "A page's next_cursor or prev_cursor (keyset paging: correct "
                       "while scores change). Not with offset."})
    offset = fields.Integer(validate=validate.Range(0, MAX_OFFSET),
                            metadata={"description": "0-based position of the first row "
                                                     "(jumps; may skip or repeat rows while "
                                                     "scores change). Not with cursor."})

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if "cursor" in data and "offset" in data:
            raise ValidationError("Give cursor or offset, not both.", "offset")


class JoinedQuerySchema(PeriodQuerySchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"Players per page, 1-{MAX_PAGE}."})
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET),
                            metadata={"description": "0-based position of the first player "
                                                     "(the first to join is 0)."})


class AroundQuerySchema(TiesQuerySchema):
    limit = fields.Integer(load_default=11, validate=validate.Range(1, MAX_PAGE), metadata={
        "description": f"Rows in the window, 1-{MAX_PAGE}; the player is in the middle "
                       "unless near an end of the board."})


class HistoryQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, MAX_PAGE), metadata={
        "description": f"Games to return, newest first, 1-{MAX_PAGE} (the board keeps as "
                       "many as its handler's `history`)."})


class PlayersQuerySchema(TiesQuerySchema):
    user_id = fields.List(
        fields.String(validate=validate.Length(1, MAX_ID_LEN)), required=True,
        validate=validate.Length(1, MAX_PAGE),
        metadata={"description": f"A player to look up; repeat it for more (1-{MAX_PAGE} "
                                 "players: friends, a party, a clan). Repeats count once."})


class PlayerBoardsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    product_id = fields.List(fields.String(validate=validate.Length(min=1, max=64)), metadata={
        "description": "Only the boards of these products (repeat it for each); default: "
                       "every product's."})
    ties = ties_query()


MAX_CUTOFFS = 20


class CutoffQuerySchema(PeriodQuerySchema):
    top = fields.List(
        # apispec writes the range's minimum without its exclusivity: say it (OpenAPI 3.0)
        fields.Float(validate=validate.Range(0, 100, min_inclusive=False),
                     metadata={"exclusiveMinimum": True}), required=True,
        validate=validate.Length(1, MAX_CUTOFFS),
        metadata={"description": f"A share of the board in percent (0 < top <= 100): the "
                                 f"score it takes to be within the best `top` %. Repeat it "
                                 f"for more (1-{MAX_CUTOFFS}): ?top=1&top=10&top=50."})
