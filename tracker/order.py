"""Boards where the lowest score ranks first (``order = "asc"``: fastest lap, fewest strokes).

Redis keeps such a board with every score negated. Then the write script, the
tie structures and every read script stay as they are for "highest first", and
ranks, percentiles, pages, cursors and tiers keep their O(log N) reads: only
the ops written to the board and the scores read back change sign.

- ``IncrScore(delta)`` adds ``-delta``: a sum where less is better (strokes).
- ``KeepBest(score)`` keeps the highest negated score, so the lowest score.
- ``EnsureOnBoard(score)`` and ``SetScore(score)`` put ``-score`` there, and an
  ``Attempt`` keeps its ``-score`` as its mode says.
- ``Decrement(amount)`` adds ``amount`` to the negated score, up to 0 at most.
- On a board with a subscore (:mod:`tracker.subscore`) only the score part of the
  packed number is negated: the subscore keeps its own direction.

Ratings and streaks are always best when highest; only points, best and latest boards
may be ascending (:mod:`tracker.products` checks it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from tracker import subscore
from tracker.handlers.base import (
    Attempt,
    Decrement,
    EnsureOnBoard,
    IncrScore,
    KeepBest,
    Op,
    SetScore,
)


def flip(score: float) -> float:
    """A stored score from a shown one, and back (``0.0 - x``: never ``-0.0``)."""
    return 0.0 - score


def stored_ops(ops: Sequence[Op], ascending: Collection[str],
               packed: Collection[str] = ()) -> list[Op]:
    """``ops`` as Redis keeps them: negated on the boards named in ``ascending`` (only
    the score part of those also in ``packed``, the boards with a subscore)."""
    out: list[Op] = []
    for op in ops:
        if isinstance(op, IncrScore) and op.board in ascending:
            op = dataclasses.replace(op, delta=flip(op.delta))
        elif isinstance(op, EnsureOnBoard | KeepBest | SetScore | Attempt) \
                and op.board in ascending:
            negate = subscore.negated if op.board in packed else flip
            op = dataclasses.replace(op, score=negate(op.score))
        elif isinstance(op, Decrement) and op.board in ascending:
            op = dataclasses.replace(op, sign=-op.sign)
        out.append(op)
    return out
