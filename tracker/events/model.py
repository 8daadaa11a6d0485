"""What every entry is checked against and what a valid one becomes: the limits and
patterns of its fields, :class:`Event`, and :class:`InvalidEvent` with its reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

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
MAX_LOG_LINE_LEN = 1 << 20  # characters: a problem_check with its whole state fits


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
