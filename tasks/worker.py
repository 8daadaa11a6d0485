"""The worker task: apply one batch of a product's stream entries to Redis."""

from __future__ import annotations

from functools import cache
from typing import Any

import redis

from tasks.celery_app import app, products, settings
from tasks.routing import APPLY_BATCH
from tracker.processing import BatchProcessor
from tracker.storage import DeadLetters, Keys, Store

# Errors that say "Redis is not there right now": retry with backoff, never ack.
TRANSIENT_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)


@cache
def processor() -> BatchProcessor:
    """One per worker process, made lazily so each forked child has its own connections."""
    s = settings()
    client = redis.Redis.from_url(s.redis_url, health_check_interval=30, socket_timeout=30)
    keys = Keys(s.key_prefix)
    return BatchProcessor(products(), Store(client, keys, s.dedupe_ttl), DeadLetters(client, keys))


@app.task(
    name=APPLY_BATCH,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=None,  # a batch is never dropped for an outage; it waits for Redis
)
def apply_batch(product_id: str, source: str, entries: list[list[Any]]) -> dict[str, object]:
    """``entries`` are ``[entry_id, {field: value}]`` pairs as read from the stream (bytes)."""
    report = processor().process(product_id, source, [(str(e[0]), e[1]) for e in entries])
    return report.as_dict()
