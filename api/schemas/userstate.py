"""The user-state routes: block keys asked, and the states and history answered."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from api.schemas.common import MAX_PAGE
from tracker.userstate.keys import block_ref

MAX_BLOCK_KEY = 1024  # characters


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
