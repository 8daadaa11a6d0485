"""The marshmallow schemas of record for Varcade's entries and tracking-log lines, and the
field types every entry schema builds on (:mod:`tracker.events.scores` adds the
submissions a game makes itself)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from tracker.events.model import (
    EVENT_TYPES,
    GAMEPLAY_EVENTS,
    MAX_ID_LEN,
    MAX_LOG_LINE_LEN,
    MAX_VALUE_LEN,
    PLACEHOLDER_IDS,
    PRODUCT_ID_RE,
)


class PlayerId(fields.String):
    """An opaque player id; empty, ``null`` and ``undefined`` mean missing."""

    default_error_messages = {"placeholder": "Missing id (got a placeholder {input!r})."}

    @staticmethod
    def is_placeholder(text: str) -> bool:
        """The one placeholder rule, shared with the fast path (:mod:`tracker.fastpath`)."""
        return text.strip() in PLACEHOLDER_IDS

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if self.is_placeholder(text):
            raise self.make_error("placeholder", input=text)
        return text


def id_field(**kwargs: Any) -> PlayerId:
    return PlayerId(required=True, validate=validate.Length(max=MAX_ID_LEN), **kwargs)


def value_field(min_len: int = 0, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=min_len, max=MAX_VALUE_LEN), **kwargs)


class EntrySchema(Schema):
    """Fields present on every entry the game server writes."""

    class Meta:
        unknown = EXCLUDE  # future fields are kept in Event.data but not validated

    product_id = fields.String(
        required=True,
        validate=validate.Regexp(PRODUCT_ID_RE, error="Not a valid product id."),
    )
    game_id = id_field()
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))


class StateChangeSchema(EntrySchema):
    new_state = fields.String(
        required=True, validate=validate.OneOf(("creator_joined", "all_players_joined"))
    )


class GameplaySchema(EntrySchema):
    event_name = fields.String(required=True, validate=validate.OneOf(GAMEPLAY_EVENTS))


class SelectFighterSchema(GameplaySchema):
    event_data = value_field(min_len=1, required=True)
    user_id = id_field()


class SetReadySchema(GameplaySchema):
    event_data = value_field(load_default="")
    user_id = id_field()


class SelectWeaponSchema(GameplaySchema):
    # Any string: the server copies the client's index unchecked. Handlers
    # decide what a non-standard value means (see tracker.handlers.stats).
    event_data = value_field(required=True)
    user_id = id_field()


class BareSelectWeaponSchema(SelectWeaponSchema):
    """The original tracker's fixtures omit ``type`` and ``game_id``; accept them."""

    game_id = PlayerId(load_default=None, validate=validate.Length(max=MAX_ID_LEN))
    type = fields.String(load_default="gameplay", validate=validate.Equal("gameplay"))


class ProgressionSchema(GameplaySchema):
    progress_event = fields.String(
        required=True, validate=validate.OneOf(("round_started", "round_finished"))
    )
    p1_id = id_field()
    p2_id = id_field()
    round_winner_id = PlayerId(validate=validate.Length(max=MAX_ID_LEN))
    round_loser_id = PlayerId(validate=validate.Length(max=MAX_ID_LEN))

    @validates_schema
    def _round_result(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("progress_event") != "round_finished":
            return
        winner, loser = data.get("round_winner_id"), data.get("round_loser_id")
        if winner is None or loser is None:
            raise ValidationError("round_finished needs round_winner_id and round_loser_id.")
        if winner == loser:
            raise ValidationError("round_winner_id equals round_loser_id.")


class GameOverSchema(EntrySchema):
    winner_id = id_field()
    loser_id = id_field()

    @validates_schema
    def _no_self_play(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("winner_id") is not None and data.get("winner_id") == data.get("loser_id"):
            raise ValidationError("winner_id equals loser_id (self-play).", "loser_id")


class PlayerDisconnectSchema(EntrySchema):
    player_id = id_field()


class GameRemovedSchema(EntrySchema):
    pass




class TrackingLogSchema(EntrySchema):
    """One line of an Open edX tracking log, as it was in the file (``tracker edx-ingest``
    writes them): ``{"product_id": "edx", "type": "tracking_log", "line": "..."}``."""

    game_id = PlayerId(load_default=None, validate=validate.Length(max=MAX_ID_LEN))
    line = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LOG_LINE_LEN))

    @validates_schema
    def _an_event(self, data: dict[str, Any], **_: Any) -> None:
        from tracker.edx.logs import parse_entry_line  # the edX reader loads only when needed

        if "line" not in data:
            return
        found = parse_entry_line(data["line"])
        if isinstance(found, str):
            raise ValidationError(f"not a tracking-log event ({found}).", "line")
        try:
            found.course_id.encode("utf-8")  # it names a Redis key
        except UnicodeEncodeError:
            raise ValidationError("the course id is not valid Unicode.", "line") from None
