"""Marshmallow schemas: every query the routes accept and every body they answer.

The OpenAPI document (:mod:`api.openapi`) is generated from these, so the
documentation cannot drift from what the code parses and dumps.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.cursors import CursorField
from tracker.events import MAX_ID_LEN
from tracker.periods import PeriodKind
from tracker.ranking import TieMode
from tracker.userstate.keys import block_ref

MAX_PAGE = 100  # rows per page, per window around a player, players per list
MAX_OFFSET = 1_000_000_000
MAX_BLOCK_KEY = 1024  # characters
PERIOD_PATTERN = r"^[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)$"


# --- queries ----------------------------------------------------------------------------------


class PeriodQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    # Only the form is checked here (422 otherwise): a well-formed id of no real
    # period ("2026-02-30") names a period the board does not have, a 404.
    period = fields.String(validate=validate.Regexp(
        PERIOD_PATTERN, error="Not a period id: a day (2026-11-29), an ISO week (2026-W48) "
                              "or a month (2026-11)."), metadata={
        "description": "Read the board of one period instead of the all-time board: a day "
                       "(2026-11-29), an ISO week (2026-W48) or a month (2026-11), UTC. The "
                       "board must be kept per that kind of period (see its `periods`)."})


class TiesQuerySchema(PeriodQuerySchema):
    ties = fields.Enum(
        TieMode, by_value=True,
        metadata={"description": "How equal scores rank: ordinal (1,2,3,4), competition "
                                 "(1,2,2,4) or dense (1,2,2,3). Default: the board's "
                                 "configured mode."},
    )


class PageQuerySchema(TiesQuerySchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"Rows per page, 1-{MAX_PAGE}."})
    cursor = CursorField(metadata={
        "description": "The next_cursor of the previous page (keyset paging: correct "
                       "while scores change). Not with offset."})
    offset = fields.Integer(validate=validate.Range(0, MAX_OFFSET),
                            metadata={"description": "0-based position of the first row "
                                                     "(jumps; may skip or repeat rows while "
                                                     "scores change). Not with cursor."})

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if "cursor" in data and "offset" in data:
            raise ValidationError("Give cursor or offset, not both.", "offset")


class AroundQuerySchema(TiesQuerySchema):
    limit = fields.Integer(load_default=11, validate=validate.Range(1, MAX_PAGE), metadata={
        "description": f"Rows in the window, 1-{MAX_PAGE}; the player is in the middle "
                       "unless near an end of the board."})


class PlayersQuerySchema(TiesQuerySchema):
    user_id = fields.List(
        fields.String(validate=validate.Length(1, MAX_ID_LEN)), required=True,
        validate=validate.Length(1, MAX_PAGE),
        metadata={"description": f"A player to look up; repeat it for more (1-{MAX_PAGE} "
                                 "players: friends, a party, a clan). Repeats count once."})


def _usage_key(text: str) -> None:
    try:
        block_ref(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


BLOCK_TEXT = "A usage key: block-v1:<org>+<course>+<run>+type@<type>+block@<id>."


class UserStateQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    block = fields.List(
        fields.String(validate=[validate.Length(1, MAX_BLOCK_KEY), _usage_key]),
        required=True, validate=validate.Length(1, MAX_PAGE),
        metadata={"description": f"{BLOCK_TEXT} Repeat it for more blocks (1-{MAX_PAGE})."})
    field = fields.List(fields.String(validate=validate.Length(1, MAX_BLOCK_KEY)), metadata={
        "description": "Only these fields of each state (repeat it); default: all."})


class UserStateHistoryQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    block = fields.String(required=True, validate=[validate.Length(1, MAX_BLOCK_KEY),
                                                   _usage_key],
                          metadata={"description": BLOCK_TEXT})
    limit = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"Newest entries, 1-{MAX_PAGE}."})


class LegacyTopTenQuerySchema(Schema):
    """The Varcade route ignores parameters it does not know."""

    class Meta:
        unknown = EXCLUDE

    board = fields.String(metadata={
        "description": "Another board of the product (default: wins, else its first)."})


# --- bodies -----------------------------------------------------------------------------------


class ErrorSchema(Schema):
    """Every error: a code, a message that says what was wrong, and details."""

    error = fields.String(required=True, metadata={"example": "unknown_product"})
    message = fields.String(required=True)
    product_id = fields.String()
    board = fields.String()
    boards = fields.List(fields.String())
    user_id = fields.String()
    period = fields.String()
    periods = fields.List(fields.String())
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "Invalid parameters and why."})
    allowed_methods = fields.List(fields.String())
    max_length = fields.Integer()
    required_scope = fields.String()
    status = fields.String()


class TopEntrySchema(Schema):
    """One leaderboard row: ``{"user_id": str, "score": number}``."""

    user_id = fields.String(required=True)
    score = fields.Float(required=True)


class LegacyStatsSchema(Schema):
    """A player's stats on the Varcade-compatible route: counter name -> decimal STRING.

    Strings, not numbers, because the Varcade portal hides falsy values: ``"0"``
    must be shown, the number ``0`` would not be.
    """

    stats = fields.Dict(keys=fields.String(), values=fields.String())


TIER_TEXT = "The player's tier; only on boards with tiers."


class EntrySchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1-based, in `ties` mode."})
    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    tier = fields.String(metadata={"description": TIER_TEXT})


class SkillSchema(Schema):
    mu = fields.Float(required=True, metadata={"description": "The skill estimate."})
    sigma = fields.Float(required=True, metadata={
        "description": "Its uncertainty; the board's score is mu - 3 sigma."})


class BoardRefSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    period = fields.String(metadata={
        "description": "The period read (its id); absent for the all-time board."})
    ties = fields.Enum(TieMode, by_value=True, required=True)
    size = fields.Integer(required=True, metadata={"description": "Members on the board."})


class PageSchema(BoardRefSchema):
    offset = fields.Integer(required=True, metadata={
        "description": "0-based position of the first entry."})
    entries = fields.Nested(EntrySchema, many=True, required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as ?cursor= for the next page; null on the last page."})


class StandingSchema(BoardRefSchema):
    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    rank = fields.Integer(required=True)
    percentile = fields.Float(required=True, metadata={
        "description": "Share of the board with a strictly lower score, in percent."})
    tier = fields.String(metadata={"description": TIER_TEXT})
    skill = fields.Nested(SkillSchema, metadata={
        "description": "The player's OpenSkill rating; only on skill boards."})


class RankedPlayerSchema(EntrySchema):
    percentile = fields.Float(required=True, metadata={
        "description": "Share of the board with a strictly lower score, in percent."})


class PlayersSchema(BoardRefSchema):
    players = fields.Nested(RankedPlayerSchema, many=True, required=True, metadata={
        "description": "The asked players on the board, in board order (best first)."})
    missing = fields.List(fields.String(), required=True, metadata={
        "description": "The asked players not on the board, in the order asked."})


class AroundSchema(BoardRefSchema):
    user_id = fields.String(required=True)
    offset = fields.Integer(required=True)
    entries = fields.Nested(EntrySchema, many=True, required=True)


class PeriodPolicySchema(Schema):
    kinds = fields.List(fields.Enum(PeriodKind, by_value=True), required=True, metadata={
        "description": "The kinds of period the board is also kept for."})
    keep = fields.Integer(required=True, metadata={
        "description": "Past periods of each kind that stay readable, ranks included."})
    grace_seconds = fields.Integer(required=True, metadata={
        "description": "How long after its end a period still takes events."})


class TierSchema(Schema):
    name = fields.String(required=True)
    score = fields.Float(metadata={"description": "In it with a score of at least this."})
    rank = fields.Integer(metadata={"description": "In it with a competition rank of at "
                                                   "most this."})
    percent = fields.Float(metadata={"description": "In it within the best `percent` % of "
                                                    "the board."})


class BoardSchema(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "points, rating (Elo) or skill (OpenSkill; the score is the "
                       "ordinal mu - 3 sigma)"})
    ties = fields.Enum(TieMode, by_value=True, required=True,
                       metadata={"description": "The board's default tie mode."})
    start = fields.Float(required=True, metadata={"description": "A new member's score."})
    periods = fields.Nested(PeriodPolicySchema, required=True, allow_none=True, metadata={
        "description": "Null when the board is kept all-time only."})
    tiers = fields.Nested(TierSchema, many=True, required=True, metadata={
        "description": "Its tiers, best first: a player is in the first whose cutoff it "
                       "meets (the last has none). Rank and percent use competition ranks."})


class BoardDetailSchema(BoardSchema):
    product_id = fields.String(required=True)
    period = fields.String(metadata={
        "description": "The period read (its id); absent for the all-time board."})
    size = fields.Integer(required=True)
    distinct_scores = fields.Integer(required=True)


class TierStatusSchema(TierSchema):
    threshold = fields.Float(metadata={
        "description": "The lowest score that puts a player in this tier or a better one "
                       "now; absent when any score does."})
    members = fields.Integer(required=True, metadata={"description": "Players in it now."})


class TierListSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    period = fields.String(metadata={
        "description": "The period read (its id); absent for the all-time board."})
    size = fields.Integer(required=True, metadata={"description": "Members on the board."})
    tiers = fields.Nested(TierStatusSchema, many=True, required=True, metadata={
        "description": "The board's tiers, best first; empty for a board without tiers."})


class PeriodSchema(Schema):
    id = fields.String(required=True, metadata={"example": "2026-W48"})
    kind = fields.Enum(PeriodKind, by_value=True, required=True)
    start = fields.Date(required=True, metadata={"description": "Its first day (UTC)."})
    end = fields.Date(required=True, metadata={"description": "The first day after it."})
    final = fields.Boolean(required=True, metadata={
        "description": "True once its grace has passed: it takes no more events."})
    size = fields.Integer(required=True, metadata={"description": "Members on its board."})


class PeriodListSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    periods = fields.Nested(PeriodSchema, many=True, required=True, metadata={
        "description": "The readable periods of each kind, the current one first."})


class HandlerSchema(Schema):
    name = fields.String(required=True)
    boards = fields.List(fields.String(), required=True)


class ProductSchema(Schema):
    id = fields.String(required=True)
    boards = fields.List(fields.Nested(BoardSchema), required=True)
    handlers = fields.List(fields.Nested(HandlerSchema), required=True)


class ProductListSchema(Schema):
    products = fields.List(fields.Nested(ProductSchema), required=True)


class PlayerStatsSchema(Schema):
    product_id = fields.String(required=True)
    user_id = fields.String(required=True)
    stats = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class PlayerAllStatsSchema(Schema):
    user_id = fields.String(required=True)
    products = fields.Dict(
        keys=fields.String(), required=True,
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        metadata={"description": "product id -> counters; products without data are absent."})


class BlockStateSchema(Schema):
    block_key = fields.String(required=True)
    state = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                        required=True, allow_none=True,
                        metadata={"description": "Field -> JSON value; null in history for a "
                                                 "deletion."})
    updated = fields.DateTime(required=True, metadata={
        "description": "When it was written (UTC, microseconds)."})


class UserStateSchema(Schema):
    username = fields.String(required=True)
    blocks = fields.Nested(BlockStateSchema, many=True, required=True, metadata={
        "description": "The asked blocks that have state, in the order asked."})
    missing = fields.List(fields.String(), required=True, metadata={
        "description": "The asked blocks without state (never written, or deleted)."})


class UserStateHistorySchema(Schema):
    username = fields.String(required=True)
    block_key = fields.String(required=True)
    entries = fields.Nested(BlockStateSchema, many=True, required=True, metadata={
        "description": "One per write, newest first: the full state after it."})


class VideoMetricsSchema(Schema):
    video_id = fields.String(required=True)
    duration = fields.Float(required=True, allow_none=True, metadata={
        "description": "Seconds; null when no event gave one."})
    viewers = fields.Integer(required=True)
    watch_time_s = fields.Float(required=True, metadata={
        "description": "Content seconds played; rewatching counts again."})
    mean_coverage = fields.Float(required=True, allow_none=True, metadata={
        "description": "Mean share of the video each viewer saw (unique seconds / "
                       "duration)."})
    completed_eol_coverage_0_9 = fields.Integer(required=True, metadata={
        "description": "Viewers who saw at least 90 % of it."})
    completed_insights_end_reached = fields.Integer(required=True, metadata={
        "description": "Viewers who watched the segment at max(duration - 30 s, 95 %)."})
    users_at_start = fields.Integer(required=True)
    users_at_end = fields.Integer(required=True)


class CourseDaySchema(Schema):
    date = fields.String(required=True, metadata={"description": "A UTC day.", "format": "date"})
    learners = fields.Integer(required=True, metadata={
        "description": "Learners with an event that day."})
    time_5min_s = fields.Float(required=True, metadata={
        "description": "Time spent, each gap booked on the day it starts."})
    time_30min_s = fields.Float(required=True)


class CourseUnitSchema(Schema):
    unit = fields.String(required=True, metadata={
        "description": "A vertical's usage key, or <sequential>/<position> from a legacy "
                       "courseware URL."})
    learners = fields.Integer(required=True)
    time_5min_s = fields.Float(required=True)
    time_30min_s = fields.Float(required=True)


class CourseAnalyticsSchema(Schema):
    course_id = fields.String(required=True)
    learners = fields.Integer(required=True)
    total_time_5min_s = fields.Float(required=True, metadata={
        "description": "Σ gaps under 5 minutes between each learner's events."})
    total_time_30min_s = fields.Float(required=True, metadata={
        "description": "The same with a 30-minute cutoff."})
    days = fields.Nested(CourseDaySchema, many=True, required=True)
    units = fields.Nested(CourseUnitSchema, many=True, required=True, metadata={
        "description": "Time spent per unit: each gap credited to the unit its first event "
                       "showed (carried over events that show none)."})
    videos = fields.Nested(VideoMetricsSchema, many=True, required=True)


class LearnerAnalyticsSchema(Schema):
    username = fields.String(required=True)
    name = fields.String(metadata={"description": "From the roster; enrolled students only."})
    email = fields.String(metadata={"description": "From the roster; enrolled students only."})
    time_5min_s = fields.Float(required=True)
    time_30min_s = fields.Float(required=True)
    sessions_5min = fields.Integer(required=True)
    sessions_30min = fields.Integer(required=True)


class LearnerListSchema(Schema):
    course_id = fields.String(required=True)
    learners = fields.Nested(LearnerAnalyticsSchema, many=True, required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    error = fields.String()
    message = fields.String()


legacy_stats = LegacyStatsSchema()
