"""Tiers: a player's tier by score, competition rank or percent, and the tiers of a board
read in one script (real Redis), checked by brute force."""

from __future__ import annotations

import math

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.handlers import EnsureOnBoard
from tracker.products import ConfigError, parse_products
from tracker.storage import PreparedEvent, Ranks, Store
from tracker.tiers import Tier, parse_tiers, tier_of

TIERS = parse_tiers([{"name": "top", "rank": 2}, {"name": "gold", "score": 10},
                     {"name": "tenth", "percent": 10}, {"name": "rest"}])


def brute(scores: list[float], score: float) -> str:
    """The tier of a member with ``score`` on a board of ``scores``, by definition."""
    rank = 1 + sum(1 for s in scores if s > score)
    if rank <= 2:
        return "top"
    if score >= 10:
        return "gold"
    if rank <= max(1, math.ceil(len(scores) / 10)):
        return "tenth"
    return "rest"


@given(st.lists(st.integers(0, 15).map(float), min_size=1, max_size=60))
def test_tiers_match_their_definition(scores: list[float]) -> None:
    for score in scores:
        rank = 1 + sum(1 for s in scores if s > score)
        assert tier_of(TIERS, score, rank, len(scores)) == brute(scores, score)


def test_ties_share_a_tier() -> None:
    scores = [9.0, 5.0, 5.0, 5.0, 1.0]  # three tied second: competition rank 2 for all
    assert [tier_of(TIERS, s, 1 + sum(x > s for x in scores), 5) for s in scores] == [
        "top", "top", "top", "top", "rest"]


def test_percent_resolves_against_the_board_size() -> None:
    tier = Tier("best", percent=5)
    assert [tier.max_rank(n) for n in (0, 1, 19, 20, 21, 1000)] == [1, 1, 1, 1, 2, 50]


@pytest.mark.parametrize("spec", [
    [{"name": "only"}],
    [{"name": "a", "rank": 1}, {"name": "b", "rank": 2}],  # no fallback
    [{"name": "a"}, {"name": "b"}],  # a fallback before the last
    [{"name": "a", "rank": 1, "score": 3}, {"name": "b"}],
    [{"name": "a", "rank": 0}, {"name": "b"}],
    [{"name": "a", "rank": 1.5}, {"name": "b"}],
    [{"name": "a", "percent": 0}, {"name": "b"}],
    [{"name": "a", "percent": 101}, {"name": "b"}],
    [{"name": "a", "score": float("nan")}, {"name": "b"}],
    [{"name": "a", "score": True}, {"name": "b"}],
    [{"name": "a", "rank": 1}, {"name": "a"}],
    [{"name": " ", "rank": 1}, {"name": "b"}],
    [{"name": "a", "rank": 1, "colour": "red"}, {"name": "b"}],
    "gold",
])
def test_bad_tiers(spec: object) -> None:
    with pytest.raises(ValueError):
        parse_tiers(spec)
    with pytest.raises(ConfigError, match="tier"):
        parse_products({"products": {"p": {"handlers": [{"use": "wins", "tiers": spec}]}}})


def test_configured_on_a_handler_for_its_boards() -> None:
    products = parse_products({"products": {"p": {"handlers": [
        {"use": "elo", "tiers": [{"name": "master", "score": 1700}, {"name": "rest"}]},
        "wins"]}}})
    elo, wins = products["p"].boards
    assert elo.tiers == (Tier("master", score=1700.0), Tier("rest")) and wins.tiers == ()


FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(scores=st.lists(st.integers(-3, 15).map(float), min_size=0, max_size=40),
       percent=st.sampled_from([1.0, 10.0, 33.3, 50.0, 100.0]), rank=st.integers(1, 45))
def test_tier_thresholds_and_sizes_match_every_member(data: redis.Redis, scores: list[float],
                                                      percent: float, rank: int) -> None:
    data.flushdb()
    tiers = parse_tiers([{"name": "a", "rank": rank}, {"name": "b", "score": 10},
                         {"name": "c", "percent": percent}, {"name": "d", "score": 2},
                         {"name": "e"}])
    board = {f"m{i}": s for i, s in enumerate(scores)}
    if board:
        Store(data).apply("p", "s", [PreparedEvent(f"1700000000000-{i}", "",
                                                   [EnsureOnBoard("b", m, s)])
                                     for i, (m, s) in enumerate(board.items())])
    size, found = Ranks(data).tiers("p", "b", tiers)
    assert size == len(board)
    names = [t.name for t in tiers]
    placed = {m: names.index(tier_of(tiers, s, 1 + sum(x > s for x in scores), size))
              for m, s in board.items()}
    assert [n for _, n in found] == [sum(1 for i in placed.values() if i == k)
                                     for k in range(len(tiers))]
    for k, (low, _) in enumerate(found):  # "in tier k or better" is "score >= low"
        for m, s in board.items():
            assert (placed[m] <= k) == (low is None or s >= low), (k, m, s, low)
