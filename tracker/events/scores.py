"""Entries a game or service writes for itself rather than Varcade's server: a submitted
score (with its metadata, operator and subscore) and a join to a tournament's board."""

from __future__ import annotations

import json
import math
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from tracker.events.model import (
    BOARD_NAME_RE,
    MAX_ID_LEN,
    MAX_METADATA_DEPTH,
    MAX_METADATA_LEN,
    MAX_SUBSCORE,
    SCORE_OPERATORS,
    SCORE_RE,
    SUBSCORE_RE,
)
from tracker.events.schemas import EntrySchema, PlayerId, id_field


class ScoreSchema(EntrySchema):
    """A score submitted to one board (not a Varcade event: a game or service that has
    scores of its own publishes them so): ``{"product_id": "race", "type": "score",
    "board": "laps", "user_id": "...", "score": "61.25"}``. ``game_id`` is optional, and
    so is ``metadata``, a JSON object as text (``{"car": "red"}``), and ``operator``, which
    overrides the board's for this submission (Nakama's per-call override), and
    ``subscore``, the second column of a board that ranks by two. The board's
    ``score`` handler decides what the score does (keep the best, the latest, or add it
    up)."""

    game_id = PlayerId(load_default=None, validate=validate.Length(max=MAX_ID_LEN))
    board = fields.String(required=True, validate=validate.Regexp(
        BOARD_NAME_RE, error="Not a board name (1-64 of A-Z a-z 0-9 _ . -)."))
    user_id = id_field()
    score = fields.String(required=True, validate=validate.Regexp(
        SCORE_RE, error="Not a decimal number such as 42, -7 or 61.25 (at most 15 digits "
                        "before the point and 17 after)."))
    # kept with the player's record on the board (the submission that holds its score)
    metadata = fields.String(validate=validate.Length(max=MAX_METADATA_LEN))
    # what this submission does instead of the board's operator (a correction: "latest")
    operator = fields.String(validate=validate.OneOf(SCORE_OPERATORS))
    # the second column of a board that ranks by two (tracker.subscore): an integer
    subscore = fields.String(validate=validate.Regexp(SUBSCORE_RE, error=(
        "Not a subscore: an integer from 0 to 4294967295, in decimal digits.")))

    @validates_schema
    def _metadata_is_an_object(self, data: dict[str, Any], **_: Any) -> None:
        if "metadata" in data:
            check_metadata(data["metadata"])

    @validates_schema
    def _subscore_fits(self, data: dict[str, Any], **_: Any) -> None:
        if int(data.get("subscore", 0)) > MAX_SUBSCORE:
            raise ValidationError(f"A subscore is at most {MAX_SUBSCORE}.", "subscore")

    @validates_schema
    def _a_decrement_is_not_negative(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("operator") == "decr" and data.get("score", "").startswith("-"):
            raise ValidationError("A decrement takes a score off: it is not negative.",
                                  "score")


class JoinSchema(EntrySchema):
    """A player joins a tournament's board that takes only the scores of those who joined
    (``join_required``, Nakama's ``JoinTournament``): ``{"product_id": "arcade", "type":
    "join", "board": "cup", "user_id": "..."}``; ``game_id`` is optional."""

    game_id = PlayerId(load_default=None, validate=validate.Length(max=MAX_ID_LEN))
    board = fields.String(required=True, validate=validate.Regexp(
        BOARD_NAME_RE, error="Not a board name (1-64 of A-Z a-z 0-9 _ . -)."))
    user_id = id_field()


def check_metadata(text: str) -> None:
    """ValidationError unless ``text`` is a JSON object that every JSON reader reads the
    same: no NaN or infinite numbers, no lone surrogates, at most MAX_METADATA_DEPTH deep."""
    def finite(number: str) -> float:
        value = float(number)
        if not math.isfinite(value):
            raise ValueError(f"number {number} is out of range")
        return value

    def constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(text, parse_float=finite, parse_constant=constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"Not JSON: {exc}.", "metadata") from None
    if not isinstance(value, dict):
        raise ValidationError("Not a JSON object ({...}).", "metadata")
    level: list[Any] = [value]
    depth = 1
    while level:
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, dict | list)]
        depth += bool(level)
        if depth > MAX_METADATA_DEPTH:
            raise ValidationError(f"Nested deeper than {MAX_METADATA_DEPTH} levels.", "metadata")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("A string in it is not valid Unicode (a lone surrogate).",
                              "metadata") from None
