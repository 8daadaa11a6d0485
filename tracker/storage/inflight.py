"""Entries read from the event stream and not yet applied: the parts in flight.

A bridge *claims* the next entries of the stream: it reads them after the
consumer group's position (``XRANGE``), splits them by product into *parts*,
and commits, in one atomic script, the parts as in flight together with the
group's new position, provided the group has not moved meanwhile. A worker
fetches its part by name, applies it, then *finishes* it. A part that is not
finished in time (its bridge died before publishing it, the broker lost its
task, its worker died) is published again by a live bridge. Applying is
idempotent, so publishing twice costs time, never a double count.

Why not the consumer group's own pending list: it costs Redis a record, an
``XACK`` and a propagated ``XCLAIM`` per entry, and the bridge a copy of every
entry into the broker. A part costs one hash field per product and read (tens
of entries at a light load, up to ``batch_size`` under a backlog), and its
task carries only the part's name. Why the splitting is done here
and not in a script: Redis is the one resource every step shares, and
turning a read into Lua tables and packing them there cost it 1.7 µs per
entry; the bridge's own core does it for less.

Keys (next to the stream; the stream's Redis must be standalone, as Varcade's is):

    <prefix>:inflight:<stream>:<group>:parts    hash: part -> msgpack entries
    <prefix>:inflight:<stream>:<group>:due      sorted set: part -> ms it is due again
    <prefix>:inflight:<stream>:<group>:entries  string: entries in flight
    <prefix>:inflight:<stream>:<group>:reader   string: the bridge reading now (a lease)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import msgpack
import redis

from tracker.events import RawFields, TextFields, product_key
from tracker.settings import Settings
from tracker.text import as_text

Entry = tuple[str, RawFields]
PRODUCT_ID = b"product_id"
# How long a bridge may read alone (renewed at each read, released at each
# commit): longer than a blocking wait for new entries, short enough that a
# dead bridge's successor waits little.
LEASE_MS = 5000


@cache
def _source(name: str) -> str:
    """A script's text, read once per process (an InFlight may be made per status line)."""
    return resources.files("tracker.storage").joinpath(name).read_text()


def _script(client: redis.Redis, name: str, names: bool = False) -> Any:
    """A script; with ``names``, after inflight_names.lua (for one that records parts)."""
    return client.register_script((_source("inflight_names.lua") if names else "")
                                  + _source(name))


@dataclass(frozen=True, slots=True)
class Part:
    """One product's entries of a claim: ``<first entry id>/<attempt>/<product>``.

    ``attempt`` counts earlier failed attempts at these entries: a retry is a
    new part (of the entries that failed), with the next attempt number.
    ``copy`` tells apart a part read again by a replay while the first read of the
    same first entry is still in flight (``<first entry id>~<copy>/...``).
    """

    first_id: str
    attempt: int
    product_id: str
    copy: int = 0

    def __str__(self) -> str:
        first = f"{self.first_id}~{self.copy}" if self.copy else self.first_id
        return f"{first}/{self.attempt}/{self.product_id}"

    @classmethod
    def parse(cls, name: str | bytes) -> Part:
        first, attempt, product_id = as_text(name).split("/", 2)
        first_id, _, copy = first.partition("~")
        return cls(first_id, int(attempt), product_id, int(copy or 0))

    def retry(self, first_id: str) -> Part:
        """The follow-up part of entries from this one, starting at ``first_id``."""
        return Part(first_id, self.attempt + 1, self.product_id)


@dataclass(frozen=True)
class Claim:
    """What one claim read: ``status`` is ``ok``, ``empty`` (nothing new), ``busy``
    (too many entries in flight: nothing was read) or ``wait`` (another bridge
    holds the reader lease)."""

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
    # _pairs inlined: a call per entry was a sixth of unpacking a part
    return [(entry_id, TextFields(zip(it, it, strict=False)))
            for entry_id, flat in text for it in (iter(flat),)]


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
        self.parts_key, self.due_key, self.entries_key, self.reader_key = (
            f"{base}:parts", f"{base}:due", f"{base}:entries", f"{base}:reader")
        self._begin = _script(client, "inflight_begin.lua")
        self._commit = _script(client, "inflight_commit.lua", names=True)
        self._adopt = _script(client, "inflight_adopt.lua", names=True)
        self._release = client.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end")
        # XRANGE replies as hiredis builds them (lists of bytes): redis-py's own
        # parsing into a dict per entry cost the bridge more than all the rest
        self._raw = redis.Redis(connection_pool=client.connection_pool)
        self._raw.set_response_callback("XRANGE", lambda reply, **_: reply)
        self._finish = _script(client, "inflight_finish.lua", names=True)
        self._stale = _script(client, "inflight_stale.lua")

    @classmethod
    def of(cls, client: redis.Redis, settings: Settings) -> InFlight:
        """The parts in flight of the configured stream and group; ``client`` is the
        stream's Redis."""
        return cls(client, settings.stream_key, settings.stream_group, settings.key_prefix)

    def claim(self, consumer: str, count: int, part_size: int, max_in_flight: int,
              idle_ms: int) -> Claim:
        """Read up to ``count`` new entries into parts of at most ``part_size``.

        ``wait``: another bridge is reading; ``busy``: ``max_in_flight`` entries are
        in flight, nothing was read; ``empty``: nothing new."""
        for _ in range(3):  # the group moved between read and commit: read again
            began: Any = self._begin(
                keys=[self.stream_key, self.entries_key, self.reader_key],
                args=[self.group, consumer, LEASE_MS, max_in_flight])
            status = as_text(began[0])
            if status != "ok":
                return Claim(status)
            position = as_text(began[1])
            entries_read = "" if began[2] in (b"", "") else str(int(began[2]))  # "": unknown
            rows: Any = self._raw.execute_command(  # type: ignore[no-untyped-call]
                "XRANGE", self.stream_key, f"({position}", "+", "COUNT", count)
            if not rows:
                return Claim("empty", position)
            parts = split_by_product(rows, part_size)
            last = as_text(rows[-1][0])
            args: list[Any] = [self.group, consumer, position, last, len(rows), entries_read,
                               idle_ms]
            for part, part_rows in parts:
                args += [str(part), msgpack.packb(part_rows, use_bin_type=False)]
            done: Any = self._commit(keys=[self.stream_key, self.parts_key, self.due_key,
                                           self.entries_key, self.reader_key], args=args)
            if done:
                made = [(part, len(part_rows)) for part, part_rows in parts]
                for i in range(1, len(done), 2):  # recorded as copies (a replay)
                    at = int(done[i]) - 1
                    made[at] = (Part.parse(done[i + 1]), made[at][1])
                return Claim("ok", last, len(rows), tuple(made))
        return Claim("wait")

    def adopt_pending(self, consumer: str, part_size: int) -> int:
        """Turn what the group holds as pending (left by a bridge of an earlier version)
        into parts in flight, due at once; returns how many entries were adopted."""
        total = 0
        while True:
            n = int(self._adopt(keys=[self.stream_key, self.parts_key, self.due_key,
                                      self.entries_key],
                                args=[self.group, consumer, part_size]))
            if not n:
                return total
            total += n

    def release(self, consumer: str) -> None:
        """Give up the reader lease if ``consumer`` holds it."""
        self._release(keys=[self.reader_key], args=[consumer])

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

    def finish(self, part: Part, count: int) -> bool:
        """Forget ``part`` (of ``count`` entries); False if it was finished already."""
        return bool(self._finish(keys=[self.parts_key, self.due_key, self.entries_key],
                                 args=[str(part), count]))

    def hand_on(self, part: Part, count: int,
                follow_up: tuple[Part, Sequence[tuple[str, RawFields]]],
                due_in_ms: int) -> Part | None:
        """Forget ``part`` (of ``count`` entries) and record ``follow_up`` in the same step,
        due in ``due_in_ms``: the follow-up as recorded (a copy of it if a part of its
        name is in flight), or None if ``part`` was finished already (then no follow-up
        is recorded: the first finish made it)."""
        nxt, entries = follow_up
        name: Any = self._finish(
            keys=[self.parts_key, self.due_key, self.entries_key],
            args=[str(part), count, str(nxt), pack_entries(entries), len(entries),
                  due_in_ms])
        return None if name == 0 else Part.parse(name)

    def stale(self, idle_ms: int, limit: int = 100) -> list[Part]:
        """Parts that are due, each pushed back by ``idle_ms`` as it is returned."""
        names: Any = self._stale(keys=[self.due_key], args=[idle_ms, limit])
        return [Part.parse(n) for n in names]

    def count(self) -> int:
        """Entries in flight: read by a bridge, not yet applied or dead-lettered."""
        return int(self.client.get(self.entries_key) or 0)

    def part_names(self) -> list[str]:
        return sorted(as_text(n) for n in self.client.hkeys(self.parts_key))


def split_by_product(rows: Sequence[list[Any]],
                     part_size: int) -> list[tuple[Part, list[list[Any]]]]:
    """XRANGE rows ``[id, [field, value, ...]]`` (bytes) in parts of at most ``part_size``
    per product, in stream order, each named by its first entry.

    The product is the entry's last ``product_id`` field (as a dict of its fields
    keeps it), as :func:`~tracker.events.product_key` names it: invalid ids are
    grouped as "", and the worker dead-letters those entries."""
    names: dict[bytes, str] = {}  # raw product id -> its name, or ""
    current: dict[str, list[list[Any]]] = {}  # product -> its part being filled
    parts: list[tuple[Part, list[list[Any]]]] = []
    for row in rows:
        fields = row[1]
        if fields and fields[0] == PRODUCT_ID and fields.count(PRODUCT_ID) == 1:
            raw = fields[1]  # Varcade writes it first, once: the usual case
        else:
            raw = b""
            for i in range(0, len(fields) - 1, 2):
                if fields[i] == PRODUCT_ID:
                    raw = fields[i + 1]
        product = names.get(raw)
        if product is None:
            product = names[raw] = product_key(raw)
        part = current.get(product)
        if part is None or len(part) >= part_size:
            part = current[product] = []
            parts.append((Part(as_text(row[0]), 0, product), part))
        part.append(row)
    return parts


def _now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000
