"""The producer client for Python services: publish events to the event stream in
Varcade's format, checked at the source and written exactly once.

    from tracker.producer import Producer

    producer = Producer.from_url("redis://127.0.0.1:6379/1")   # TRACKER_STREAM_URL
    producer.game_over("exrps", game_id, winner_id=winner, loser_id=loser)
    producer.publish({"product_id": "exrps", "game_id": game_id, "type": "gameplay",
                      "event_name": "select_weapon", "event_data": "0", "user_id": winner})
    producer.score("race", "laps", user_id, 61.25)                # a game's own score
    producer.publish_many(events)                                # one round trip per 500

What it adds to a bare ``XADD`` (the Varcade server's fire-and-forget):

- **Checked at the source.** Every event is validated with the workers' own
  schemas (:mod:`tracker.events`) before it is sent: a bad event raises
  :class:`~tracker.events.InvalidEvent` with the reason the workers would have
  dead-lettered it for, and nothing is written.
- **Exactly once, with retries.** Each call carries an idempotency key (yours, or
  a random one) recorded with the ``XADD`` in one script. A call that fails on
  the way back (a dropped connection, a timeout) is sent again, up to
  ``retries`` times with backoff, and the key makes a repeat return the first
  entry's ID instead of writing it twice. Keys live ``key_ttl_ms`` (2 minutes):
  about 100 bytes each meanwhile, so a busy service publishes in batches
  (``publish_many``, one key per batch).

The entries are exactly what a game server writes (flat string fields, an
auto ID), so the bridge, the Varcade matchmaker and any other reader see no
difference. The marks sit beside the stream, in its hash slot.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import redis

from tracker.events import InvalidEvent, parse_entry

DEFAULT_STREAM = "game_event_stream"
CHUNK = 500  # events per script call in publish_many

# KEYS[1] the stream, KEYS[2] the call's mark; ARGV[1] the mark's TTL (ms), then per
# event its field count and its field/value pairs. Returns the entry IDs: those of the
# first call with this mark if there was one.
_PUBLISH = """
local done = redis.call('LRANGE', KEYS[2], 0, -1)
if #done > 0 then return done end
local ids, i = {}, 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + 2 * n))
  i = i + 1 + 2 * n
end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return ids
"""

Event = Mapping[str, str]


class Producer:
    """Publishes events to one stream. Thread-safe as its redis-py client is."""

    def __init__(self, client: redis.Redis, stream: str = DEFAULT_STREAM, *,
                 validate: bool = True, retries: int = 5, backoff_s: float = 0.1,
                 key_ttl_ms: int = 120_000) -> None:
        if "{" in stream or "}" in stream:
            raise ValueError("the stream key must not contain braces (its marks use it as "
                             "their hash tag)")
        self.client = client
        self.stream = stream
        self.validate = validate
        self.retries = retries
        self.backoff_s = backoff_s
        self.key_ttl_ms = key_ttl_ms
        self._publish = client.register_script(_PUBLISH)

    @classmethod
    def from_url(cls, url: str, stream: str = DEFAULT_STREAM, **options: Any) -> Producer:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, stream, **options)

    def publish(self, event: Event, *, key: str | None = None) -> str:
        """Write one event (its fields in this order); its entry ID. ``key``: the call's
        idempotency key, for a caller that retries on its own (default: a new one)."""
        (entry_id,) = self.publish_many([event], key=key)
        return entry_id

    def publish_many(self, events: Iterable[Event], *, key: str | None = None) -> list[str]:
        """Write events in order, each chunk of ``CHUNK`` atomically; their entry IDs.
        Every event is checked before any is written."""
        batch = [dict(e) for e in events]
        if self.validate:
            for event in batch:
                check(event)
        base = key or uuid.uuid4().hex
        ids: list[str] = []
        for n, start in enumerate(range(0, len(batch), CHUNK)):
            ids += self._send(batch[start:start + CHUNK], f"{base}:{n}")
        return ids

    def game_over(self, product_id: str, game_id: str, *, winner_id: str, loser_id: str,
                  key: str | None = None) -> str:
        """A decided match, as the Varcade server writes it."""
        return self.publish({"product_id": product_id, "game_id": game_id,
                             "type": "game_over", "winner_id": winner_id,
                             "loser_id": loser_id}, key=key)

    def gameplay(self, product_id: str, game_id: str, event_name: str, *,
                 key: str | None = None, **fields: str) -> str:
        """A gameplay event (``select_weapon``, ``progression``…) with its own fields."""
        return self.publish({"product_id": product_id, "game_id": game_id,
                             "type": "gameplay", "event_name": event_name, **fields}, key=key)

    def score(self, product_id: str, board: str, user_id: str, score: int | float | str, *,
              game_id: str | None = None, metadata: Mapping[str, Any] | None = None,
              operator: str | None = None, subscore: int | None = None,
              key: str | None = None) -> str:
        """A score for ``board`` (its ``score`` handler keeps the best, the latest or the
        sum). A float is written as its shortest exact decimal, without an exponent:
        61.25 as "61.25", 1e-7 as "0.0000001". Anything else is written as ``str()``
        gives it, and checked as every event is. ``metadata`` (a dict that JSON can
        write: the car driven, a replay id) is kept with the player's record;
        ``operator`` ("best", "latest", "sum" or "decr") is what this submission does
        instead of the board's operator (a correction: "latest" sets the score);
        ``subscore`` (an integer in [0, 2^32)) is the second column of a board that ranks
        equal scores by one."""
        text = format(Decimal(repr(score)), "f") if isinstance(score, float) else str(score)
        event = {"product_id": product_id, "type": "score", "board": board,
                 "user_id": user_id, "score": text}
        if game_id is not None:
            event["game_id"] = game_id
        if operator is not None:
            event["operator"] = operator
        if subscore is not None:
            event["subscore"] = str(subscore)
        if metadata is not None:
            try:
                event["metadata"] = json.dumps(metadata, ensure_ascii=False,
                                               separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise InvalidEvent("invalid_fields", f"metadata: {exc}") from None
        return self.publish(event, key=key)

    def join(self, product_id: str, board: str, user_id: str, *,
             game_id: str | None = None, key: str | None = None) -> str:
        """``user_id`` joins ``board``, a tournament's board that takes only the scores
        of players who joined it (``join_required``); joining again changes nothing."""
        event = {"product_id": product_id, "type": "join", "board": board, "user_id": user_id}
        if game_id is not None:
            event["game_id"] = game_id
        return self.publish(event, key=key)

    def _send(self, events: Sequence[dict[str, str]], key: str) -> list[str]:
        args: list[str | int] = [self.key_ttl_ms]
        for event in events:
            args.append(len(event))
            for name, value in event.items():
                args += [name, value]
        mark = f"{{{self.stream}}}:published:{key}"
        attempt = 0
        while True:
            try:
                reply: Any = self._publish(keys=[self.stream, mark], args=args)
                return [i.decode() if isinstance(i, bytes) else str(i) for i in reply]
            except (redis.ConnectionError, redis.TimeoutError):
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff_s * 2 ** attempt)
                attempt += 1


def check(event: Mapping[str, str]) -> None:
    """Raise :class:`InvalidEvent` unless the workers would accept ``event``."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in event.items()):
        raise InvalidEvent("invalid_fields", "every field name and value is a string")
    parse_entry("1-0", event)
