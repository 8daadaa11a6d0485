"""Fields that a player's row or standing has on every kind of board read: its
standing (score, subscore, rank, percentile, tier) and record (:mod:`api.schemas.boards`,
:mod:`api.schemas.periods`)."""

from __future__ import annotations

from marshmallow import fields

TIER_TEXT = "The player's tier; only on boards with tiers."


def percentile_field() -> fields.Float:
    return fields.Float(required=True, metadata={
        "description": "Share of the board with a strictly worse score (lower; higher on an "
                       "ascending board), in percent."})


def subscore_field() -> fields.Integer:
    return fields.Integer(metadata={
        "description": "The second column of a board with a `subscore` (equal scores rank "
                       "by it); absent on other boards."})


def standing_fields() -> tuple[fields.Float, fields.Integer, fields.Integer, fields.Float,
                               fields.String]:
    """A player's standing in a list of its standings (on every board, in every period of
    one), as :func:`api.bodies.standing_row` builds it: score, subscore, rank, percentile,
    tier."""
    return (fields.Float(required=True), subscore_field(), fields.Integer(required=True),
            percentile_field(), fields.String(metadata={"description": TIER_TEXT}))


def record_fields() -> tuple[fields.Integer, fields.Integer, fields.Integer, fields.Dict]:
    """The fields of a player's record on a board that keeps records (score boards; on a
    period's board, the period's), after a row's or standing's own; absent on other
    boards: submissions, first_at, last_at, metadata."""
    return (
        fields.Integer(metadata={
            "description": "The player's submissions to the board (in the period, on a "
                           "period's board); only on boards that keep records."}),
        fields.Integer(metadata={
            "description": "When the first of them was made (Unix ms, its entry's time)."}),
        fields.Integer(metadata={"description": "When the last was made (Unix ms)."}),
        fields.Dict(keys=fields.String(), metadata={
            "description": "The JSON object submitted with the score the record holds "
                           "(`metadata` of a score entry); absent when it had none."}),
    )
