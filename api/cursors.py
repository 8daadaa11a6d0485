"""Opaque keyset cursors: ``base64url(JSON [product, board, score, user_id])``, then
the row's stored number on a board that breaks ties by time, and ``"prev"`` on a
cursor to the previous page: ``[product, board, score, user_id, key or null, "prev"]``.

A next-page cursor names the last row of a page: the next page starts right after
that (score, user) place in board order, wherever the row itself has moved since,
so rows whose score did not change are never skipped nor repeated. A previous-page
cursor names the first row, and its page ends right before that place.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields

from tracker.ranking import Position

MAX_CURSOR = 1024  # characters
PREVIOUS = "prev"  # the last field of a cursor to the previous page
# json.dumps builds a new encoder whenever it is given options; a page builds a cursor
# on every request, so one encoder is kept (same options, same text).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Cursor:
    product_id: str
    board: str
    position: Position
    backward: bool = False  # to the rows before the position (the previous page)

    def encode(self) -> str:
        fields: list[object] = [self.product_id, self.board, self.position.score,
                                self.position.user_id]
        if self.backward:
            fields += [self.position.key, PREVIOUS]
        elif self.position.key is not None:
            fields.append(self.position.key)
        raw = _ENCODER.encode(fields)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor; ValueError when ``text`` is not one we made."""
        if len(text) > MAX_CURSOR:
            raise ValueError("too long")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            value = json.loads(raw)
        except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise ValueError("not a cursor") from exc
        backward = isinstance(value, list) and len(value) == 6 and value[5] == PREVIOUS
        if backward:
            value = value[:4] + ([] if value[4] is None else [value[4]])
        if not (isinstance(value, list) and len(value) in (4, 5)):
            raise ValueError("not a cursor")
        product_id, board, score, user_id, *key = value
        if not (isinstance(product_id, str) and isinstance(board, str)
                and isinstance(user_id, str) and user_id
                and all(_finite(x) for x in (score, *key))):
            raise ValueError("not a cursor")
        return cls(product_id, board,
                   Position(float(score), user_id, float(key[0]) if key else None), backward)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


class CursorField(fields.Field[Cursor]):
    """A query parameter holding a :class:`Cursor` (documented as an opaque string)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metadata = {**self.metadata, "type": "string", "pattern": "^[A-Za-z0-9_-]+$",
                         "maxLength": MAX_CURSOR}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Cursor:
        if not isinstance(value, str):
            raise ValidationError("A cursor is a string.")
        try:
            return Cursor.decode(value)
        except ValueError:
            raise ValidationError("Not a cursor of this API: pass the next_cursor of a "
                                  "page unchanged.") from None

    def _serialize(self, value: Cursor | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else value.encode()
