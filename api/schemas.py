"""Response schemas (marshmallow): the shapes the routes promise.

Kept as schemas so a later OpenAPI document can be generated from them.
"""

from __future__ import annotations

from marshmallow import Schema, fields


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


top_entries = TopEntrySchema(many=True)
legacy_stats = LegacyStatsSchema()
