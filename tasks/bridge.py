"""The bridge: Redis stream (consumer group) → one Celery task per product part.

Each step *claims* the next entries (:mod:`tracker.storage.inflight`): it
reads them after the consumer group's position, splits them by product into
parts of at most ``batch_size`` entries, and commits the parts as in flight
together with the group's new position, atomically. The bridge
then publishes one small task per part, naming it; the worker fetches the
entries, applies them and finishes the part. Nothing is lost whenever a
process dies: a part that is not finished within ``claim_idle_ms`` (its bridge
died before publishing it, the broker lost its task, its worker died) is
published again by a live bridge. Publishing twice is harmless: applying is
idempotent.

Batching: a task costs the worker a fixed overhead (broker round trips,
Celery bookkeeping, one script call), so after a read that found fewer
entries than it asked for, the bridge waits ``linger_ms`` before the next one.
Under load every read is full and nobody waits; at a trickle an event waits
at most ``linger_ms`` longer.

Flow control: a claim reads nothing while ``max_pending`` entries are in
flight, so a backlog waits in the stream, not in the broker, and
``claim_idle_ms`` only needs to cover the processing of that many entries.

Several bridges: one reads at a time (a lease in Redis, taken over when its
holder dies); all of them publish parts that are due again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from tracker.settings import Settings
from tracker.storage.inflight import Claim, InFlight, Part

log = logging.getLogger(__name__)

Publisher = Callable[[Part, str], None]  # (part, source stream)

# While max_pending entries await the workers, the bridge checks this often
# whether they caught up. Much longer and the workers run dry before it reads
# again: it once waited block_ms (a second) and left them idle.
PENDING_POLL_S = 0.02
READ_BATCHES = 4  # entries a read asks for, in TRACKER_BATCH_SIZEs
# How often a bridge looks for parts that are due again (their task was lost).
STALE_CHECK_S = 1.0
STALE_PARTS = 100  # ... and takes at most this many at a time


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
        self.inflight = InFlight.of(stream, settings)
        # Four batches a read: a read splits into parts by product, and bigger parts
        # spread a task's fixed cost thinner (bench: +4 to +9 % over two batches).
        self.read_count = max(1, settings.batch_size) * READ_BATCHES
        self._next_stale = 0.0
        self.forwarded = 0  # entries claimed and handed to the broker
        self.parts = 0  # ... in this many parts
        self.republished = 0  # parts published again

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

    def adopt_pending(self) -> None:
        """Entries an earlier version's bridge read and never acknowledged become parts."""
        adopted = self.inflight.adopt_pending(self.consumer, self.settings.batch_size)
        if adopted:
            log.warning("adopted %d entries that the group held as pending (read by an "
                        "earlier version's bridge); they are published now", adopted)

    def run(self) -> None:
        log.info("bridge %s reading %s (group %s)", self.consumer, self.key, self.group)
        backoff = Backoff()
        adopted = False
        while not self.stop.is_set():
            try:
                if not adopted:
                    self.adopt_pending()
                    adopted = True
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
        self._release_lease()
        log.info("bridge %s stopped after forwarding %d entries in %d parts "
                 "(%d parts published again)",
                 self.consumer, self.forwarded, self.parts, self.republished)

    def step(self) -> int:
        """Publish parts that are due again, then claim new entries and publish their parts;
        wait when there was little to read. Returns the entries claimed and published."""
        if time.monotonic() >= self._next_stale:
            self.republish_due()
            self._next_stale = time.monotonic() + min(STALE_CHECK_S,
                                                      self.settings.claim_idle_ms / 2000)
        claim = self.inflight.claim(self.consumer, self.read_count, self.settings.batch_size,
                                    self.settings.max_pending, self.settings.claim_idle_ms)
        if claim.status in ("busy", "wait"):  # workers behind, or another bridge reading
            self.stop.wait(PENDING_POLL_S)
            return 0
        done = self.dispatch(claim)
        if claim.read < self.read_count:
            if claim.read == 0:
                self._wait_for_entries(claim.last_id)
            if self.settings.linger_ms > 0:  # let the next read gather a batch
                self.stop.wait(self.settings.linger_ms / 1000)
        return done

    def dispatch(self, claim: Claim) -> int:
        """Publish the claim's parts; a part not published stays in flight (stopping)."""
        done = 0
        for part, size in claim.parts:
            if not self._retrying(self.publish, part, self.key):
                break  # stopping: a live bridge publishes the rest when it is due
            done += size
            self.parts += 1
        self.forwarded += done
        return done

    def _wait_for_entries(self, after_id: str) -> None:
        """Block until the stream has an entry after ``after_id`` (or ``block_ms`` passed).

        A plain XREAD: it reads nothing for the group, it only wakes us."""
        self.stream.xread({self.key: after_id}, count=1, block=self.settings.block_ms)

    def republish_due(self) -> int:
        """Publish again the parts not finished within ``claim_idle_ms``: those of a dead
        bridge, of a task the broker lost, of a worker that died."""
        done = 0
        while not self.stop.is_set():
            parts = self.inflight.stale(self.settings.claim_idle_ms, STALE_PARTS)
            if parts:
                log.info("publishing %d parts again that were not finished within %d ms",
                         len(parts), self.settings.claim_idle_ms)
            for part in parts:
                if not self._retrying(self.publish, part, self.key):
                    return done
                done += 1
                self.republished += 1
            if len(parts) < STALE_PARTS:
                return done
        return done

    def _release_lease(self) -> None:
        """On a clean stop, let another bridge read at once rather than when the lease
        expires."""
        try:
            self.inflight.release(self.consumer)
        except redis.RedisError as exc:
            log.debug("could not release the reader lease: %s", exc)

    def _retrying(self, action: Callable[..., Any], *args: Any) -> bool:
        """Run ``action`` until it succeeds (True) or the bridge is stopping (False)."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                action(*args)
                return True
            except Exception as exc:  # broker or Redis down: keep the part, try again
                delay = backoff.next()
                log.warning("%s failed (%s: %s); retrying in %.1f s",
                            getattr(action, "__name__", "action"), type(exc).__name__, exc, delay)
                self.stop.wait(delay)
        return False


def celery_publisher() -> Publisher:
    """Publish through Celery: the router picks the product's queue."""
    from tasks.worker import publish_part

    return publish_part
