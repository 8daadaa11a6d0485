"""Tiers (leagues) of a board: named bands by score, rank or percent, best first.

Configured on a handler's table, for its boards::

    { use = "elo", tiers = [
        { name = "grandmaster", rank = 10 },     # the ten best
        { name = "diamond", percent = 5 },       # else the best 5 % of the board
        { name = "gold", score = 1600 },         # else a rating of at least 1600
        { name = "bronze" },                     # everyone else: the fallback, last
    ] }

A player is in the first tier whose cutoff it meets. Rank and percent cutoffs
use competition ranks (members with a strictly better score, plus one), so
tied players are always in the same tier whatever tie mode a reader asks for.
Tiers are computed when a board is read, from the same atomic read as the
ranks: nothing is stored, and a change of cutoffs applies at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CUTOFFS = ("score", "rank", "percent")


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier; at most one cutoff, none for the fallback."""

    name: str
    score: float | None = None  # a score of at least this (at most, when ascending)
    rank: int | None = None  # a competition rank of at most this
    percent: float | None = None  # within the best ``percent`` % of the board
    ascending: bool = False  # a tier of a board where the lowest score ranks first

    @property
    def cutoff(self) -> tuple[str, float | int] | None:
        """Its cutoff as (kind, value), kind one of CUTOFFS; None for the fallback."""
        return next(((c, v) for c in CUTOFFS if (v := getattr(self, c)) is not None), None)

    def max_rank(self, size: int) -> int | None:
        """The worst competition rank inside a rank or percent cutoff on a board of ``size``."""
        if self.rank is not None:
            return self.rank
        if self.percent is not None:
            return max(1, math.ceil(self.percent * size / 100))
        return None

    def holds(self, score: float, rank: int, size: int) -> bool:
        """Whether a member with ``score`` and competition ``rank`` is in this tier."""
        if self.score is not None:
            return score <= self.score if self.ascending else score >= self.score
        limit = self.max_rank(size)
        return limit is None or rank <= limit


def tier_of(tiers: Sequence[Tier], score: float, rank: int, size: int) -> str:
    """The name of the first of ``tiers`` the member meets (the last one always holds)."""
    for tier in tiers:
        if tier.holds(score, rank, size):
            return tier.name
    return tiers[-1].name


def parse_tiers(spec: Any, *, ascending: bool = False) -> tuple[Tier, ...]:
    """Tiers from configuration (a list of tables), of a board where the lowest score
    ranks first if ``ascending``; ValueError says what is wrong."""
    if not isinstance(spec, list) or len(spec) < 2:
        raise ValueError("tiers is a list of at least two tables, the fallback last")
    tiers: list[Tier] = []
    for i, item in enumerate(spec):
        last = i == len(spec) - 1
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) \
                or not item["name"].strip() or set(item) - {"name", *CUTOFFS}:
            raise ValueError(f"tier {i + 1}: a table with a name and one of {CUTOFFS}, "
                             f"got {item!r}")
        cutoffs = [c for c in CUTOFFS if c in item]
        if last and cutoffs:
            raise ValueError(f"tier {item['name']!r}: the last tier is the fallback, "
                             "without a cutoff")
        if not last and len(cutoffs) != 1:
            raise ValueError(f"tier {item['name']!r}: exactly one of {CUTOFFS}")
        tiers.append(Tier(item["name"], **{c: _cutoff(c, item[c], item["name"])
                                           for c in cutoffs}, ascending=ascending))
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise ValueError(f"tier names repeat: {names}")
    return tuple(tiers)


def _cutoff(kind: str, value: Any, name: str) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "rank" and not (number and isinstance(value, int) and value >= 1):
        raise ValueError(f"tier {name!r}: rank is an integer of at least 1")
    if kind == "percent" and not (number and 0 < value <= 100):
        raise ValueError(f"tier {name!r}: percent is above 0 and at most 100")
    if kind == "score" and not (number and math.isfinite(value)):
        raise ValueError(f"tier {name!r}: score is a finite number")
    return float(value) if kind != "rank" else value
