"""The worker task: apply one part (a product's entries of a claim) to Redis.

A bridge records each part in the stream's Redis when it reads the entries
(:mod:`tracker.storage.inflight`) and publishes a task naming it. The task
fetches the entries, applies them, and then finishes the part. A part not
finished in time is published again by a bridge: a task lost by the broker or
a worker loses no event, and a second delivery changes nothing (the dedupe
marks, and a finished part is not fetched again).

What can go wrong, and what the task does about it:

- Redis (data or stream) unavailable: the same part is retried (Celery's
  retry) with backoff, for ever. It stays in flight meanwhile; if even the
  retry cannot be published, a bridge publishes it again later.
- A handler raises on some entries (a poison event): the rest of the part is
  applied; the failing entries become a follow-up part, retried with backoff,
  ``TRACKER_HANDLER_RETRIES`` times; then they are dead-lettered
  (``handler_error``, with the exception).
- Anything else fails the whole part (a bug, a script error): it is retried
  the same bounded number of times, then every entry is dead-lettered as
  ``batch_error``. Nothing is finished and dropped silently.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

import redis
from celery import Task, signals

from tasks.analysis import schedule_analysis
from tasks.celery_app import app, products, settings
from tasks.routing import APPLY_PART
from tracker.processing import BatchProcessor, Entry, raw_bytes, tune_gc
from tracker.storage import DeadLetter, DeadLetters, Keys, Store
from tracker.storage.connect import data_client
from tracker.storage.inflight import InFlight, Part

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


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _tune_gc(**_: Any) -> None:
    tune_gc()


@cache
def processor() -> BatchProcessor:
    """One per worker process, made lazily so each forked child has its own connections."""
    s = settings()
    client = data_client(s.redis_url, health_check_interval=30, socket_timeout=30)
    keys = Keys(s.key_prefix)
    return BatchProcessor(products(), Store(client, keys, s.dedupe_ttl), DeadLetters(client, keys))


@cache
def inflight() -> InFlight:
    """The parts in flight, in the event stream's Redis."""
    s = settings()
    client = redis.Redis.from_url(s.stream_url, health_check_interval=30, socket_timeout=30)
    return InFlight.of(client, s)


def retry_delay(attempt: int) -> int:
    """Seconds before retry number ``attempt`` (1, 2, …) of failing entries: 1, 2, 4 … s.

    Capped below ``TRACKER_CLAIM_IDLE_MS``, so that the retry comes before a
    bridge would publish the part again. Whole seconds: Celery's delayed
    delivery on RabbitMQ quorum queues has no finer grain.
    """
    cap = min(RETRY_DELAY_CAP, settings().claim_idle_ms / 3000)
    return max(1, round(min(cap, 2.0 ** (attempt - 1))))


def outage_delay(retries: int) -> int:
    """Seconds before trying a part again during a Redis outage: 1, 2, 4 … 30 s, jittered."""
    return max(1, math.ceil(min(OUTAGE_DELAY_CAP, 2.0 ** retries) * random.uniform(0.5, 1.0)))


def dead_letter_batch(product_id: str, source: str, entries: Sequence[Entry],
                      error: str) -> None:
    letters = [DeadLetter(source, entry_id, "batch_error", error, product_id, raw_bytes(raw))
               for entry_id, raw in entries]
    processor().dead_letters.add(letters)


def publish_part(part: Part, source: str, countdown: float = 0) -> None:
    """Send the task of one part; the router picks its product's queue."""
    apply_part.apply_async(
        # a short repr for Flower and logs
        argsrepr="()", kwargsrepr=f"{{part={str(part)!r}}}",
        kwargs={"product_id": part.product_id, "source": source, "part": str(part)},
        countdown=countdown or None,
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                      "interval_max": 1},
    )


def follow_up(part: Part, count: int, source: str, entries: Sequence[Entry]) -> None:
    """Finish ``part`` and hand ``entries`` on to a retry part, published after a delay.

    The retry part is recorded before this one is forgotten (one atomic step),
    so if its task is lost, a bridge publishes it again."""
    retry = part.retry(entries[0][0])
    delay = retry_delay(retry.attempt)
    due_ms = delay * 1000 + settings().claim_idle_ms
    recorded = inflight().hand_on(part, count, (retry, entries), due_in_ms=due_ms)
    if recorded is not None:
        try:
            publish_part(recorded, source, countdown=delay)
        except Exception as exc:  # it stays in flight: a bridge publishes it when due
            log.warning("could not publish retry part %s (%s); a bridge will", recorded, exc)


@app.task(bind=True, name=APPLY_PART)
def apply_part(self: Task, product_id: str, source: str, part: str) -> dict[str, object]:
    """Apply the entries of ``part`` (see :class:`tracker.storage.inflight.Part`)."""
    limit = settings().handler_retries
    this = Part.parse(part)
    attempt = this.attempt
    try:
        batch = inflight().entries(this)
        if batch is None:  # finished by an earlier delivery of this task
            return {"finished_before": True}
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
                follow_up(this, len(batch), source, batch)
                return {"retrying": len(batch)}
            log.exception("batch of %d %s entries failed %d times; dead-lettering it",
                          len(batch), product_id, attempt + 1)
            dead_letter_batch(product_id, source, batch, f"{error} (failed {attempt + 1} times)")
            inflight().finish(this, len(batch))
            return {"dead_lettered": {"batch_error": len(batch)}}
        if report.failed:
            # Only the failing entries go round again, as a part of their own; the
            # rest of this part is applied, and this part is finished.
            log.warning("%d %s entries failed in a handler; retry %d of %d", len(report.failed),
                        product_id, attempt + 1, limit)
            follow_up(this, len(batch), source, [(f.entry_id, f.raw) for f in report.failed])
        else:
            inflight().finish(this, len(batch))
        if report.applied:
            schedule_analysis(product_id)
    except TRANSIENT_ERRORS as exc:
        # Redis is away: the same part again later, without limit (it stays in flight).
        delay = outage_delay(self.request.retries)
        log.warning("Redis unavailable (%s: %s); part %s again in %d s",
                    type(exc).__name__, exc, part, delay)
        raise self.retry(countdown=delay, max_retries=None) from exc
    return report.as_dict()
