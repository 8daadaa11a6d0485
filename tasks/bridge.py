"""The bridge: Redis stream (consumer group) → one Celery task per product batch.

The bridge never acknowledges an entry: the worker does (``XACK``), once the
entry is applied or dead-lettered. Until then the entry stays pending in the
group, whatever happens to the task that carries it: a bridge that dies before
publishing, a broker that loses a message, a worker killed mid-batch. A live
bridge claims entries that stayed pending for ``claim_idle_ms`` (XAUTOCLAIM)
and publishes them again. Publishing twice is harmless: applying a batch is
idempotent.

Batching: a task costs the worker a fixed overhead (broker round trips,
Celery bookkeeping, one script call), so the bridge holds each product's
entries until it has ``batch_size`` of them or the oldest has waited
``linger_ms``. Under load tasks are full; at a trickle an event waits at most
``linger_ms`` longer. Held entries are already pending in the group, so a
bridge that dies holding them loses nothing: another claims them.

Flow control: a bridge reads new entries only while fewer than
``max_pending`` entries of the group are pending (read but not yet applied),
so a backlog waits in the stream, not in the broker, and ``claim_idle_ms``
only needs to cover the processing of that many entries.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from tracker.processing import group_by_product
from tracker.settings import Settings

log = logging.getLogger(__name__)

StreamEntry = tuple[str, Mapping[bytes, bytes]]
Publisher = Callable[[str, str, Sequence[StreamEntry]], None]

# While max_pending entries await the workers, the bridge checks this often
# whether they caught up. Much longer and the workers run dry before it reads
# again: it once waited block_ms (a second) and left them idle.
PENDING_POLL_S = 0.02


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random.randrange(16**4):04x}"


class Backoff:
    """Exponential backoff with jitter, for outages of Redis or the broker."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first, self.cap, self.current = first, cap, first

    def next(self) -> float:
        """The next pause in seconds: about twice the last one, up to ``cap``."""
        delay = self.current * random.uniform(0.5, 1.0)
        self.current = min(self.cap, self.current * 2)
        return delay

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.next())

    def reset(self) -> None:
        self.current = self.first


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Bridge:
    def __init__(
        self, settings: Settings, stream: redis.Redis, publish: Publisher,
        consumer: str | None = None, stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.publish = publish
        self.key = settings.stream_key
        self.group = settings.stream_group
        self.consumer = consumer or default_consumer_name()
        self.stop = stop or threading.Event()
        self.read_count = max(1, settings.batch_size) * 2
        self._next_claim = 0.0
        # entries read but not yet published, per product, and when the oldest arrived
        self._held: dict[str, list[StreamEntry]] = {}
        self._held_since: dict[str, float] = {}
        self.forwarded = 0  # entries handed to the broker (claimed ones included)

    # --- setup --------------------------------------------------------------

    def ensure_group(self) -> None:
        try:
            self.stream.xgroup_create(self.key, self.group, id=self.settings.stream_start,
                                      mkstream=True)
            log.info("created consumer group %s on %s at %s", self.group, self.key,
                     self.settings.stream_start)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- main loop ------------------------------------------------------------

    def run(self) -> None:
        log.info("bridge %s reading %s (group %s)", self.consumer, self.key, self.group)
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                self.step()
                backoff.reset()
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):  # stream or group lost (e.g. Redis restarted empty)
                    log.warning("consumer group missing, creating it again")
                    self._retrying(self.ensure_group)
                else:
                    log.error("stream error: %s", exc)
                    backoff.wait(self.stop)
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
                log.warning("stream Redis unavailable (%s); retrying", exc)
                backoff.wait(self.stop)
        self.release_held()
        log.info("bridge %s stopped after forwarding %d entries", self.consumer, self.forwarded)

    def step(self) -> int:
        """Claim abandoned entries when due, then read new ones (blocking); count forwarded."""
        done = 0
        summary: Any = self.stream.xpending(self.key, self.group)
        if time.monotonic() >= self._next_claim:
            if self.may_have_abandoned(summary):
                done += self.claim_abandoned()
            self._next_claim = time.monotonic() + self.settings.claim_idle_ms / 2000
        if int(summary["pending"]) >= self.settings.max_pending:
            done += self.flush(force=True)  # held entries count as pending: let workers have them
            self.stop.wait(PENDING_POLL_S)  # the workers are behind: look again shortly
            return done
        reply: Any = self.stream.xreadgroup(self.group, self.consumer, {self.key: ">"},
                                            count=self.read_count, block=self._block_ms())
        for _stream, entries in reply or ():
            self.hold([(_id(i), f) for i, f in entries])
        return done + self.flush()

    def _block_ms(self) -> int:
        """How long XREADGROUP may wait: until the first held batch is due, if any.

        Never 0, which would mean "block for ever" to Redis."""
        if not self._held_since:
            return self.settings.block_ms
        due = min(self._held_since.values()) + self.settings.linger_ms / 1000
        return max(1, min(self.settings.block_ms, round((due - time.monotonic()) * 1000)))

    def hold(self, entries: Sequence[StreamEntry]) -> None:
        """Add entries to their product's batch in the making."""
        now = time.monotonic()
        for product_id, items in group_by_product(entries).items():
            self._held.setdefault(product_id, []).extend(items)
            self._held_since.setdefault(product_id, now)

    def flush(self, force: bool = False) -> int:
        """Publish every full batch, and what lingered ``linger_ms`` (everything if ``force``)."""
        done = 0
        now = time.monotonic()
        for product_id in list(self._held):
            items = self._held[product_id]
            due = force or now - self._held_since[product_id] >= self.settings.linger_ms / 1000
            cut = len(items) if due else len(items) - len(items) % self.settings.batch_size
            if not cut:
                continue
            sent = self.dispatch_product(product_id, items[:cut])
            done += sent
            if sent < cut:  # stopping: what was not sent stays held (and pending)
                self._held[product_id] = items[sent:]
                return done
            if cut == len(items):
                del self._held[product_id], self._held_since[product_id]
            else:  # the rest keeps its age: it may hold entries as old as the batch sent
                self._held[product_id] = items[cut:]
        return done

    def release_held(self) -> None:
        """On a clean stop, try once to publish what is held, so that it need not wait
        ``claim_idle_ms`` for another bridge to claim it."""
        for product_id, items in self._held.items():
            for start in range(0, len(items), self.settings.batch_size):
                try:
                    self._publish(product_id, items[start:start + self.settings.batch_size])
                except Exception as exc:  # still pending: another bridge will claim them
                    log.warning("could not publish %d held %s entries on stop (%s)",
                                len(items) - start, product_id, exc)
                    break
                self.forwarded += min(self.settings.batch_size, len(items) - start)
        self._held.clear()
        self._held_since.clear()

    def may_have_abandoned(self, summary: Any) -> bool:
        """Could any entry have been pending for ``claim_idle_ms``?

        An entry is delivered after it was written, so it cannot have been
        pending longer than its ID's age. If even the oldest pending entry is
        younger than that, skip XAUTOCLAIM: scanning a long pending list
        blocks Redis for tens of milliseconds (bench/README.md).
        """
        if not summary["pending"]:
            return False
        oldest_ms = int(_id(summary["min"]).split("-", 1)[0])
        return time.time() * 1000 - oldest_ms >= self.settings.claim_idle_ms

    def claim_abandoned(self) -> int:
        """Publish again what stayed pending for ``claim_idle_ms``: entries of a dead bridge,
        of a task the broker lost, of a worker that died."""
        done, cursor = 0, "0-0"
        while not self.stop.is_set():
            reply: Any = self.stream.xautoclaim(self.key, self.group, self.consumer,
                                           min_idle_time=self.settings.claim_idle_ms,
                                           start_id=cursor, count=self.read_count)
            cursor = _id(reply[0])
            entries = [(_id(i), f) for i, f in reply[1] if f is not None]
            deleted = [_id(i) for i in (reply[2] if len(reply) > 2 else ())]
            if deleted:  # trimmed from the stream while pending: nothing left to forward
                self.stream.xack(self.key, self.group, *deleted)
            if entries:
                log.info("claimed %d entries pending for over %d ms; publishing them again",
                         len(entries), self.settings.claim_idle_ms)
                done += self.dispatch(entries)
            if cursor == "0-0":
                break
        return done

    def dispatch(self, entries: Sequence[StreamEntry]) -> int:
        """Publish per-product batches now; the entries stay pending until a worker applied
        them."""
        done = 0
        for product_id, items in group_by_product(entries).items():
            sent = self.dispatch_product(product_id, items)
            done += sent
            if sent < len(items):
                break
        return done

    def dispatch_product(self, product_id: str, items: Sequence[StreamEntry]) -> int:
        """Publish one product's entries in tasks of ``batch_size``; how many were sent
        (fewer only when the bridge is stopping)."""
        done = 0
        for start in range(0, len(items), self.settings.batch_size):
            batch = items[start:start + self.settings.batch_size]
            if not self._retrying(self._publish, product_id, batch):
                return done  # stopping: the rest stays pending for another bridge
            done += len(batch)
            self.forwarded += len(batch)
        return done

    def _publish(self, product_id: str, batch: Sequence[StreamEntry]) -> None:
        self.publish(product_id, self.key, batch)

    def _retrying(self, action: Callable[..., Any], *args: Any) -> bool:
        """Run ``action`` until it succeeds (True) or the bridge is stopping (False)."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                action(*args)
                return True
            except Exception as exc:  # broker or Redis down: keep the entries, try again
                delay = backoff.next()
                log.warning("%s failed (%s: %s); retrying in %.1f s", action.__name__,
                            type(exc).__name__, exc, delay)
                self.stop.wait(delay)
        return False


def celery_publisher() -> Publisher:
    """Publish through Celery: the router picks the product's queue."""
    from tasks.worker import apply_batch

    def publish(product_id: str, source: str, entries: Sequence[StreamEntry]) -> None:
        apply_batch.apply_async(
            # a short repr for Flower and logs: Celery would otherwise format all entries
            argsrepr="()", kwargsrepr=f"{{product_id={product_id!r}, entries={len(entries)}}}",
            kwargs={"product_id": product_id, "source": source,
                    "entries": [[entry_id, fields] for entry_id, fields in entries]},
            # Entries repeat their keys, game ids and player ids: zlib shrinks a
            # batch of the bench's traffic 17x, which costs less than the broker's
            # base64, JSON and copies of the full body (bench: 20.0k -> 22.4k
            # events/s, 86 -> 78 µs CPU per event)
            compression="zlib",
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                          "interval_max": 1},
        )

    return publish
