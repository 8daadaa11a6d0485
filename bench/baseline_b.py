"""Baseline B: one process, a plain redis-py loop, the same updates, no Celery, no idempotency.

Reads the stream with ``XREAD`` (1,000 entries a call, no consumer group),
runs each entry through the product's own handlers (no marshmallow: the
fields are only decoded), and sends the updates in one pipeline per read:
``ZINCRBY`` (wins), ``ZADD NX`` (loser on the board), ``HINCRBY`` (stats)
and Elo computed in Python from ratings cached in this single process and
written with ``ZADD`` (safe only because nothing else writes them). No
dedupe marks, so a replay would count twice. It gets the workers' garbage
collector settings (:func:`tracker.processing.tune_gc`: the heap frozen), which
spare it the same cycle searches.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import redis

from bench.workload import light_event
from tracker.handlers import EloResult, EnsureOnBoard, IncrScore, IncrStat
from tracker.handlers.leaderboards import elo_delta
from tracker.processing import tune_gc
from tracker.products import Products
from tracker.storage.keys import Keys


def run(stream: redis.Redis, data: redis.Redis, key: str, products: Products, keys: Keys,
        total: int, read_count: int = 1000) -> tuple[float, int]:
    """Apply ``total`` stream entries; return (wall time when done, entries read)."""
    before = gc.get_threshold()
    tune_gc()
    try:
        return _run(stream, data, key, products, keys, total, read_count)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _run(stream: redis.Redis, data: redis.Redis, key: str, products: Products, keys: Keys,
         total: int, read_count: int) -> tuple[float, int]:
    ratings: dict[str, dict[str, float]] = {}
    last = "0-0"
    done = 0
    while done < total:
        reply: Any = stream.xread({key: last}, count=read_count, block=1000)
        if not reply:
            continue
        entries = reply[0][1]
        pipe = data.pipeline(transaction=False)
        for entry_id, raw in entries:
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            product = products.get(fields.get("product_id", ""))
            if product is None:
                continue
            event = light_event(entry_id.decode(), fields)
            for handler in product.handlers:
                for op in handler.ops(event):
                    if isinstance(op, IncrScore):
                        pipe.zincrby(keys.board(product.id, op.board), op.delta, op.member)
                    elif isinstance(op, EnsureOnBoard):
                        pipe.zadd(keys.board(product.id, op.board), {op.member: op.score},
                                  nx=True)
                    elif isinstance(op, IncrStat):
                        pipe.hincrby(keys.stats(product.id, op.user_id), op.stat, op.delta)
                    elif isinstance(op, EloResult):
                        board = keys.board(product.id, op.board)
                        r = ratings.setdefault(board, {})
                        rw, rl = r.get(op.winner, op.start), r.get(op.loser, op.start)
                        d = elo_delta(rw, rl, op.k)
                        r[op.winner], r[op.loser] = rw + d, rl - d
                        pipe.zadd(board, {op.winner: rw + d, op.loser: rl - d})
        pipe.execute()
        last = entries[-1][0]
        done += len(entries)
    return time.time(), done
