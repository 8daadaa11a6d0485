"""Rank reads of a board, each one atomic (``ranks.lua``), and the tie-structure rebuild.

Every method reads the board and the ranks it returns in one read-only
script, so a concurrent batch can never pair a score with a rank from another
moment. Ranks are computed in O(log N) per call: nothing scans a board.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis

from tracker.order import flip
from tracker.ranking import BoardSize, Position, Slice, Standing
from tracker.storage.keys import Keys
from tracker.tiers import Tier

# One atomic rebuild of a board's tie structures from the board itself, using
# the same canonical score text as apply_batch.lua. It blocks Redis for about
# a second per million members: run it once for boards written before the
# structures existed (``python -m tracker.reindex``), not routinely.
_REINDEX = """
local board, scores, counts = KEYS[1], KEYS[2], KEYS[3]
redis.call('DEL', scores, counts)
local tally, size, chunk = {}, redis.call('ZCARD', board), 10000
for start = 0, size - 1, chunk do
  local rows = redis.call('ZRANGE', board, start, start + chunk - 1, 'WITHSCORES')
  for i = 2, #rows, 2 do
    local x = tonumber(rows[i])
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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _standing(user_id: str, place: Sequence[Any], size: int, ascending: bool) -> Standing:
    score, revrank, above, dense_above, below = place
    shown = flip(float(score)) if ascending else float(score)
    return Standing(user_id, shown, int(revrank) + 1, int(above), int(dense_above),
                    int(below), size)


def _slice(reply: Any, ascending: bool) -> Slice:
    size, start, above, dense_above, flat = reply
    members = [_text(m) for m in flat[0::2]]
    scores = [flip(float(x)) for x in flat[1::2]] if ascending else map(float, flat[1::2])
    return Slice(int(size), int(start), int(above), int(dense_above),
                 list(zip(members, scores, strict=True)))


class Ranks:
    """Atomic rank reads of every product's boards.

    ``ascending``: the board ranks its lowest score first, so Redis keeps it negated
    (:mod:`tracker.order`); scores go in and come out as players see them.
    """

    def __init__(self, client: redis.Redis, keys: Keys | None = None):
        self.client = client
        self.keys = keys or Keys()
        source = resources.files("tracker.storage").joinpath("ranks.lua").read_text()
        self._read = client.register_script(source)
        self._reindex = client.register_script(_REINDEX)

    def _call(self, product_id: str, board: str, *args: str | int,
              extra_key: str | None = None) -> Any:
        keys = [self.keys.board(product_id, board), self.keys.board_scores(product_id, board)]
        if extra_key is not None:
            keys.append(extra_key)
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

    def standing(self, product_id: str, board: str, user_id: str, *,
                 rating_of: str | None = None, ascending: bool = False) -> Standing | None:
        """The member's score and ranks, or None when it is not on the board; with
        ``rating_of`` (the OpenSkill or Glicko-2 board the ratings belong to), the
        member's rating too (``mu`` and ``sigma``, or ``rating``, ``rd`` and ``volatility``)."""
        rating = None if rating_of is None else self.keys.rating(product_id, rating_of, user_id)
        reply = self._call(product_id, board, "standing", user_id, extra_key=rating)
        if reply is None:
            return None
        found = _standing(user_id, reply[:5], int(reply[5]), ascending)
        if len(reply) > 6 and reply[6]:
            pairs = iter(reply[6])
            detail = tuple((_text(k), float(v)) for k, v in zip(pairs, pairs, strict=True))
            return dataclasses.replace(found, rating=detail)
        return found

    def standings(self, product_id: str, board: str, user_ids: Sequence[str], *,
                  ascending: bool = False) -> tuple[int, list[Standing]]:
        """The board's size and the standing of each of ``user_ids`` on it, in board order
        (best first); players not on the board are left out."""
        size, *found = self._call(product_id, board, "standings", *user_ids)
        places = [_standing(_text(member), place, int(size), ascending)
                  for member, *place in found]
        return int(size), sorted(places, key=lambda p: p.ordinal)

    def page(self, product_id: str, board: str, start: int, count: int, *,
             ascending: bool = False) -> Slice:
        """``count`` rows from 0-based position ``start`` in board order."""
        return _slice(self._call(product_id, board, "page", start, count), ascending)

    def after(self, product_id: str, board: str, position: Position, count: int, *,
              ascending: bool = False) -> Slice:
        """``count`` rows right after ``position`` (keyset paging).

        Correct while scores change: a member whose score did not change since
        the previous page is never repeated nor skipped, even if the cursor's own
        member moved or left the board.
        """
        if not math.isfinite(position.score):
            raise ValueError("a position's score is finite")
        score = flip(position.score) if ascending else position.score
        return _slice(self._call(product_id, board, "after", repr(score), position.user_id,
                                 count), ascending)

    def around(self, product_id: str, board: str, user_id: str, count: int, *,
               ascending: bool = False) -> Slice | None:
        """``count`` rows around the member (it is in the middle unless near an end)."""
        reply = self._call(product_id, board, "around", user_id, count)
        return None if reply is None else _slice(reply, ascending)

    def tiers(self, product_id: str, board: str, tiers: Sequence[Tier], *,
              ascending: bool = False) -> tuple[int, list[tuple[float | None, int]]]:
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
        size, *found = self._call(product_id, board, "tiers", *args)
        out: list[tuple[float | None, int]] = []
        for low, members in found:
            worst = None if _text(low) == "-inf" else float(low)
            out.append((flip(worst) if ascending and worst is not None else worst, int(members)))
        return int(size), out

    def size(self, product_id: str, board: str) -> BoardSize:
        members, distinct = self._call(product_id, board, "size")
        return BoardSize(int(members), int(distinct))

    def reindex(self, product_id: str, board: str) -> BoardSize:
        """Rebuild the board's tie structures from the board, atomically."""
        keys = [self.keys.board(product_id, board), self.keys.board_scores(product_id, board),
                self.keys.board_counts(product_id, board)]
        members, distinct = self._reindex(keys=keys)
        return BoardSize(int(members), int(distinct))
