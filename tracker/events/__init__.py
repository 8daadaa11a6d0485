"""Varcade stream entries: decoding, validation (marshmallow) and the Event model.

A game server writes flat string pairs with ``XADD game_event_stream * ...``;
redis-py hands them over as bytes. :func:`parse_entry` turns one entry into an
:class:`Event` or raises :class:`InvalidEvent` with a machine-readable reason.
The stream entry ID is the event's identity and its only timestamp.

- :mod:`~tracker.events.model`: the fields' limits and patterns, :class:`Event`,
  :class:`InvalidEvent`;
- :mod:`~tracker.events.schemas`: the schemas of record of Varcade's entries and
  tracking-log lines, and the field types they all build on;
- :mod:`~tracker.events.scores`: the entries a game writes for itself (scores, joins);
- :mod:`~tracker.events.parsing`: from a raw entry to an :class:`Event`.

Everything is imported from here; the modules only keep each part short.
"""

from tracker.events.model import (
    BOARD_EVENTS,
    BOARD_NAME_RE,
    ENTRY_ID_RE,
    EVENT_TYPES,
    GAMEPLAY_EVENTS,
    MAX_ID_LEN,
    MAX_LOG_LINE_LEN,
    MAX_METADATA_DEPTH,
    MAX_METADATA_LEN,
    MAX_SUBSCORE,
    MAX_VALUE_LEN,
    PLACEHOLDER_IDS,
    PRODUCT_ID_RE,
    SCORE_OPERATORS,
    SCORE_RE,
    SUBSCORE_RE,
    Event,
    InvalidEvent,
    RawFields,
    TextFields,
    product_key,
)
from tracker.events.parsing import (
    BARE_SELECT_WEAPON,
    SCHEMAS,
    decode_fields,
    parse_entry,
    select_schema,
)
from tracker.events.schemas import (
    BareSelectWeaponSchema,
    EntrySchema,
    GameOverSchema,
    GameplaySchema,
    GameRemovedSchema,
    PlayerDisconnectSchema,
    PlayerId,
    ProgressionSchema,
    SelectFighterSchema,
    SelectWeaponSchema,
    SetReadySchema,
    StateChangeSchema,
    TrackingLogSchema,
)
from tracker.events.scores import JoinSchema, ScoreSchema, check_metadata

__all__ = [
    "BARE_SELECT_WEAPON", "BOARD_EVENTS", "BOARD_NAME_RE", "ENTRY_ID_RE", "EVENT_TYPES",
    "GAMEPLAY_EVENTS", "MAX_ID_LEN", "MAX_LOG_LINE_LEN", "MAX_METADATA_DEPTH",
    "MAX_METADATA_LEN", "MAX_SUBSCORE", "MAX_VALUE_LEN", "PLACEHOLDER_IDS", "PRODUCT_ID_RE",
    "SCHEMAS", "SCORE_OPERATORS", "SCORE_RE", "SUBSCORE_RE", "BareSelectWeaponSchema",
    "EntrySchema", "Event", "GameOverSchema", "GameRemovedSchema", "GameplaySchema",
    "InvalidEvent", "JoinSchema", "PlayerDisconnectSchema", "PlayerId", "ProgressionSchema",
    "RawFields", "ScoreSchema", "SelectFighterSchema", "SelectWeaponSchema", "SetReadySchema",
    "StateChangeSchema", "TextFields", "TrackingLogSchema", "check_metadata",
    "decode_fields", "parse_entry", "product_key", "select_schema",
]
