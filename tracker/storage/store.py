"""The Redis store: applies batches of handler operations, and answers reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import msgpack
import redis

from tracker.handlers.base import EloResult, EnsureOnBoard, IncrScore, IncrStat, Op
from tracker.storage.keys import Keys


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """One valid event of a batch: its identity, its match (game_over only) and its ops."""

    entry_id: str
    game_id: str  # "" unless the event is a result that must count once per match
    ops: Sequence[Op]


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    duplicate_results: list[str] = field(default_factory=list)  # entry ids


def encode_op(op: Op) -> list[Any]:
    match op:
        case IncrScore(board, member, delta):
            return ["zi", board, member, float(delta)]
        case EnsureOnBoard(board, member, score):
            return ["zn", board, member, float(score)]
        case IncrStat(user_id, stat, delta):
            return ["hi", user_id, stat, int(delta)]
        case EloResult(board, winner, loser, k, start):
            return ["elo", board, winner, loser, float(k), float(start)]
    raise TypeError(f"not a storage operation: {op!r}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class Store:
    """Boards and player stats of every product, in one Redis (or Redis Cluster)."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None, dedupe_ttl: int = 0):
        self.client = client
        self.keys = keys or Keys()
        self.dedupe_ttl = dedupe_ttl
        source = resources.files("tracker.storage").joinpath("apply_batch.lua").read_text()
        self._apply = client.register_script(source)

    # --- writes ---------------------------------------------------------------

    def apply(self, product_id: str, source: str, events: Sequence[PreparedEvent]) -> ApplyResult:
        """Apply a batch in one atomic script; entries already applied change nothing."""
        if not events:
            return ApplyResult()
        payload = msgpack.packb(
            [
                [e.entry_id, Keys.seen_suffix(source, e.entry_id), e.game_id,
                 [encode_op(op) for op in e.ops]]
                for e in events
            ],
            use_bin_type=False,  # Redis 7.0 cmsgpack has no bin type
        )
        reply: Any = self._apply(
            keys=[self.keys.product(product_id)], args=[payload, self.dedupe_ttl]
        )
        applied, duplicates, dup_results = reply
        return ApplyResult(int(applied), int(duplicates), [_text(x) for x in dup_results])

    # --- reads ----------------------------------------------------------------

    def top(self, product_id: str, board: str, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` best entries of a board, best first."""
        rows: Any = self.client.zrange(
            self.keys.board(product_id, board), 0, count - 1, desc=True, withscores=True
        )
        return [(_text(member), float(score)) for member, score in rows]

    def score(self, product_id: str, board: str, user_id: str) -> float | None:
        value = self.client.zscore(self.keys.board(product_id, board), user_id)
        return None if value is None else float(value)

    def player_stats(self, product_id: str, user_id: str) -> dict[str, int]:
        raw = self.client.hgetall(self.keys.stats(product_id, user_id))
        return {_text(k): int(v) for k, v in raw.items()}

    def stats_by_product(self, product_ids: Sequence[str],
                         user_id: str) -> dict[str, dict[str, int]]:
        """The player's counters in each product that has any, in one round trip."""
        found = self._counter_hashes([self.keys.stats(p, user_id) for p in product_ids])
        return {p: counters for p, counters in zip(product_ids, found, strict=True) if counters}

    def counters(self, product_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each product's running totals (``applied``, ``duplicates``), in one round trip."""
        found = self._counter_hashes([self.keys.counters(p) for p in product_ids])
        return dict(zip(product_ids, found, strict=True))

    def _counter_hashes(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """HGETALL of hashes of integers, in one round trip."""
        pipe = self.client.pipeline(transaction=False)  # keys of different slots: no MULTI
        for key in keys:
            pipe.hgetall(key)
        replies: list[Any] = pipe.execute()
        return [{_text(k): int(v) for k, v in raw.items()} for raw in replies]

    def board_size(self, product_id: str, board: str) -> int:
        return int(self.client.zcard(self.keys.board(product_id, board)))
