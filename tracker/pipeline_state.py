"""The pipeline's state, read from Redis: what the API's ``/metrics`` exports and what
``tracker status`` prints.

Workers keep exact per-product totals in the batch script
(:meth:`tracker.storage.Store.counters`); the stream, the parts in flight, the dead
letters, Celery beat's last runs and the reward hooks' groups are in Redis anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from tracker.products import Products
from tracker.rewards import HOOKS_GROUP, has_hooks
from tracker.storage import DeadLetters, Store
from tracker.storage.inflight import InFlight
from tracker.text import as_text


@dataclass(frozen=True)
class ProductTotals:
    applied: int  # stream entries applied, exactly once each
    duplicates: int  # entries delivered again after they were applied, and skipped
    late: int  # entries applied after their period's grace: all-time only
    refused: int  # score submissions and joins refused (limits, rates, or not joined)


@dataclass(frozen=True)
class HookBacklog:
    pending: int  # closed periods' results handed to the hook, not returned yet
    unread: int | None  # results no hook run has read yet (None: Redis cannot tell)


@dataclass(frozen=True)
class StreamState:
    length: int  # entries in the event stream
    in_flight: int  # read by a bridge, not applied yet
    lag: int | None  # entries no bridge has read yet (None: no group yet, or unknown)


@dataclass(frozen=True)
class PipelineState:
    stream: StreamState
    dead_letters: int
    products: dict[str, ProductTotals]
    timelines_changed: dict[str, int]  # of products reading course logs: not analysed yet
    periodic_runs: dict[str, int]  # Celery beat's task -> when it last ran (Unix time)
    reward_hooks: dict[str, HookBacklog]  # of products with reward hooks


def read_state(store: Store, products: Products, inflight: InFlight) -> PipelineState:
    """The pipeline's state; ``inflight``'s client is the stream's Redis. Raises
    redis.RedisError (or OSError) when a Redis does not answer."""
    totals = store.counters(sorted(products))
    return PipelineState(
        stream=stream_state(inflight),
        dead_letters=DeadLetters(store.client, store.keys).count(),
        products={pid: ProductTotals(t.get("applied", 0), t.get("duplicates", 0),
                                     t.get("late", 0), t.get("refused", 0))
                  for pid, t in totals.items()},
        timelines_changed=_timelines(store, products),
        periodic_runs={as_text(task): int(at) for task, at in sorted(
            store.client.hgetall(store.keys.periodic_runs).items())},  # type: ignore[union-attr]
        reward_hooks={pid: _hooks(store, pid) for pid in sorted(products)
                      if has_hooks(products[pid])},
    )


def stream_state(inflight: InFlight) -> StreamState:
    """The event stream's length, backlog and entries in flight (``inflight``'s client is
    the stream's Redis)."""
    client = inflight.client
    info = group_info(client, inflight.stream_key, inflight.group)
    lag = info.get("lag") if info is not None else None
    return StreamState(int(client.xlen(inflight.stream_key)), inflight.count(),
                       None if lag is None else int(lag))


def _timelines(store: Store, products: Products) -> dict[str, int]:
    course_logs = sorted(pid for pid, p in products.items() if p.reads_course_logs)
    pipe = store.client.pipeline(transaction=False)  # one slot per product: no MULTI
    for product in course_logs:
        pipe.hlen(store.keys.timeline_changes(product))
    return {p: int(n) for p, n in zip(course_logs, pipe.execute(), strict=True)}


def _hooks(store: Store, product_id: str) -> HookBacklog:
    client, stream = store.client, store.keys.period_results(product_id)
    info = group_info(client, stream, HOOKS_GROUP)
    unread = info.get("lag") if info else client.xlen(stream)
    return HookBacklog(int(info["pending"]) if info else 0,
                       None if unread is None else int(unread))


def group_info(client: redis.Redis, stream: str, name: str) -> dict[str, Any] | None:
    """``XINFO GROUPS`` of consumer group ``name`` of ``stream``; None when the group, or
    the stream itself (nothing written yet), does not exist."""
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(stream)  # type: ignore[assignment]
    except redis.ResponseError:  # no stream yet
        return None
    return named_group(groups, name)


def named_group(groups: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """Consumer group ``name`` of an ``XINFO GROUPS`` reply (read in a transaction, say)."""
    return next((g for g in groups if as_text(g["name"]) == name), None)
