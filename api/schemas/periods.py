"""Periods: how a board is kept per period, the periods that can be read, and a player's
standing in each (the queries' ``period``: :mod:`api.schemas.queries`)."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.schemas.shared import record_fields, standing_fields
from tracker.periods import PeriodKind
from tracker.ranking import TieMode


class PeriodRefSchema(Schema):
    id = fields.String(required=True, metadata={"example": "2026-W48"})
    kind = fields.Enum(PeriodKind, by_value=True, required=True)
    start = fields.Date(required=True, metadata={
        "description": "Its first day, on the board's clock (UTC, its `utc_offset` or its "
                       "`time_zone`)."})
    end = fields.Date(required=True, metadata={
        "description": "The first day that starts at or after its end, on the same clock "
                       "(an hour's: the day after its own)."})
    starts_at = fields.DateTime(required=True, metadata={
        "description": "Its first instant (UTC), as RFC 3339."})
    ends_at = fields.DateTime(required=True, metadata={
        "description": "The first instant after it (UTC): the period is [starts_at, ends_at)."})


class PeriodPolicySchema(Schema):
    kinds = fields.List(fields.Enum(PeriodKind, by_value=True), required=True, metadata={
        "description": "The kinds of period the board is also kept for."})
    keep = fields.Integer(required=True, metadata={
        "description": "Past periods of each kind that stay readable, ranks included."})
    grace_seconds = fields.Integer(required=True, metadata={
        "description": "How long after its end a period still takes events."})
    bucket_size = fields.Integer(required=True, metadata={
        "description": "Players per bucket of each period's board (…/buckets); 0: none."})
    results_top = fields.Integer(required=True, metadata={
        "description": "How many of the best, of the board and of each bucket, are published "
                       "to the product's results stream when a period is over; 0: none."})
    seasons = fields.Nested(PeriodRefSchema, many=True, required=True, metadata={
        "description": "The board's seasons (kind `season`), in order; empty without."})
    manual_seasons = fields.Boolean(required=True, metadata={
        "description": "True when its seasons are set at run time (`seasons = \"manual\"`, "
                       "`tracker season start`, as PlayFab's manual resets) rather than "
                       "configured; `seasons` then lists those set so far."})
    utc_offset = fields.String(metadata={
        "example": "+09:00", "description": "The clock the board's hours, days, weeks and "
                                           "months follow: UTC (+00:00) or this fixed "
                                           "offset. Absent when the board has `time_zone`."})
    time_zone = fields.String(metadata={
        "example": "Europe/Berlin",
        "description": "The IANA time zone whose wall clock the board's periods follow, "
                       "daylight saving included (a day is 23 or 25 hours when the clocks "
                       "change). Only on a board configured with one; then there is no "
                       "`utc_offset`."})


class PeriodSchema(PeriodRefSchema):
    final = fields.Boolean(required=True, metadata={
        "description": "True once its grace has passed: it takes no more events."})
    size = fields.Integer(required=True, metadata={"description": "Members on its board."})


class PlayerPeriodSchema(PeriodSchema):
    score, subscore, rank, percentile, tier = standing_fields()
    submissions, first_at, last_at, metadata = record_fields()


class PlayerPeriodsSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    user_id = fields.String(required=True)
    ties = fields.Enum(TieMode, by_value=True, required=True,
                       metadata={"description": "The tie mode of each `rank`."})
    periods = fields.Nested(PlayerPeriodSchema, many=True, required=True, metadata={
        "description": "The readable periods the player is on, in the order of `…/periods` "
                       "(per kind, the current one first), each period's board read "
                       "atomically."})


class PeriodListSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    periods = fields.Nested(PeriodSchema, many=True, required=True, metadata={
        "description": "The readable periods of each kind, the current one first."})
