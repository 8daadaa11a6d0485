"""Boards where, among equal scores, the earlier achievement ranks first
(``tie_break = "earliest"``, PlayFab v2's rule).

Redis orders equal scores by member bytes. To rank the player who reached a
score first above those who reached it later, such a board keeps one number per
member that holds both: ``score * 2^32 + (2^32 - 1 - t)``, where ``t`` is the
second (since 2020-01-01 UTC) of the event that gave the member that score. The
stored number then orders by score, then by time, earliest first, and every
read stays one O(log N) script: the scripts turn it back into the score
(``floor(stored / 2^32)``) and count "tied" as "same score, any time".

A double is exact up to 2^53, so such a board holds integers of magnitude below
2^21 (2,097,152): wins, points, levels, streaks. A value it cannot hold
dead-letters its event rather than lose precision. Ratings keep member order.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from tracker.handlers.base import BOARD_OPS, Decrement, IncrScore, Op

TIE_BREAKS = ("member", "earliest")
UNIT = 2**32  # one score step; the seconds of an achievement sit below it
SCORE_LIMIT = 2**21  # |score| below this keeps score * 2^32 + time exact in a double
EPOCH_S = 1_577_836_800  # 2020-01-01T00:00:00Z: t = 0 (2^32 s later is the year 2156)
# kinds of board whose scores are integers made of events: they may break ties by time
TIMED_KINDS = frozenset({"points", "best", "latest", "streak"})


def event_second(entry_id: str) -> int:
    """``t`` of a stream entry ID (``<ms>-<seq>``): its second since 2020, within
    [0, 2^32); 0 for an ID that names no time."""
    ms, _, _ = entry_id.partition("-")
    try:
        t = int(ms) // 1000 - EPOCH_S
    except ValueError:
        return 0
    return min(max(t, 0), UNIT - 1)


def board_of(name: str) -> str:
    """The configured board of a stored board name (``wins:2026-W48`` -> ``wins``)."""
    return name.partition(":")[0]


def check_ops(ops: Sequence[Op], timed: Collection[str]) -> None:
    """ValueError if an op would put on a board of ``timed`` a value it cannot hold."""
    for op in ops:
        if isinstance(op, BOARD_OPS) and board_of(op.board) in timed:
            value = (op.delta if isinstance(op, IncrScore)
                     else op.amount if isinstance(op, Decrement) else op.score)
            if not (math.isfinite(value) and value == int(value)
                    and abs(value) < SCORE_LIMIT):
                raise ValueError(
                    f"board {op.board!r} breaks ties by time and holds integers of magnitude "
                    f"below {SCORE_LIMIT:,}; got {value!r} from {type(op).__name__}")


def stored(score: float, second: int = 0) -> float:
    """The number such a board keeps for ``score`` reached at ``second`` (0: the
    earliest, which ranks first among equal scores)."""
    return score * UNIT + (UNIT - 1 - second)


def score_of(stored: float) -> float:
    """The score a stored number of such a board stands for."""
    return float(math.floor(stored / UNIT))
