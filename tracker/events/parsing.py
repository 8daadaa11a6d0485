"""From a raw stream entry to an :class:`~tracker.events.model.Event`: decode, pick the
schema of its type, validate, and say why when it is not valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from tracker.events.model import (
    ENTRY_ID_RE,
    EVENT_TYPES,
    GAMEPLAY_EVENTS,
    Event,
    InvalidEvent,
    RawFields,
)
from tracker.events.schemas import (
    BareSelectWeaponSchema,
    GameOverSchema,
    GameRemovedSchema,
    PlayerDisconnectSchema,
    ProgressionSchema,
    SelectFighterSchema,
    SelectWeaponSchema,
    SetReadySchema,
    StateChangeSchema,
    TrackingLogSchema,
)
from tracker.events.scores import JoinSchema, ScoreSchema

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
