"""Boards that rank by two columns: a score, then a subscore (``subscore = "asc"`` or
``"desc"`` on a ``score`` handler): the reference's lexicographic "best".

A racing game ranks by laps completed (most first), then by race time (least
first); a quiz by points, then by seconds taken. A submission beats the stored
record when it wins on the score, or ties on it and wins on the subscore; the
record is always one real submission (Nakama's ``best`` raises its two columns
independently, and keeps combinations nobody submitted).

Such a board keeps one number per member, as a ``tie_break = "earliest"`` board
does (:mod:`tracker.tiebreak`): ``score * 2^32 + s``, where ``s`` is the subscore
turned so that a larger ``s`` ranks higher on a board that ranks the highest
first. So ``ZADD GT`` keeps the lexicographic best atomically, and every read,
tie mode, page, cursor and period stays the one O(log N) script: two members tie
only when both columns are equal. A double is exact up to 2^53, so the score is an
integer of magnitude below 2^21 (2,097,152) and the subscore an integer in
[0, 2^32).

On a board that ranks the lowest first (``order = "asc"``, :mod:`tracker.order`)
Redis keeps the score part negated and ``s`` as it is; the number read back
(:func:`tracker.order.flip` of the stored one) is then ``score * 2^32 - s``.
"""

from __future__ import annotations

import math

from tracker.tiebreak import SCORE_LIMIT, UNIT

DIRECTIONS = ("desc", "asc")  # of a subscore: the highest first, or the lowest
SUBSCORE_LIMIT = UNIT  # subscores are integers in [0, 2^32)


def low_part(subscore: int, direction: str) -> int:
    """The part below the score: larger ranks higher, on boards of either order."""
    return subscore if direction == "desc" else UNIT - 1 - subscore


def packed(score: float, subscore: int, direction: str) -> float:
    """The number a ``score`` handler writes for a submission, before
    :func:`tracker.order.stored_ops` negates the score part on a board that ranks the
    lowest first. ValueError when the board cannot hold the pair exactly."""
    if not (math.isfinite(score) and score == int(score) and abs(score) < SCORE_LIMIT):
        raise ValueError(f"a board with a subscore holds integer scores of magnitude below "
                         f"{SCORE_LIMIT:,}; got {score!r}")
    if not 0 <= subscore < SUBSCORE_LIMIT:
        raise ValueError(f"a subscore is an integer in [0, {SUBSCORE_LIMIT:,}); got {subscore!r}")
    return score * UNIT + low_part(subscore, direction)


def negated(number: float) -> float:
    """A packed number with its score part negated and its low part kept: how a board
    that ranks the lowest score first stores it (and, applied again, the packed number)."""
    score = math.floor(number / UNIT)
    return -score * UNIT + (number - score * UNIT) + 0.0


def split(shown: float, direction: str, ascending: bool) -> tuple[float, int]:
    """The score and subscore of a number read back from such a board (``ascending``:
    read back from a lowest-first board, as ``score * 2^32 - low``)."""
    if ascending:
        score = math.ceil(shown / UNIT)
        low = int(score * UNIT - shown)
    else:
        score = math.floor(shown / UNIT)
        low = int(shown - score * UNIT)
    return float(score), low_part(low, direction)  # low_part is its own inverse
