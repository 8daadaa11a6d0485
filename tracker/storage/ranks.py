"""Rank reads of a board, each one atomic (``ranks.lua``), and the tie-structure rebuild.

Every method reads the board and the ranks it returns in one read-only
script, so a concurrent batch can never pair a score with a rank from another
moment. Ranks are computed in O(log N) per call: nothing scans a board.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from tracker.order import flip
from tracker.ranking import BoardSize, Position, Record, Slice, Standing
from tracker.storage.keys import Keys
from tracker.text import as_text
from tracker.tiebreak import score_of, stored
from tracker.tiers import Tier

# One atomic rebuild of a board's tie structures from the board itself, using
# the same canonical score text as apply_batch.lua. It blocks Redis for about
# a second per million members: run it once for boards written before the
# structures existed (``python -m tracker.reindex``), not routinely.
_REINDEX = """
local board, scores, counts = KEYS[1], KEYS[2], KEYS[3]
local timed = ARGV[1] == '1'  -- the board keeps score * 2^32 + time (tracker/tiebreak.py)
redis.call('DEL', scores, counts)
local tally, size, chunk = {}, redis.call('ZCARD', board), 10000
for start = 0, size - 1, chunk do
  local rows = redis.call('ZRANGE', board, start, start + chunk - 1, 'WITHSCORES')
  for i = 2, #rows, 2 do
    local x = tonumber(rows[i])
    if timed then x = math.floor(x / 4294967296) end
    if x == 0 then x = 0 end
    local c = string.format('%.17g', x)
    tally[c] = (tally[c] or 0) + 1
  end
end
local distinct, h, z = 0, {}, {}
local function flush()
  if #h > 0 then
    redis.call('HSET', counts, unpack(h))
    redis.call('ZADD', scores, unpack(z))
    h, z = {}, {}
  end
end
for c, n in pairs(tally) do
  distinct = distinct + 1
  h[#h + 1] = c; h[#h + 1] = n
  z[#z + 1] = c; z[#z + 1] = c
  if #h >= 2000 then flush() end
end
flush()
return { size, distinct }
"""


@dataclass(frozen=True, slots=True)
class BoardRead:
    """A board to read a member's standing on (:meth:`Ranks.standings_of`), as
    :meth:`Ranks.standing` takes it."""

    product_id: str
    board: str
    ascending: bool = False
    earliest: bool = False
    records: str | None = None


def _record(metadata: bytes | str | None, submissions: bytes | str | None) -> Record | None:
    """A record from what ``ranks.lua`` read of it: its metadata and "<n> <first> <last>"."""
    if submissions is None:
        return None  # (a member written before its board kept records)
    n, first, last = as_text(submissions).split()
    return Record(int(n), int(first), int(last), None if metadata is None else as_text(metadata))


def _standing(user_id: str, place: Sequence[Any], size: int, ascending: bool,
              earliest: bool, record: Record | None = None) -> Standing:
    number, revrank, above, dense_above, below = place
    score = score_of(float(number)) if earliest else float(number)
    shown = flip(score) if ascending else score
    return Standing(user_id, shown, int(revrank) + 1, int(above), int(dense_above),
                    int(below), size, record=record)


def _placed(user_id: str, reply: Sequence[Any], ascending: bool, earliest: bool,
            records: str | None) -> Standing:
    """A ``standing`` reply of ``ranks.lua`` (place, size, [rating], [record])."""
    kept = _record(reply[-2], reply[-1]) if records is not None else None
    return _standing(user_id, reply[:5], int(reply[5]), ascending, earliest, kept)


def _slice(reply: Any, ascending: bool, earliest: bool) -> Slice:
    size, start, above, dense_above, flat, *read = reply
    records = [_record(m, n) for m, n in zip(read[0], read[1], strict=True)] if read else None
    members = [as_text(m) for m in flat[0::2]]
    first_key = last_key = None
    if earliest:  # stored numbers: scores with their times; paging resumes at either end
        numbers = [float(x) for x in flat[1::2]]
        if numbers:
            first_key, last_key = numbers[0], numbers[-1]
        scores: Any = [score_of(x) for x in numbers]
    else:
        scores = map(float, flat[1::2])
    if ascending:
        scores = [flip(x) for x in scores]
    return Slice(int(size), int(start), int(above), int(dense_above),
                 list(zip(members, scores, strict=True)), first_key, last_key, records)


class Ranks:
    """Atomic rank reads of every product's boards.

    ``ascending``: the board ranks its lowest score first, so Redis keeps it negated
    (:mod:`tracker.order`); ``earliest``: it breaks ties by time, so Redis keeps each
    score with its time (:mod:`tracker.tiebreak`). Scores go in and come out as players
    see them. ``records``: the (all-time or period) board whose records to read with the
    rows, on a board that keeps them (:class:`~tracker.ranking.Record`).
    """

    def __init__(self, client: redis.Redis, keys: Keys | None = None):
        self.client = client
        self.keys = keys or Keys()
        source = resources.files("tracker.storage").joinpath("ranks.lua").read_text()
        self._read = client.register_script(source)
        self._reindex = client.register_script(_REINDEX)
        convert = resources.files("tracker.storage").joinpath("convert_ties.lua").read_text()
        self._convert_ties = client.register_script(convert)

    def _command(self, product_id: str, board: str, *command: str | int,
                 extra_key: str | None = None, earliest: bool = False,
                 records: str | None = None) -> tuple[list[str], list[str | int]]:
        """The keys and arguments of a ``ranks.lua`` read. ``records``: the board whose
        records to read with the rows (a bucket's board reads its period board's)."""
        keys = [self.keys.board(product_id, board), self.keys.board_scores(product_id, board)]
        if extra_key is not None:
            keys.append(extra_key)
        flags = "1" if earliest else "0"
        if records is not None:
            keys += [self.keys.board_metadata(product_id, records),
                     self.keys.board_submissions(product_id, records)]
            flags += "r"
        return keys, [flags, *command]

    def _call(self, product_id: str, board: str, *command: str | int,
              extra_key: str | None = None, earliest: bool = False,
              records: str | None = None) -> Any:
        keys, args = self._command(product_id, board, *command, extra_key=extra_key,
                                   earliest=earliest, records=records)
        conn = getattr(self.client, "connection", None)
        if conn is None:
            return self._read(keys=keys, args=list(args))
        # A client with one connection (the read API's): EVALSHA straight on it.
        # redis-py's command path (retries, pool, callbacks, timing hooks) cost
        # 14 µs of a hot read's ~35 µs in the client; a failure here is reported
        # to the caller as it would be after the retry (the API answers 503).
        with self.client.single_connection_lock:
            try:
                conn.send_command("EVALSHA", self._read.sha, len(keys), *keys, *args)
                return conn.read_response()
            except redis.exceptions.NoScriptError:
                pass  # a restarted Redis: the normal path loads the script again
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                conn.disconnect()
                raise
        return self._read(keys=keys, args=list(args))

    def standings_of(self, user_id: str, boards: Sequence[BoardRead]
                     ) -> list[Standing | None]:
        """The member's standing on each of ``boards`` (None where it is not on it): each
        an atomic read of its board, all sent in one round trip on a client with one
        connection (the read API's), one after the other on others (a cluster's)."""
        commands = [self._command(b.product_id, b.board, "standing", user_id,
                                  earliest=b.earliest, records=b.records) for b in boards]
        replies: list[Any] | None = None
        conn = getattr(self.client, "connection", None)
        if conn is not None and commands:
            with self.client.single_connection_lock:
                try:
                    conn.send_packed_command(conn.pack_commands(
                        [("EVALSHA", self._read.sha, len(keys), *keys, *args)
                         for keys, args in commands]))
                    replies = [conn.read_response() for _ in commands]
                except redis.exceptions.NoScriptError:
                    conn.disconnect()  # the replies after it are unread: start afresh
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    conn.disconnect()
                    raise
        if replies is None:  # the normal path loads the script where Redis lost it
            replies = [self._read(keys=keys, args=args) for keys, args in commands]
        return [None if reply is None else _placed(user_id, reply, b.ascending, b.earliest,
                                                   b.records)
                for b, reply in zip(boards, replies, strict=True)]

    def standing(self, product_id: str, board: str, user_id: str, *,
                 rating_of: str | None = None, ascending: bool = False,
                 earliest: bool = False, records: str | None = None) -> Standing | None:
        """The member's score and ranks, or None when it is not on the board; with
        ``rating_of`` (the OpenSkill or Glicko-2 board the ratings belong to), the
        member's rating too (``mu`` and ``sigma``, or ``rating``, ``rd`` and ``volatility``);
        with ``records`` (the board that keeps them), its record there."""
        rating = None if rating_of is None else self.keys.rating(product_id, rating_of, user_id)
        reply = self._call(product_id, board, "standing", user_id, extra_key=rating,
                           earliest=earliest, records=records)
        if reply is None:
            return None
        found = _placed(user_id, reply, ascending, earliest, records)
        if rating is not None and reply[6]:
            pairs = iter(reply[6])
            detail = tuple((as_text(k), float(v)) for k, v in zip(pairs, pairs, strict=True))
            return dataclasses.replace(found, rating=detail)
        return found

    def standings(self, product_id: str, board: str, user_ids: Sequence[str], *,
                  ascending: bool = False, earliest: bool = False,
                  records: str | None = None) -> tuple[int, list[Standing]]:
        """The board's size and the standing of each of ``user_ids`` on it, in board order
        (best first); players not on the board are left out."""
        size, *found = self._call(product_id, board, "standings", *user_ids, earliest=earliest,
                                  records=records)
        places = [_standing(as_text(member), place[:5], int(size), ascending, earliest,
                            _record(place[5], place[6]) if records is not None else None)
                  for member, *place in found]
        return int(size), sorted(places, key=lambda p: p.ordinal)

    def page(self, product_id: str, board: str, start: int, count: int, *,
             ascending: bool = False, earliest: bool = False,
             records: str | None = None) -> Slice:
        """``count`` rows from 0-based position ``start`` in board order."""
        return _slice(self._call(product_id, board, "page", start, count, earliest=earliest,
                                 records=records), ascending, earliest)

    def after(self, product_id: str, board: str, position: Position, count: int, *,
              ascending: bool = False, earliest: bool = False,
              records: str | None = None) -> Slice:
        """``count`` rows right after ``position`` (keyset paging).

        Correct while scores change: a member whose score did not change since
        the previous page is never repeated nor skipped, even if the cursor's own
        member moved or left the board.
        """
        return self._keyset("after", product_id, board, position, count, ascending, earliest,
                            records)

    def _keyset(self, command: str, product_id: str, board: str, position: Position,
                count: int, ascending: bool, earliest: bool, records: str | None) -> Slice:
        if not math.isfinite(position.score):
            raise ValueError("a position's score is finite")
        score = flip(position.score) if ascending else position.score
        if earliest:  # the row's stored number; without it, the score's earliest time
            score = position.key if position.key is not None else stored(math.floor(score))
        return _slice(self._call(product_id, board, command, repr(score), position.user_id,
                                 count, earliest=earliest, records=records),
                      ascending, earliest)

    def before(self, product_id: str, board: str, position: Position, count: int, *,
               ascending: bool = False, earliest: bool = False,
               records: str | None = None) -> Slice:
        """At most ``count`` rows right before ``position``: the previous page, as
        :meth:`after` gives the next (fewer near the top of the board)."""
        return self._keyset("before", product_id, board, position, count, ascending, earliest,
                            records)

    def around(self, product_id: str, board: str, user_id: str, count: int, *,
               ascending: bool = False, earliest: bool = False,
               records: str | None = None) -> Slice | None:
        """``count`` rows around the member (it is in the middle unless near an end)."""
        reply = self._call(product_id, board, "around", user_id, count, earliest=earliest,
                           records=records)
        return None if reply is None else _slice(reply, ascending, earliest)

    def tiers(self, product_id: str, board: str, tiers: Sequence[Tier], *,
              ascending: bool = False, earliest: bool = False
              ) -> tuple[int, list[tuple[float | None, int]]]:
        """The board's size and, for each of ``tiers`` (best first), the worst score that
        puts a member in it or a better one (None: any score does) and its members."""
        args: list[str | int] = []
        for tier in tiers:
            cutoff = tier.cutoff
            if cutoff is None:
                args += ["rest", 0]
            else:
                kind, value = cutoff
                args += [kind, repr(flip(value) if ascending and kind == "score" else value)]
        size, *found = self._call(product_id, board, "tiers", *args, earliest=earliest)
        out: list[tuple[float | None, int]] = []
        for low, members in found:
            worst = None if as_text(low) == "-inf" else float(low)
            out.append((flip(worst) if ascending and worst is not None else worst, int(members)))
        return int(size), out

    def cutoffs(self, product_id: str, board: str, percents: Sequence[float], *,
                ascending: bool = False, earliest: bool = False
                ) -> tuple[int, list[tuple[float, int]]]:
        """The board's size and, for each of ``percents``, the score it takes to be within
        the best that many percent of the board (the score of the ``ceil(percent * size /
        100)``-th best member, as a percent tier's cutoff) and how many members have it or
        a better one (more than the share when several tie there). No pairs when the
        board is empty."""
        size, *found = self._call(product_id, board, "cutoffs", *map(repr, percents),
                                  earliest=earliest)
        return int(size), [(flip(float(score)) if ascending else float(score), int(members))
                           for score, members in found]

    def counted_in_window(self, product_id: str, board: str, user_id: str,
                          window: int) -> int:
        """The player's submissions counted in window ``window`` (Unix ms // its length)
        of a board with a ``rate_limit``."""
        found = self.client.hget(f"{self.keys.board(product_id, board)}:rate:{window}", user_id)
        return int(found or 0)  # type: ignore[arg-type]

    def size(self, product_id: str, board: str) -> BoardSize:
        members, distinct = self._call(product_id, board, "size")
        return BoardSize(int(members), int(distinct))

    def reindex(self, product_id: str, board: str, *, earliest: bool = False) -> BoardSize:
        """Rebuild the board's tie structures from the board, atomically."""
        keys = [self.keys.board(product_id, board), self.keys.board_scores(product_id, board),
                self.keys.board_counts(product_id, board)]
        members, distinct = self._reindex(keys=keys, args=["1" if earliest else "0"])
        return BoardSize(int(members), int(distinct))

    def convert_ties(self, product_id: str, board: str, *, earliest: bool) -> int:
        """Rewrite a board's stored numbers for ``tie_break = "earliest"`` (or back, to
        ``member``), atomically; members converted. ``board`` may be a period's or a
        bucket's board. ResponseError, and nothing written, when a member does not fit
        (``convert_ties.lua``)."""
        return int(self._convert_ties(keys=[self.keys.board(product_id, board)],
                                      args=["earliest" if earliest else "member"]))
