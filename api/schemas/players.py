"""Player statistics, and the two Varcade routes' query and bodies."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields


class LegacyTopTenQuerySchema(Schema):
    """The Varcade route ignores parameters it does not know."""

    class Meta:
        unknown = EXCLUDE

    board = fields.String(metadata={
        "description": "Another board of the product (default: wins, else its first)."})


class TopEntrySchema(Schema):
    """One leaderboard row: ``{"user_id": str, "score": number}``."""

    user_id = fields.String(required=True)
    score = fields.Float(required=True)
    subscore = fields.Integer(metadata={
        "description": "The second column, on a board with a `subscore`."})


class LegacyStatsSchema(Schema):
    """A player's stats on the Varcade-compatible route: counter name -> decimal STRING.

    Strings, not numbers, because the Varcade portal hides falsy values: ``"0"``
    must be shown, the number ``0`` would not be.
    """

    stats = fields.Dict(keys=fields.String(), values=fields.String())


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


legacy_stats = LegacyStatsSchema()
