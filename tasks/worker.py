"""The worker task: apply one batch of a product's stream entries to Redis.

Once an entry is applied (or dead-lettered), the task acknowledges it on the
event stream (``XACK``). Entries not acknowledged stay pending there, and a
bridge publishes them again after ``TRACKER_CLAIM_IDLE_MS``: a task lost by the
broker or a worker loses no event.

What can go wrong, and what the task does about it:

- Redis (data) unavailable: the whole batch is retried (Celery's retry) with
  backoff, for ever. Its entries stay pending on the stream meanwhile; if even
  the retry cannot be published, a bridge publishes them again later.
- A handler raises on some entries (a poison event): the rest of the batch is
  applied; only the failing entries are retried, as a task of their own, with
  backoff, ``TRACKER_HANDLER_RETRIES`` times; then they are dead-lettered
  (``handler_error``, with the exception).
- Anything else fails the whole batch (a bug, a script error): it is retried
  the same bounded number of times, then every entry is dead-lettered as
  ``batch_error``. Nothing is acknowledged and dropped silently.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

import redis
from celery import Task

from tasks.celery_app import app, products, settings
from tasks.routing import APPLY_BATCH
from tracker.processing import BatchProcessor, Entry, raw_bytes
from tracker.storage import DeadLetter, DeadLetters, Keys, Store

log = logging.getLogger(__name__)

# Errors that say "Redis is not there right now": retry with backoff, never ack.
TRANSIENT_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,  # noeviction at maxmemory: wait for room
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
RETRY_DELAY_CAP = 60.0
OUTAGE_DELAY_CAP = 30.0


@cache
def processor() -> BatchProcessor:
    """One per worker process, made lazily so each forked child has its own connections."""
    s = settings()
    client = redis.Redis.from_url(s.redis_url, health_check_interval=30, socket_timeout=30)
    keys = Keys(s.key_prefix)
    return BatchProcessor(products(), Store(client, keys, s.dedupe_ttl), DeadLetters(client, keys))


@cache
def stream() -> redis.Redis:
    """The event stream's Redis, where applied entries are acknowledged."""
    return redis.Redis.from_url(settings().stream_url, health_check_interval=30,
                                socket_timeout=30)


def acknowledge(source: str, entry_ids: Sequence[str]) -> None:
    """XACK entries that are done with (applied, ignored or dead-lettered)."""
    if not entry_ids:
        return
    try:
        stream().xack(source, settings().stream_group, *entry_ids)
    except TRANSIENT_ERRORS:
        raise
    except redis.ResponseError as exc:  # e.g. the group was deleted: nothing left to ack
        log.warning("cannot acknowledge %d entries on %s: %s", len(entry_ids), source, exc)


def hold(source: str, entry_ids: Sequence[str], consumer: str) -> None:
    """Keep bridges from publishing entries again that this worker is still retrying.

    Entries pending for ``TRACKER_CLAIM_IDLE_MS`` are published again by a
    bridge; claiming them (which resets their idle time) says "still in hand".
    Best effort: if it fails, the worst case is a second, harmless, retry chain.
    """
    try:
        stream().xclaim(source, settings().stream_group, consumer, 0, list(entry_ids),
                        justid=True)
    except redis.RedisError as exc:
        log.warning("cannot hold %d entries on %s: %s", len(entry_ids), source, exc)


def retry_delay(attempt: int) -> int:
    """Seconds before retry number ``attempt`` (1, 2, …) of failing entries: 1, 2, 4 … s.

    Capped below ``TRACKER_CLAIM_IDLE_MS``, so that the retry comes before a
    bridge would publish the held entries again. Whole seconds: Celery's
    delayed delivery on RabbitMQ quorum queues has no finer grain.
    """
    cap = min(RETRY_DELAY_CAP, settings().claim_idle_ms / 3000)
    return max(1, round(min(cap, 2.0 ** (attempt - 1))))


def outage_delay(retries: int) -> int:
    """Seconds before trying a batch again during a Redis outage: 1, 2, 4 … 30 s, jittered."""
    return max(1, math.ceil(min(OUTAGE_DELAY_CAP, 2.0 ** retries) * random.uniform(0.5, 1.0)))


def as_entries(entries: Sequence[Sequence[Any]]) -> list[Entry]:
    return [(str(e[0]), e[1]) for e in entries]


def dead_letter_batch(product_id: str, source: str, entries: Sequence[Entry],
                      error: str) -> None:
    letters = [DeadLetter(source, entry_id, "batch_error", error, product_id, raw_bytes(raw))
               for entry_id, raw in entries]
    processor().dead_letters.add(letters)


@app.task(bind=True, name=APPLY_BATCH)
def apply_batch(self: Task, product_id: str, source: str, entries: list[list[Any]],
                attempt: int = 0) -> dict[str, object]:
    """``entries`` are ``[entry_id, {field: value}]`` pairs as read from the stream (bytes).

    ``attempt`` counts earlier failed attempts of these entries (outages do not count).
    """
    limit = settings().handler_retries
    batch = as_entries(entries)
    kwargs = {"product_id": product_id, "source": source, "entries": entries, "attempt": attempt}
    try:
        try:
            report = processor().process(product_id, source, batch,
                                         retry_failures=attempt < limit, attempts=attempt + 1)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt < limit:
                log.warning("batch of %d %s entries failed (%s); retry %d of %d", len(batch),
                            product_id, error, attempt + 1, limit)
                raise self.retry(kwargs={**kwargs, "attempt": attempt + 1},
                                 countdown=retry_delay(attempt + 1), max_retries=None) from exc
            log.exception("batch of %d %s entries failed %d times; dead-lettering it",
                          len(batch), product_id, attempt + 1)
            dead_letter_batch(product_id, source, batch, f"{error} (failed {attempt + 1} times)")
            acknowledge(source, [entry_id for entry_id, _ in batch])
            return {"dead_lettered": {"batch_error": len(batch)}}
        retrying = {f.entry_id for f in report.failed}
        acknowledge(source, [entry_id for entry_id, _ in batch if entry_id not in retrying])
    except TRANSIENT_ERRORS as exc:
        # Redis is away: the same batch again later, without limit (never acked unapplied).
        delay = outage_delay(self.request.retries)
        log.warning("Redis unavailable (%s: %s); batch of %d %s entries again in %d s",
                    type(exc).__name__, exc, len(batch), product_id, delay)
        raise self.retry(kwargs=kwargs, countdown=delay, max_retries=None) from exc
    if report.failed:
        # Only the failing entries go round again, as a task of their own; the
        # rest of this batch is applied and acknowledged, and so is this message.
        log.warning("%d %s entries failed in a handler; retry %d of %d", len(report.failed),
                    product_id, attempt + 1, limit)
        retry = [[f.entry_id, f.raw] for f in report.failed]
        hold(source, [f.entry_id for f in report.failed], f"retrying@{self.request.hostname}")
        raise self.retry(kwargs={**kwargs, "entries": retry, "attempt": attempt + 1},
                         countdown=retry_delay(attempt + 1), max_retries=None)
    return report.as_dict()
