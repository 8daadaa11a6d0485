"""Archives: the final standings of a board's closed periods, kept after the periods'
boards expire (:mod:`tracker.closing`)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from api.schemas.common import MAX_PAGE
from api.schemas.periods import PeriodRefSchema
from api.schemas.queries import PERIOD_ERROR, PERIOD_PATTERN


class ArchiveQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=10, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"Periods per page, 1-{MAX_PAGE}."})
    before = fields.String(validate=validate.Regexp(PERIOD_PATTERN, error=PERIOD_ERROR),
                           metadata={
        "description": "Only periods listed after this one: pass the `next` of the "
                       "previous page."})


class ArchivedPeriodSchema(PeriodRefSchema):
    size = fields.Integer(required=True, metadata={
        "description": "Players on its board when it closed."})
    closed_at = fields.DateTime(required=True, metadata={
        "description": "When its final standings were published (UTC)."})


class ArchiveListSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    periods = fields.Nested(ArchivedPeriodSchema, many=True, required=True, metadata={
        "description": "The latest ending first (of two ending together, the longer)."})
    next = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as ?before= for the next page; null on the last page."})


class ArchivedEntrySchema(Schema):
    rank = fields.Integer(required=True, metadata={
        "description": "1-based, in competition mode (1, 2, 2, 4), as the period closed."})
    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    subscore = fields.Integer(metadata={
        "description": "The second column, on a board with a `subscore`."})


class ArchivedStandingsSchema(ArchivedPeriodSchema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    entries = fields.Nested(ArchivedEntrySchema, many=True, required=True, metadata={
        "description": "The board's `results_top` best when the period closed, best first."})
