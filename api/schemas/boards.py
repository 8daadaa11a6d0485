"""Leaderboards: the pages, standings, windows, tiers, cutoffs, buckets and product
listings the board routes answer (periods: :mod:`api.schemas.periods`; the queries:
:mod:`api.schemas.queries`)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.periods import PeriodPolicySchema
from api.schemas.shared import (
    TIER_TEXT,
    percentile_field,
    record_fields,
    standing_fields,
    subscore_field,
)
from tracker.ranking import TieMode


def period_read() -> fields.String:
    """The ``period`` of an answer: the id of the period read, absent for all-time."""
    return fields.String(metadata={
        "description": "The period read (its id); absent for the all-time board."})


class GameSchema(Schema):
    time = fields.DateTime(required=True, metadata={"description": "The game's event time "
                                                                   "(UTC)."})
    score = fields.Float(required=True, allow_none=True, metadata={
        "description": "The player's score on the board just after the game."})
    opponent = fields.String(required=True)
    result = fields.String(required=True, validate=validate.OneOf(("win", "loss")))


class HistorySchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    user_id = fields.String(required=True)
    kept = fields.Integer(required=True, metadata={
        "description": "How many games the board keeps per player."})
    games = fields.Nested(GameSchema, many=True, required=True)


class EntrySchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1-based, in `ties` mode."})
    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    subscore = subscore_field()
    tier = fields.String(metadata={"description": TIER_TEXT})
    submissions, first_at, last_at, metadata = record_fields()


class SkillSchema(Schema):
    mu = fields.Float(required=True, metadata={"description": "The skill estimate."})
    sigma = fields.Float(required=True, metadata={
        "description": "Its uncertainty; the board's score is mu - 3 sigma."})


class GlickoSchema(Schema):
    rating = fields.Float(required=True, metadata={"description": "The Glicko-2 rating."})
    rd = fields.Float(required=True, metadata={
        "description": "Its deviation; the board's score is rating - 2 rd."})
    volatility = fields.Float(required=True, metadata={
        "description": "How erratic the player's results are."})


class StreakSchema(Schema):
    current = fields.Integer(required=True, metadata={
        "description": "The player's current win streak (0 after a loss); the board's "
                       "score is the longest."})


class RateWindowSchema(Schema):
    window_start = fields.Integer(required=True, metadata={
        "description": "When the current window of the board's `rate_limit` began (Unix ms, "
                       "by the server's clock; submissions fall in windows by event time)."})
    window_end = fields.Integer(required=True, metadata={
        "description": "When it ends (Unix ms): then the player may submit again."})
    counted = fields.Integer(required=True, metadata={
        "description": "The player's submissions counted in it so far (as applied)."})
    left = fields.Integer(required=True, metadata={
        "description": "Submissions it still counts; later ones are refused."})


class BoardRefSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    period = period_read()
    ties = fields.Enum(TieMode, by_value=True, required=True)
    size = fields.Integer(required=True, metadata={"description": "Members on the board."})


class PageSchema(BoardRefSchema):
    offset = fields.Integer(required=True, metadata={
        "description": "0-based position of the first entry."})
    entries = fields.Nested(EntrySchema, many=True, required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as ?cursor= for the next page; null on the last page."})
    prev_cursor = fields.String(metadata={
        "description": "Pass as ?cursor= for the previous page (the `limit` rows "
                       "just before this one's first); absent on the first page."})


class StandingSchema(BoardRefSchema):
    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    subscore = subscore_field()
    rank = fields.Integer(required=True)
    percentile = percentile_field()
    tier = fields.String(metadata={"description": TIER_TEXT})
    skill = fields.Nested(SkillSchema, metadata={
        "description": "The player's OpenSkill rating; only on skill boards."})
    glicko = fields.Nested(GlickoSchema, metadata={
        "description": "The player's Glicko-2 rating; only on glicko boards."})
    streak = fields.Nested(StreakSchema, metadata={
        "description": "The player's current win streak; only on streak boards."})
    submissions, first_at, last_at, metadata = record_fields()
    rate = fields.Nested(RateWindowSchema, metadata={
        "description": "On a board with a `rate_limit`: the player's current window."})


class RankedPlayerSchema(EntrySchema):
    percentile = percentile_field()


class PlayerBoardSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "As the board's `kind`."})
    ties = fields.Enum(TieMode, by_value=True, required=True,
                       metadata={"description": "The tie mode of `rank`."})
    size = fields.Integer(required=True, metadata={"description": "Members on the board."})
    score, subscore, rank, percentile, tier = standing_fields()
    submissions, first_at, last_at, metadata = record_fields()


class PlayerBoardsSchema(Schema):
    user_id = fields.String(required=True)
    boards = fields.Nested(PlayerBoardSchema, many=True, required=True, metadata={
        "description": "Every all-time board the player is on, product by product (in "
                       "configuration order, or as asked), each board read atomically."})


class PlayersSchema(BoardRefSchema):
    players = fields.Nested(RankedPlayerSchema, many=True, required=True, metadata={
        "description": "The asked players on the board, in board order (best first)."})
    missing = fields.List(fields.String(), required=True, metadata={
        "description": "The asked players not on the board, in the order asked."})


class AroundSchema(BoardRefSchema):
    user_id = fields.String(required=True)
    offset = fields.Integer(required=True)
    entries = fields.Nested(EntrySchema, many=True, required=True)


class RateLimitSchema(Schema):
    """A score board's write limit per player, as PlayFab's and Unity's."""

    submissions = fields.Integer(required=True, metadata={
        "description": "Submissions of one player that count in each window."})
    seconds = fields.Integer(required=True, metadata={
        "description": "The window's length: windows follow each other from the Unix "
                       "epoch, by the submissions' event time."})


class TierSchema(Schema):
    name = fields.String(required=True)
    score = fields.Float(metadata={"description": "In it with a score of at least this (at "
                                                  "most this on an ascending board)."})
    rank = fields.Integer(metadata={"description": "In it with a competition rank of at "
                                                   "most this."})
    percent = fields.Float(metadata={"description": "In it within the best `percent` % of "
                                                    "the board."})


class BoardSchema(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "points (a sum), best (each player's best score), latest (each "
                       "player's last score), streak (the "
                       "longest win streak), rating (Elo), skill (OpenSkill; the score is the "
                       "ordinal mu - 3 sigma) or glicko (Glicko-2; the score is rating - 2 rd)"})
    order = fields.String(required=True, validate=validate.OneOf(["desc", "asc"]), metadata={
        "description": "desc: the highest score ranks first; asc: the lowest does (a "
                       "fastest time, fewest strokes)."})
    ties = fields.Enum(TieMode, by_value=True, required=True,
                       metadata={"description": "The board's default tie mode."})
    tie_break = fields.String(required=True, validate=validate.OneOf(["member", "earliest"]),
                              metadata={"description":
                                        "Which of two equal scores comes first, in listings "
                                        "and ordinal ranks: earliest, the player who reached "
                                        "it first; member, the greater user id bytes."})
    start = fields.Float(required=True, metadata={"description": "A new member's score."})
    periods = fields.Nested(PeriodPolicySchema, required=True, allow_none=True, metadata={
        "description": "Null when the board is kept all-time only."})
    tiers = fields.Nested(TierSchema, many=True, required=True, metadata={
        "description": "Its tiers, best first: a player is in the first whose cutoff it "
                       "meets (the last has none). Rank and percent use competition ranks."})
    history = fields.Integer(required=True, metadata={
        "description": "Games kept per player (…/players/<user_id>/history); 0: none."})
    records = fields.Boolean(required=True, metadata={
        "description": "Whether the board keeps each player's record (score boards): its "
                       "submissions, their first and last times, and the metadata submitted "
                       "with its score, shown on rows and standings."})
    attempts = fields.Integer(required=True, metadata={
        "description": "Submissions the board takes from each player (per period on a "
                       "board kept per period; the all-time board takes them all), a "
                       "tournament's attempts: those left are this less the player's "
                       "submissions. 0: any number."})
    rate_limit = fields.Nested(RateLimitSchema, required=True, allow_none=True, metadata={
        "description": "At most this many submissions of a player per window of event "
                       "time count (on the all-time board and each period's alike); the "
                       "others are refused. Null: any number."})
    subscore = fields.String(required=True, allow_none=True,
                             validate=validate.OneOf(["desc", "asc"]), metadata={
        "description": "How equal scores rank by the subscore each submission carries: "
                       "desc, the highest first; asc, the lowest first (then by user id). "
                       "Null when the board has none."})
    max_players = fields.Integer(required=True, metadata={
        "description": "Players the board takes, the first to submit (per period on a "
                       "board kept per period), a tournament's size; a later player's "
                       "submissions are refused. 0: any number."})
    join_required = fields.Boolean(required=True, metadata={
        "description": "Whether only the players who joined the board (a `join` entry, per "
                       "period on a board kept per period) have their submissions counted, "
                       "as Nakama's tournaments; then `max_players` caps the players who "
                       "join."})


class BoardDetailSchema(BoardSchema):
    product_id = fields.String(required=True)
    period = period_read()
    size = fields.Integer(required=True)
    distinct_scores = fields.Integer(required=True)
    joined = fields.Integer(metadata={
        "description": "Players who joined it (of the period read), on a board with "
                       "`join_required`: those whose submissions count."})


class TierStatusSchema(TierSchema):
    threshold = fields.Float(metadata={
        "description": "The worst score that puts a player in this tier or a better one "
                       "now (the lowest; the highest on an ascending board); absent when any "
                       "score does."})
    threshold_subscore = fields.Integer(metadata={
        "description": "On a board with a subscore, the worst subscore that, with "
                       "`threshold`, puts a player in this tier or a better one."})
    members = fields.Integer(required=True, metadata={"description": "Players in it now."})


class BoardSummarySchema(Schema):
    """What a summary of one board (its tiers, its cutoffs) starts with."""

    product_id = fields.String(required=True)
    board = fields.String(required=True)
    period = period_read()
    size = fields.Integer(required=True, metadata={"description": "Members on the board."})


class TierListSchema(BoardSummarySchema):
    tiers = fields.Nested(TierStatusSchema, many=True, required=True, metadata={
        "description": "The board's tiers, best first; empty for a board without tiers."})


class JoinedPlayerSchema(Schema):
    user_id = fields.String(required=True)
    joined_at = fields.Integer(required=True, metadata={
        "description": "When it joined (Unix ms, its join entry's time)."})


class JoinedListSchema(BoardSummarySchema):
    offset = fields.Integer(required=True, metadata={
        "description": "0-based position of the first player listed."})
    players = fields.Nested(JoinedPlayerSchema, many=True, required=True, metadata={
        "description": "Players who joined, the first to join first, whether or not they "
                       "have scored yet; `size` counts them all."})


class CutoffSchema(Schema):
    top = fields.Float(required=True, metadata={"description": "The share asked for, in %."})
    score = fields.Float(required=True, metadata={
        "description": "The worst score within the best `top` % now: that of the "
                       "ceil(top * size / 100)-th best player (as a percent tier's cutoff)."})
    subscore = fields.Integer(metadata={
        "description": "That player's subscore, on a board with one: the cutoff is both "
                       "columns."})
    players = fields.Integer(required=True, metadata={
        "description": "Players with that score or a better one: more than the share when "
                       "several tie at the cutoff."})


class CutoffListSchema(BoardSummarySchema):
    cutoffs = fields.Nested(CutoffSchema, many=True, required=True, metadata={
        "description": "One per `top`, in the order asked; empty when the board is."})


class BucketListSchema(Schema):
    product_id = fields.String(required=True)
    board = fields.String(required=True)
    period = fields.String(required=True, metadata={"description": "The period read."})
    bucket_size = fields.Integer(required=True, metadata={"description": "Players per bucket."})
    players = fields.Integer(required=True, metadata={
        "description": "Players given a bucket in the period so far."})
    buckets = fields.Integer(required=True, metadata={
        "description": "Buckets begun: numbered 0 to buckets - 1; the last one fills up."})


class BucketPageSchema(PageSchema):
    bucket = fields.Integer(required=True, metadata={"description": "The bucket read."})


class PlayerBucketSchema(StandingSchema):
    bucket = fields.Integer(required=True, metadata={
        "description": "The player's bucket: its score, rank, percentile and size are the "
                       "bucket's."})


class HandlerSchema(Schema):
    name = fields.String(required=True)
    boards = fields.List(fields.String(), required=True)


class ProductSchema(Schema):
    id = fields.String(required=True)
    boards = fields.List(fields.Nested(BoardSchema), required=True)
    handlers = fields.List(fields.Nested(HandlerSchema), required=True)


class ProductListSchema(Schema):
    products = fields.List(fields.Nested(ProductSchema), required=True)
