"""Entries read from the event stream and not yet applied: the parts in flight.

A bridge *claims* the next entries of the stream with one script that reads
them through the consumer group (``XREADGROUP … NOACK``) and stores them, split
by product into *parts*, in the stream's Redis. A worker fetches its part by
name, applies it, then *finishes* it. A part that is not finished in time (its
bridge died before publishing it, the broker lost its task, its worker died)
is published again by a live bridge. Applying is idempotent, so publishing
twice costs time, never a double count.

Why not the consumer group's own pending list: it costs Redis a record, an
``XACK`` and a propagated ``XCLAIM`` per entry, and the bridge a copy of every
entry into the broker. A part costs one hash field per few hundred entries,
and its task carries only the part's name.

Keys (next to the stream; the stream's Redis must be standalone, as Varcade's is):

    <prefix>:inflight:<stream>:<group>:parts    hash: part -> msgpack entries
    <prefix>:inflight:<stream>:<group>:due      sorted set: part -> ms it is due again
    <prefix>:inflight:<stream>:<group>:entries  string: entries in flight
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgpack
import redis

from tracker.events import RawFields, TextFields

Entry = tuple[str, RawFields]


def _script(client: redis.Redis, name: str) -> Any:
    return client.register_script(
        resources.files("tracker.storage").joinpath(name).read_text())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Part:
    """One product's entries of a claim: ``<first entry id>/<attempt>/<product>``.

    ``attempt`` counts earlier failed attempts at these entries: a retry is a
    new part (of the entries that failed), with the next attempt number.
    """

    first_id: str
    attempt: int
    product_id: str

    def __str__(self) -> str:
        return f"{self.first_id}/{self.attempt}/{self.product_id}"

    @classmethod
    def parse(cls, name: str | bytes) -> Part:
        first_id, attempt, product_id = _text(name).split("/", 2)
        return cls(first_id, int(attempt), product_id)

    def retry(self, first_id: str) -> Part:
        """The follow-up part of entries from this one, starting at ``first_id``."""
        return Part(first_id, self.attempt + 1, self.product_id)


@dataclass(frozen=True)
class Claim:
    """What one claim read: ``status`` is ``ok``, ``empty`` (nothing new) or ``busy``
    (too many entries in flight: nothing was read)."""

    status: str
    last_id: str = "0-0"  # the last entry read, or the group's position when empty
    read: int = 0
    parts: tuple[tuple[Part, int], ...] = ()  # each part and its number of entries


def pack_entries(entries: Sequence[tuple[str, RawFields]]) -> bytes:
    """Entries as the claim script stores them: ``[[id, [field, value, ...]], ...]``."""
    return msgpack.packb(  # type: ignore[no-any-return]
        [[entry_id, [x for kv in fields.items() for x in kv]] for entry_id, fields in entries],
        use_bin_type=False)  # Redis 7.0's cmsgpack has no bin type


def unpack_entries(blob: bytes) -> list[Entry]:
    """The entries of a part. Fields come as :class:`~tracker.events.TextFields` when all
    of them are UTF-8 (msgpack decodes them in C), else as bytes."""
    try:
        text: list[list[Any]] = msgpack.unpackb(blob, raw=False)
    except UnicodeDecodeError:  # some entry is not UTF-8: the validator says which
        rows: list[list[Any]] = msgpack.unpackb(blob, raw=True)
        return [(entry_id.decode(), _pairs(dict, flat)) for entry_id, flat in rows]
    return [(entry_id, _pairs(TextFields, flat)) for entry_id, flat in text]


def _pairs(kind: Callable[[Iterable[tuple[Any, Any]]], Any], flat: list[Any]) -> Any:
    """``[k1, v1, k2, v2 ...]`` as a mapping (the last of a repeated name wins)."""
    it = iter(flat)
    return kind(zip(it, it, strict=False))  # Redis keeps fields in pairs


class InFlight:
    """The parts in flight of one stream and consumer group."""

    def __init__(self, client: redis.Redis, stream_key: str, group: str,
                 prefix: str = "st") -> None:
        self.client = client
        self.stream_key = stream_key
        self.group = group
        base = f"{prefix}:inflight:{stream_key}:{group}"
        self.parts_key, self.due_key, self.entries_key = (
            f"{base}:parts", f"{base}:due", f"{base}:entries")
        self._claim = _script(client, "inflight_claim.lua")
        self._finish = _script(client, "inflight_finish.lua")
        self._stale = _script(client, "inflight_stale.lua")

    def claim(self, consumer: str, count: int, part_size: int, max_in_flight: int,
              idle_ms: int) -> Claim:
        """Read up to ``count`` new entries into parts of at most ``part_size``."""
        reply: Any = self._claim(
            keys=[self.stream_key, self.parts_key, self.due_key, self.entries_key],
            args=[self.group, consumer, count, part_size, max_in_flight, idle_ms])
        status = _text(reply[0])
        if status != "ok":
            return Claim(status, _text(reply[1]) if len(reply) > 1 else "0-0")
        names, sizes = reply[3::2], reply[4::2]
        parts = tuple((Part.parse(n), int(s)) for n, s in zip(names, sizes, strict=True))
        return Claim("ok", _text(reply[1]), int(reply[2]), parts)

    def entries(self, part: Part) -> list[Entry] | None:
        """The part's entries, or None once it is finished."""
        blob: Any = self.client.hget(self.parts_key, str(part))
        return None if blob is None else unpack_entries(blob)

    def put(self, part: Part, entries: Sequence[tuple[str, RawFields]], idle_ms: int) -> None:
        """Record a part made elsewhere than by a claim (one task per event, tests)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.parts_key, str(part), pack_entries(entries))
        pipe.zadd(self.due_key, {str(part): _now_ms(self.client) + idle_ms})
        pipe.incrby(self.entries_key, len(entries))
        pipe.execute()

    def finish(self, part: Part, count: int,
               follow_up: tuple[Part, Sequence[tuple[str, RawFields]]] | None = None,
               due_in_ms: int = 0) -> bool:
        """Forget ``part`` (of ``count`` entries); with ``follow_up``, record that part in
        the same step, due again in ``due_in_ms``. False if the part was finished already
        (then no follow-up is recorded: the first finish made it)."""
        keys = [self.parts_key, self.due_key, self.entries_key]
        args: list[Any] = [str(part), count]
        if follow_up is not None:
            nxt, entries = follow_up
            args += [str(nxt), pack_entries(entries), len(entries), due_in_ms]
        return bool(self._finish(keys=keys, args=args))

    def stale(self, idle_ms: int, limit: int = 100) -> list[Part]:
        """Parts that are due, each pushed back by ``idle_ms`` as it is returned."""
        names: Any = self._stale(keys=[self.due_key], args=[idle_ms, limit])
        return [Part.parse(n) for n in names]

    def count(self) -> int:
        """Entries in flight: read by a bridge, not yet applied or dead-lettered."""
        return int(self.client.get(self.entries_key) or 0)

    def part_names(self) -> list[str]:
        return sorted(_text(n) for n in self.client.hkeys(self.parts_key))


def _now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000
