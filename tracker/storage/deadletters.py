"""The dead-letter stream: rejected entries with their reason and original fields.

One stream for all products (``<prefix>:{deadletter}:stream``). Each entry has
``reason``, ``detail``, ``source``, ``entry_id``, ``product_id`` and every
original field, byte for byte, as ``orig.<name>``, so an entry can be replayed
exactly once the cause is fixed. Adding is idempotent per (source, entry id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import redis

from tracker.storage.keys import Keys
from tracker.text import as_text

ORIGINAL_PREFIX = b"orig."

_ADD = """
local n = 0
for _, item in ipairs(cmsgpack.unpack(ARGV[1])) do
  if redis.call('SADD', KEYS[2], item[1]) == 1 then
    redis.call('XADD', KEYS[1], '*', unpack(item[2]))
    n = n + 1
  end
end
return n
"""


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


@dataclass(frozen=True)
class DeadLetter:
    source: str
    entry_id: str
    reason: str
    detail: str
    product_id: str
    fields: Mapping[bytes, bytes]  # the original entry, as written by the producer
    id: str = ""  # the dead-letter stream's own entry id, once stored

    @property
    def seen_member(self) -> str:
        """Its member in the dedupe set of dead letters."""
        return f"{self.source}/{self.entry_id}"

    def to_stream_fields(self) -> list[bytes]:
        flat = [
            b"reason", self.reason.encode(), b"detail", self.detail.encode("utf-8", "replace"),
            b"source", self.source.encode(), b"entry_id", self.entry_id.encode(),
            b"product_id", self.product_id.encode("utf-8", "replace"),
        ]
        for name, value in self.fields.items():
            flat += [ORIGINAL_PREFIX + _as_bytes(name), _as_bytes(value)]
        return flat

    @classmethod
    def from_stream(cls, stream_id: bytes | str, raw: Mapping[bytes, bytes]) -> DeadLetter:
        def text(name: bytes) -> str:
            return raw.get(name, b"").decode("utf-8", "replace")

        original = {
            k[len(ORIGINAL_PREFIX):]: v for k, v in raw.items() if k.startswith(ORIGINAL_PREFIX)
        }
        return cls(
            source=text(b"source"), entry_id=text(b"entry_id"), reason=text(b"reason"),
            detail=text(b"detail"), product_id=text(b"product_id"), fields=original,
            id=as_text(stream_id),
        )


class DeadLetters:
    def __init__(self, client: redis.Redis, keys: Keys | None = None):
        self.client = client
        self.keys = keys or Keys()
        self._add = client.register_script(_ADD)

    def add(self, letters: Sequence[DeadLetter]) -> int:
        """Store rejected entries; one already stored for the same entry is skipped."""
        if not letters:
            return 0
        payload = msgpack.packb(
            [[d.seen_member, d.to_stream_fields()] for d in letters],
            use_bin_type=False,  # Redis 7.0 cmsgpack has no bin type
        )
        keys = [self.keys.deadletter_stream, self.keys.deadletter_seen]
        return int(self._add(keys=keys, args=[payload]))

    def count(self) -> int:
        return int(self.client.xlen(self.keys.deadletter_stream))

    def list(self, count: int = 100, after: str = "-") -> list[DeadLetter]:
        start = after if after == "-" else f"({after}"
        rows: Any = self.client.xrange(self.keys.deadletter_stream, start, "+", count=count)
        return [DeadLetter.from_stream(sid, raw) for sid, raw in rows]

    def scan(self, page: int = 500) -> Iterator[DeadLetter]:
        """Every dead letter, oldest first, read page by page."""
        after = "-"
        while True:
            letters = self.list(page, after)
            yield from letters
            if len(letters) < page:
                return
            after = letters[-1].id

    def get(self, letter_id: str) -> DeadLetter | None:
        """The letter with this dead-letter stream ID, if it exists."""
        rows: Any = self.client.xrange(self.keys.deadletter_stream, letter_id, letter_id)
        return DeadLetter.from_stream(*rows[0]) if rows else None

    def remove(self, letters: Sequence[DeadLetter]) -> int:
        """Delete letters and their dedupe members (atomically); returns how many existed.

        Once removed, the same entry is dead-lettered again if it is rejected again.
        """
        if not letters:
            return 0
        pipe = self.client.pipeline(transaction=True)  # one hash tag: fine on a cluster too
        pipe.xdel(self.keys.deadletter_stream, *[d.id for d in letters])
        pipe.srem(self.keys.deadletter_seen, *[d.seen_member for d in letters])
        deleted, _ = pipe.execute()
        return int(deleted)
