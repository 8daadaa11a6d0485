"""The Redis store: applies batches of handler operations, and answers reads."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import msgpack
import redis

from tracker.handlers.base import (
    AddToTimeline,
    Attempt,
    Decrement,
    EloResult,
    EnsureOnBoard,
    Glicko2Result,
    IncrScore,
    IncrStat,
    Join,
    KeepBest,
    Op,
    OpenSkillResult,
    RecordGame,
    SetMetadata,
    SetScore,
    Submitted,
    WinStreak,
)
from tracker.order import flip
from tracker.storage.keys import Keys
from tracker.text import as_text
from tracker.tiebreak import event_second, score_of


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """One valid event of a batch: its identity, its match (game_over only) and its ops."""

    entry_id: str
    game_id: str  # "" unless the event is a result that must count once per match
    ops: Sequence[Op]
    late: bool = False  # too late for a closed period: counted as such when applied


@dataclass(frozen=True, slots=True)
class GameRecord:
    """A game in a player's history (:class:`~tracker.handlers.base.RecordGame`)."""

    at_ms: int
    score: float | None  # the player's score on the board after the game
    opponent: str
    result: str  # "W" or "L"


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    duplicate_results: list[str] = field(default_factory=list)  # entry ids


@dataclass(frozen=True)
class Forgotten:
    """What :meth:`Store.forget` removed of one player in one product."""

    boards: int = 0  # boards it was on
    keys: int = 0  # its stats, ratings and histories deleted
    archived: int = 0  # closed periods whose archived standings named it


def encode_op(op: Op) -> list[Any]:
    match op:
        case IncrScore(board, member, delta):
            return ["zi", board, member, float(delta)]
        case EnsureOnBoard(board, member, score):
            return ["zn", board, member, float(score)]
        case KeepBest(board, member, score, metadata):
            best = ["best", board, member, float(score)]
            return best if metadata is None else [*best, metadata]
        case SetScore(board, member, score, metadata):
            latest = ["set", board, member, float(score)]
            return latest if metadata is None else [*latest, metadata]
        case Decrement(board, member, amount, sign):
            return ["decr", board, member, float(amount), int(sign)]
        case SetMetadata(board, member, metadata):
            return ["meta", board, member, metadata]
        case Submitted(board, member, at_ms):
            return ["sub", board, member, 1, at_ms, at_ms]
        case Attempt(board, member, score, mode, limit, at_ms, metadata, capacity, joined,
                     rate, window_ms, follows):
            return ["att", board, member, float(score), mode, int(limit), int(at_ms), metadata,
                    int(capacity), int(joined), int(rate), int(window_ms), int(follows)]
        case Join(board, member, capacity, at_ms):
            return ["join", board, member, int(capacity), int(at_ms)]
        case WinStreak(board, winner, loser):
            return ["streak", board, winner, loser]
        case RecordGame(board, winner, loser, at_ms, keep):
            return ["game", board, winner, loser, int(at_ms), int(keep)]
        case IncrStat(user_id, stat, delta):
            return ["hi", user_id, stat, int(delta)]
        case EloResult(board, winner, loser, k, start):
            return ["elo", board, winner, loser, float(k), float(start)]
        case OpenSkillResult(board, winner, loser, mu, sigma, beta, kappa, tau):
            return ["os", board, winner, loser, float(mu), float(sigma), float(beta),
                    float(kappa), float(tau)]
        case Glicko2Result(board, winner, loser, rating, rd, volatility, tau):
            return ["g2", board, winner, loser, float(rating), float(rd), float(volatility),
                    float(tau)]
        case AddToTimeline(timeline, record, time):
            return ["tl", timeline, record, float(time)]
    raise TypeError(f"not a storage operation: {op!r}")


def sum_batch(source: str, events: Sequence[PreparedEvent],
              timed: Collection[str] = ()) -> list[Any] | None:
    """The batch in the script's "fresh" form: dedupe marks and results to add, and its
    ops summed up (increments per member and stat, rating results in order, then the
    submissions to each member's record, counted).

    ``timed``: boards that break ties by time (:mod:`tracker.tiebreak`). Then each
    summed increment carries the second of its member's latest non-zero increment
    and 1, or if all were zero the second of its first and 0; each ordered op
    carries the second of its own.

    None when summing could change the outcome: an entry or a match twice in the
    batch, or a board that gets both points and ordered ops (a rating or a best reads
    the board).
    Ensuring a member is on a board counts only before the member's first increment
    in the batch, as the events form does it.
    """
    marks: dict[str, list[str]] = {}
    entry_ids: set[str] = set()
    games: list[str] = []
    ensure: dict[tuple[str, str], float] = {}
    incr: dict[tuple[str, str], float] = {}
    stats: dict[tuple[str, str], int] = {}
    ratings: list[list[Any]] = []  # encoded ops applied in order (ratings, bests, timelines)
    point_boards: set[str] = set()
    submitted: dict[tuple[str, str], list[int]] = {}  # (board, member) -> [n, first, last]
    seconds: dict[tuple[str, str], int] = {}  # (board, member) -> t of its latest increment
    changed: set[tuple[str, str]] = set()  # of those, members with a non-zero increment
    t = 0
    for e in events:
        if e.entry_id in entry_ids:
            return None
        entry_ids.add(e.entry_id)
        if timed:
            t = event_second(e.entry_id)
        marks.setdefault(Keys.seen_suffix(source, e.entry_id), []).append(e.entry_id)
        if e.game_id:
            games.append(e.game_id)
        for op in e.ops:  # type(op) is X: exact and cheaper than a match (hot loop)
            if type(op) is IncrStat:
                key = (op.user_id, op.stat)
                stats[key] = stats.get(key, 0) + op.delta
            elif type(op) is IncrScore:
                key = (op.board, op.member)
                incr[key] = incr.get(key, 0.0) + op.delta
                point_boards.add(op.board)
                if timed:  # a zero adds nothing: the time stays, as one event at a time
                    if op.delta:
                        seconds[key] = t
                        changed.add(key)
                    elif key not in seconds:
                        seconds[key] = t
            elif type(op) is EnsureOnBoard:
                key = (op.board, op.member)
                if key not in incr and key not in ensure:
                    ensure[key] = op.score
                point_boards.add(op.board)
            elif type(op) is Submitted:  # counts and times add up in any order
                key = (op.board, op.member)
                if (sub := submitted.get(key)) is None:
                    submitted[key] = [1, op.at_ms, op.at_ms]
                else:
                    sub[0] += 1
                    sub[1], sub[2] = min(sub[1], op.at_ms), max(sub[2], op.at_ms)
            elif timed:
                ratings.append([*encode_op(op), t])
            else:
                ratings.append(encode_op(op))
    rated = {o[1] for o in ratings if o[0] != "tl" and o[0] != "meta"}  # (these read no board)
    # after the ratings: "sub" ops read nothing else (a stamped op ends with a t: any)
    ratings += [["sub", b, m, *sub, *([0] if timed else [])] for (b, m), sub in submitted.items()]
    if len(set(games)) < len(games) or point_boards & rated:
        return None
    if timed:
        summed = [[b, m, float(v), seconds[b, m], int((b, m) in changed)]
                  for (b, m), v in incr.items()]
    else:
        summed = [[b, m, float(v)] for (b, m), v in incr.items()]
    return [
        list(marks.items()), games,
        [[b, m, float(v)] for (b, m), v in ensure.items()], summed,
        [[u, st, int(v)] for (u, st), v in stats.items()],
        ratings, len(events), sum(1 for e in events if e.late),
    ]


def _pack(value: Any) -> bytes:
    # Redis 7.0's cmsgpack has no bin type
    return msgpack.packb(value, use_bin_type=False)  # type: ignore[no-any-return]


class Store:
    """Boards and player stats of every product, in one Redis (or Redis Cluster)."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None, dedupe_ttl: int = 0):
        self.client = client
        self.keys = keys or Keys()
        self.dedupe_ttl = dedupe_ttl
        source = resources.files("tracker.storage").joinpath("apply_batch.lua").read_text()
        self._apply = client.register_script(source)
        forget = resources.files("tracker.storage").joinpath("forget.lua").read_text()
        self._forget = client.register_script(forget)

    # --- writes ---------------------------------------------------------------

    def apply(self, product_id: str, source: str, events: Sequence[PreparedEvent], *,
              summed: bool = True, expires: Mapping[str, int] | None = None,
              buckets: Mapping[str, tuple[int, Iterable[str]]] | None = None,
              earliest: Collection[str] = ()) -> ApplyResult:
        """Apply a batch in one atomic script; entries already applied change nothing.

        With ``summed``, the batch goes summed up (:func:`sum_batch`) when it can,
        which is cheaper to send and to apply; if any of its entries or results
        was applied before, the script refuses it whole and it goes event by event.
        ``expires`` names boards (period boards) that Redis drops at a Unix time in
        ms, set in the same step as the writes. ``buckets`` names boards (period boards)
        split into buckets (:mod:`tracker.periods`): the players per bucket, and the
        members the batch writes there in event order (their buckets are assigned in
        that order, whichever batch form goes). ``earliest`` names boards that break
        ties by time (:mod:`tracker.tiebreak`), their period and bucket boards included.
        """
        if not events:
            return ApplyResult()
        keys = [self.keys.product(product_id)]
        expiring = _pack([[b, int(at)] for b, at in expires.items()]) if expires else ""
        bucketed = _pack([[b, int(n), list(members)] for b, (n, members) in buckets.items()]
                         ) if buckets else ""
        timed = _pack(sorted(earliest)) if earliest else ""
        batch = sum_batch(source, events, earliest) if summed else None
        if batch is not None:
            reply: Any = self._apply(keys=keys, args=[_pack(batch), self.dedupe_ttl, "fresh",
                                                      expiring, bucketed, timed])
            if len(reply) == 3:
                return ApplyResult(int(reply[0]))
        payload = _pack([
            [e.entry_id, Keys.seen_suffix(source, e.entry_id), e.game_id,
             [encode_op(op) for op in e.ops], 1 if e.late else 0, event_second(e.entry_id)]
            for e in events
        ])
        reply = self._apply(keys=keys, args=[payload, self.dedupe_ttl, "events", expiring,
                                             bucketed, timed])
        applied, duplicates, dup_results = reply
        return ApplyResult(int(applied), int(duplicates), [as_text(x) for x in dup_results])

    def forget(self, product_id: str, user_id: str, boards: Sequence[str],
               earliest: Collection[str] = (), *, records_only: bool = False) -> Forgotten:
        """Take the player off ``boards`` (all-time and period board names) and delete
        its stats, ratings, game histories, joins and buckets there, and its rows of the
        all-time boards' archives, in one atomic script. ``earliest``: the boards among
        them that break ties by time. ``records_only``: take it off the boards and the
        archives, delete its records, and keep the rest."""
        on_boards, deleted, archived = self._forget(
            keys=[self.keys.product(product_id)],
            args=[user_id, ",".join(sorted(earliest)),
                  "records" if records_only else "player", *boards])
        return Forgotten(int(on_boards), int(deleted), int(archived))

    def forget_rate_counts(self, product_id: str, boards: Sequence[str],
                           user_ids: Sequence[str]) -> int:
        """Take the players out of the rate-limit counts of ``boards`` (configured boards
        with a ``rate_limit``): in how many windows they were counted, all told."""
        if not boards or not user_ids:
            return 0
        prefixes = tuple(f"{self.keys.board(product_id, board)}:rate:" for board in boards)
        # one pass over the keys for every board (SCAN walks the whole keyspace each time)
        found = [key for key in self.client.scan_iter(
            match=f"{self.keys.board(product_id, '*')}:rate:*", count=1000)
            if as_text(key).startswith(prefixes)]
        if not found:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for key in found:
            pipe.hdel(key, *user_ids)
        return sum(pipe.execute())

    # --- reads ----------------------------------------------------------------

    def top(self, product_id: str, board: str, count: int = 10, *,
            ascending: bool = False, earliest: bool = False) -> list[tuple[str, float]]:
        """The ``count`` best entries of a board, best first (lowest first when
        ``ascending``: the board is kept negated, see :mod:`tracker.order`; ``earliest``:
        it keeps scores with their time, see :mod:`tracker.tiebreak`)."""
        rows: Any = self.client.zrange(
            self.keys.board(product_id, board), 0, count - 1, desc=True, withscores=True
        )
        if earliest:
            rows = [(member, score_of(score)) for member, score in rows]
        if ascending:
            return [(as_text(member), flip(float(score))) for member, score in rows]
        return [(as_text(member), float(score)) for member, score in rows]

    def score(self, product_id: str, board: str, user_id: str) -> float | None:
        value = self.client.zscore(self.keys.board(product_id, board), user_id)
        return None if value is None else float(value)

    def history(self, product_id: str, board: str, user_id: str,
                count: int) -> list[GameRecord]:
        """The player's ``count`` latest games on the board, newest first."""
        raw: Any = self.client.lrange(self.keys.history(product_id, board, user_id), 0,
                                      count - 1)
        return [GameRecord(*json.loads(item)) for item in raw]

    def player_stats(self, product_id: str, user_id: str) -> dict[str, int]:
        raw = self.client.hgetall(self.keys.stats(product_id, user_id))
        return {as_text(k): int(v) for k, v in raw.items()}

    def stats_by_product(self, product_ids: Sequence[str],
                         user_id: str) -> dict[str, dict[str, int]]:
        """The player's counters in each product that has any, in one round trip."""
        found = self._counter_hashes([self.keys.stats(p, user_id) for p in product_ids])
        return {p: counters for p, counters in zip(product_ids, found, strict=True) if counters}

    def counters(self, product_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each product's running totals (``applied``, ``duplicates``, ``late``), in one
        round trip."""
        found = self._counter_hashes([self.keys.counters(p) for p in product_ids])
        return dict(zip(product_ids, found, strict=True))

    def _counter_hashes(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """HGETALL of hashes of integers, in one round trip."""
        pipe = self.client.pipeline(transaction=False)  # keys of different slots: no MULTI
        for key in keys:
            pipe.hgetall(key)
        replies: list[Any] = pipe.execute()
        return [{as_text(k): int(v) for k, v in raw.items()} for raw in replies]

    def bucket_of(self, product_id: str, board: str, user_id: str) -> int | None:
        """The member's bucket on a period board split into buckets (None: it has none)."""
        found = self.client.hget(self.keys.buckets(product_id, board), user_id)
        return None if found is None else int(found)

    def buckets_filled(self, product_id: str, board: str) -> int:
        """How many members the board's buckets have taken so far."""
        return int(self.client.get(self.keys.bucket_members(product_id, board)) or 0)

    def joined(self, product_id: str, board: str, user_id: str | None = None) -> int:
        """How many players joined a tournament's board (``join_required``); with
        ``user_id``, 1 if that player did, else 0."""
        key = self.keys.board_joined(product_id, board)
        if user_id is None:
            return int(self.client.zcard(key))
        return int(self.client.zscore(key, user_id) is not None)

    def joined_players(self, product_id: str, board: str, offset: int, count: int
                       ) -> tuple[int, list[tuple[str, int]]]:
        """How many joined a tournament's board, and ``count`` of them from ``offset``,
        the first to join first, each with when it joined (Unix ms): one atomic read."""
        key = self.keys.board_joined(product_id, board)
        pipe = self.client.pipeline(transaction=True)
        pipe.zcard(key)
        pipe.zrange(key, offset, offset + count - 1, withscores=True)
        size, rows = pipe.execute()
        return int(size), [(as_text(m), int(at)) for m, at in rows]

    def board_size(self, product_id: str, board: str) -> int:
        return int(self.client.zcard(self.keys.board(product_id, board)))

    def board_sizes(self, product_id: str, boards: Sequence[str]) -> list[int]:
        """The size of each board, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for board in boards:
            pipe.zcard(self.keys.board(product_id, board))
        return [int(n) for n in pipe.execute()]
