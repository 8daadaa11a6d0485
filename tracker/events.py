"""Varcade stream entries: decoding, validation (marshmallow) and the Event model.

A game server writes flat string pairs with ``XADD game_event_stream * ...``;
redis-py hands them over as bytes. :func:`parse_entry` turns one entry into an
:class:`Event` or raises :class:`InvalidEvent` with a machine-readable reason.
The stream entry ID is the event's identity and its only timestamp.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

RawFields = Mapping[bytes, bytes] | Mapping[str, str]


class TextFields(dict[str, str]):
    """An entry's fields whose names and values were all decoded as UTF-8 already (by
    msgpack, in C): validation uses them as they are, without decoding each one."""

    __slots__ = ()

# \Z, not $: "$" also matches before a trailing newline ("exrps\n" is no product id).
PRODUCT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
ENTRY_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}\Z", re.ASCII)
# Board names end up in Redis keys and URLs: no ':' (the board's tie structures are
# "<board>:scores" and "<board>:counts"), no '/', no braces.
BOARD_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# A submitted score: a decimal number, exactly as a JavaScript or Python number prints
# (no exponent); at most 15 integer digits, so that every integer is exact in a double.
SCORE_RE = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,17})?\Z")
SCORE_OPERATORS = ("best", "latest", "sum", "decr")  # what a submission does to its board
# A score's metadata: a JSON object (the car driven, a replay id) of at most this many
# characters and levels, kept with the record it came with.
MAX_METADATA_LEN = 2048
MAX_METADATA_DEPTH = 8
# a score event's subscore: a whole number below 2^32 (tracker.subscore packs it)
SUBSCORE_RE = re.compile(r"^(0|[1-9][0-9]{0,9})\Z")
MAX_SUBSCORE = 2**32 - 1


def product_key(raw: bytes) -> str:
    """The product an entry's raw ``product_id`` routes it to: the id itself, or "" when it
    is no valid id (then validation dead-letters the entry with the precise reason)."""
    text = raw.decode("ascii", "replace")
    return text if PRODUCT_ID_RE.match(text) else ""


# Values the Varcade producer writes when an id is missing.
PLACEHOLDER_IDS = frozenset({"", "null", "undefined", "none", "None"})
MAX_ID_LEN = 128
MAX_VALUE_LEN = 256

EVENT_TYPES = ("state_change", "gameplay", "game_over", "player_disconnect", "game_removed",
               "score", "join", "tracking_log")
# the types of entry that name a board of their own (kept by that board's score handler)
BOARD_EVENTS = frozenset({"score", "join"})
GAMEPLAY_EVENTS = ("select_fighter", "set_ready", "select_weapon", "progression")


class InvalidEvent(Exception):
    """An entry that cannot be processed; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event. ``data`` holds every decoded field of the entry."""

    entry_id: str
    product_id: str
    type: str
    game_id: str | None
    event_name: str | None
    data: Mapping[str, str] = field(repr=False)

    @property
    def time_ms(self) -> int:
        """Event time: the millisecond part of the stream entry ID."""
        return int(self.entry_id.split("-", 1)[0])

    def __getitem__(self, name: str) -> str:
        return self.data[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.data.get(name, default)


# --- field types -------------------------------------------------------------


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


def _id(**kwargs: Any) -> PlayerId:
    return PlayerId(required=True, validate=validate.Length(max=MAX_ID_LEN), **kwargs)


def _value(min_len: int = 0, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=min_len, max=MAX_VALUE_LEN), **kwargs)


# --- schemas, one per (type, event_name) --------------------------------------


class EntrySchema(Schema):
    """Fields present on every entry the game server writes."""

    class Meta:
        unknown = EXCLUDE  # future fields are kept in Event.data but not validated

    product_id = fields.String(
        required=True,
        validate=validate.Regexp(PRODUCT_ID_RE, error="Not a valid product id."),
    )
    game_id = _id()
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))


class StateChangeSchema(EntrySchema):
    new_state = fields.String(
        required=True, validate=validate.OneOf(("creator_joined", "all_players_joined"))
    )


class GameplaySchema(EntrySchema):
    event_name = fields.String(required=True, validate=validate.OneOf(GAMEPLAY_EVENTS))


class SelectFighterSchema(GameplaySchema):
    event_data = _value(min_len=1, required=True)
    user_id = _id()


class SetReadySchema(GameplaySchema):
    event_data = _value(load_default="")
    user_id = _id()


class SelectWeaponSchema(GameplaySchema):
    # Any string: the server copies the client's index unchecked. Handlers
    # decide what a non-standard value means (see tracker.handlers.stats).
    event_data = _value(required=True)
    user_id = _id()


class BareSelectWeaponSchema(SelectWeaponSchema):
    """The original tracker's fixtures omit ``type`` and ``game_id``; accept them."""

    game_id = PlayerId(load_default=None, validate=validate.Length(max=MAX_ID_LEN))
    type = fields.String(load_default="gameplay", validate=validate.Equal("gameplay"))


class ProgressionSchema(GameplaySchema):
    progress_event = fields.String(
        required=True, validate=validate.OneOf(("round_started", "round_finished"))
    )
    p1_id = _id()
    p2_id = _id()
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
    winner_id = _id()
    loser_id = _id()

    @validates_schema
    def _no_self_play(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("winner_id") is not None and data.get("winner_id") == data.get("loser_id"):
            raise ValidationError("winner_id equals loser_id (self-play).", "loser_id")


class PlayerDisconnectSchema(EntrySchema):
    player_id = _id()


class GameRemovedSchema(EntrySchema):
    pass


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
    user_id = _id()
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
    user_id = _id()


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


MAX_LOG_LINE_LEN = 1 << 20  # characters: a problem_check with its whole state fits


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


SCHEMAS: dict[tuple[str, str | None], Schema] = {
    ("state_change", None): StateChangeSchema(),
    ("gameplay", "select_fighter"): SelectFighterSchema(),
    ("gameplay", "set_ready"): SetReadySchema(),
    ("gameplay", "select_weapon"): SelectWeaponSchema(),
    ("gameplay", "progression"): ProgressionSchema(),
    ("game_over", None): GameOverSchema(),
    ("player_disconnect", None): PlayerDisconnectSchema(),
    ("game_removed", None): GameRemovedSchema(),
    ("score", None): ScoreSchema(),
    ("join", None): JoinSchema(),
    ("tracking_log", None): TrackingLogSchema(),
}
BARE_SELECT_WEAPON = BareSelectWeaponSchema()


# --- parsing ------------------------------------------------------------------


def decode_fields(raw: RawFields) -> dict[str, str]:
    """Decode a redis-py entry (bytes or str pairs) strictly as UTF-8."""
    out: dict[str, str] = {}
    # bytes.decode, not key.decode: a bytes subclass decodes as its bytes, exactly as
    # in the fast path (tracker.fastpath), whatever its own decode() does.
    for key, value in raw.items():
        try:
            k = bytes.decode(key, "utf-8") if isinstance(key, bytes) else str(key)
            v = bytes.decode(value, "utf-8") if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError as exc:
            raise InvalidEvent("not_utf8", f"field {key!r} is not valid UTF-8") from exc
        out[k] = v
    return out


def select_schema(data: Mapping[str, str]) -> Schema:
    kind = data.get("type")
    if kind is None and data.get("event_name") == "select_weapon":
        return BARE_SELECT_WEAPON
    if kind is None:
        raise InvalidEvent("missing_type", "the entry has no 'type' field")
    if kind not in EVENT_TYPES:
        raise InvalidEvent("unknown_type", f"type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    if kind != "gameplay":
        return SCHEMAS[(kind, None)]
    name = data.get("event_name")
    if name not in GAMEPLAY_EVENTS:
        raise InvalidEvent("unknown_event_name", f"gameplay event_name {name!r} is not known")
    return SCHEMAS[("gameplay", name)]


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in sorted(messages.items(), key=lambda kv: str(kv[0])):
            name = "entry" if key == "_schema" else str(key)
            out += _flatten(value, f"{prefix}{name}: " if not prefix else f"{prefix}{name}.")
        return out
    if isinstance(messages, list):
        return [m for item in messages for m in _flatten(item, prefix)]
    return [f"{prefix}{messages}"]


def parse_entry(entry_id: str, raw: RawFields) -> Event:
    """Validate one stream entry; raise :class:`InvalidEvent` if it is not a valid event."""
    if not ENTRY_ID_RE.match(entry_id):
        raise InvalidEvent("bad_entry_id", f"{entry_id!r} is not a stream entry ID")
    data = decode_fields(raw)
    schema = select_schema(data)
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise InvalidEvent("invalid_fields", "; ".join(_flatten(exc.messages))) from exc
    return Event(
        entry_id=entry_id,
        product_id=loaded["product_id"],
        type=loaded["type"],
        game_id=loaded.get("game_id"),
        event_name=loaded.get("event_name"),
        data=data,
    )
