"""Tie modes and the rank maths of a leaderboard read.

Boards are sorted sets read best (highest score) first; a board where the
lowest score is best is kept negated (:mod:`tracker.order`). Among equal scores
Redis orders members by DESCENDING bytes (``ZREVRANGE``); that order is the
documented, deterministic tie-break of ``ordinal`` ranks and of every listing,
unless the board keeps each score with its time to rank the earliest first
(:mod:`tracker.tiebreak`).

For scores 100, 90, 90, 80:

========== ============ =====================================================
mode       ranks        computed as (one atomic read, see ``storage/ranks.lua``)
========== ============ =====================================================
ordinal    1, 2, 3, 4   ``ZREVRANK`` + 1
competition 1, 2, 2, 4  ``ZCOUNT board (score +inf`` + 1
dense      1, 2, 2, 3   ``ZCOUNT scores (score +inf`` + 1 on the board's set of
                        distinct scores, kept by the write script
========== ============ =====================================================
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class TieMode(enum.StrEnum):
    ORDINAL = "ordinal"
    COMPETITION = "competition"
    DENSE = "dense"


DEFAULT_TIE_MODE = TieMode.COMPETITION


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a board's order: a keyset cursor points just after it."""

    score: float
    user_id: str
    # on a board that breaks ties by time, the row's stored number (tracker.tiebreak)
    key: float | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    user_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Record:
    """What a board that keeps records (score boards) holds of a member beside its score:
    how many submissions it made there and when (Unix ms) the first and the last were
    made, and the metadata of the submission its record holds (a JSON object's text)."""

    submissions: int
    first_at: int
    last_at: int
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class Slice:
    """Consecutive rows of a board, read atomically, before ranks are applied.

    ``start`` is the 0-based position of the first row; ``above`` and
    ``dense_above`` count the members and the distinct scores strictly better
    than the first row's score.
    """

    size: int
    start: int
    above: int
    dense_above: int
    rows: Sequence[tuple[str, float]]
    # the first and last rows' stored numbers, on a board that breaks ties by time
    first_key: float | None = None
    last_key: float | None = None
    # each row's record (None: none kept), when records were read
    records: Sequence[Record | None] | None = None

    def ranks(self, ties: TieMode) -> list[int]:
        """The rank of each row in ``ties`` mode."""
        ranks: list[int] = []
        prev_score, rank = 0.0, 0
        for i, (_, score) in enumerate(self.rows):
            if ties is TieMode.ORDINAL:
                rank = self.start + i + 1
            elif i == 0:
                rank = (self.above if ties is TieMode.COMPETITION else self.dense_above) + 1
            elif score != prev_score:
                # every earlier row scores higher, so all of them are above this one
                rank = self.start + i + 1 if ties is TieMode.COMPETITION else rank + 1
            ranks.append(rank)
            prev_score = score
        return ranks

    def ranked(self, ties: TieMode) -> list[Entry]:
        return [Entry(rank, user_id, score)
                for rank, (user_id, score) in zip(self.ranks(ties), self.rows, strict=True)]

    @property
    def first(self) -> Position | None:
        if not self.rows:
            return None
        user_id, score = self.rows[0]
        return Position(score, user_id, self.first_key)

    @property
    def last(self) -> Position | None:
        if not self.rows:
            return None
        user_id, score = self.rows[-1]
        return Position(score, user_id, self.last_key)


@dataclass(frozen=True, slots=True)
class Standing:
    """One member's place on a board, all read at the same moment."""

    user_id: str
    score: float
    ordinal: int  # 1-based, ZREVRANK + 1
    above: int  # members with a strictly better score (higher; lower when ascending)
    dense_above: int  # distinct scores strictly better
    below: int  # members with a strictly worse score
    size: int
    # The rating behind the score, on OpenSkill (mu, sigma) and Glicko-2 (rating, rd,
    # volatility) boards: (name, value) pairs
    rating: tuple[tuple[str, float], ...] | None = None
    record: Record | None = None  # its record on the board, when read and kept

    def rank(self, ties: TieMode) -> int:
        if ties is TieMode.ORDINAL:
            return self.ordinal
        return (self.above if ties is TieMode.COMPETITION else self.dense_above) + 1

    @property
    def percentile(self) -> float:
        """Share of the board with a strictly worse score, in percent (0 for the last).

        Independent of the tie mode: tied players share it.
        """
        return 100.0 * self.below / self.size if self.size else 0.0


@dataclass(frozen=True, slots=True)
class BoardSize:
    members: int
    distinct_scores: int
