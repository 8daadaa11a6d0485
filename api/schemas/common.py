"""Limits shared by the queries, and the bodies of errors and probes."""

from __future__ import annotations

from marshmallow import Schema, fields

MAX_PAGE = 100  # rows per page, per window around a player, players per list


MAX_OFFSET = 1_000_000_000


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
    bucket = fields.Integer()
    joined = fields.Boolean(metadata={
        "description": "On a tournament's board that takes only the scores of players who "
                       "joined it: whether this player joined."})
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "Invalid parameters and why."})
    allowed_methods = fields.List(fields.String())
    max_length = fields.Integer()
    required_scope = fields.String()
    status = fields.String()


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    error = fields.String()
    message = fields.String()
