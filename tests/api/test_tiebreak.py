"""A board that breaks ties by time, through every board route: of two equal scores,
the one reached first comes first, and every score reads as the score.

tennis (tests/products.toml) says ``tie_break = "earliest"``: its wins (per week too,
in buckets of 2, with tiers) and streak boards take it; its Elo board keeps user id
order.
"""

from __future__ import annotations

import random
import time

import redis
from flask.testing import FlaskClient

from tests.tracker.test_tiebreak import Game, tennis_entries, wins_standings
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.storage import DeadLetters, Store

BOARD = "/products/tennis/boards/wins"
PLAYERS = [f"p{i}" for i in range(9)]


def played(products: Products, store: Store, data: redis.Redis) -> list[tuple[str, float]]:
    """40 games of tennis this week, a few seconds apart (some in the same second),
    through the pipeline; the wins board in board order, by brute force."""
    rng = random.Random(5)
    games: list[Game] = []
    second = 0
    for _ in range(40):
        w, lo = rng.sample(PLAYERS, 2)
        second += rng.choice([0, 1, 3])
        games.append((w, lo, second))
    t0 = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).start_ms + 3_600_000
    entries = tennis_entries(games, base_ms=t0)
    report = BatchProcessor(products, store, DeadLetters(data),
                            clock=lambda: t0 / 1000).process("tennis", "s", entries)
    assert report.applied == len(games) and not report.dead_lettered
    return wins_standings(games)


def test_every_route_ranks_the_first_to_reach_a_score_first(
        client: FlaskClient, products: Products, store: Store, data: redis.Redis) -> None:
    expected = played(products, store, data)
    scores = [s for _, s in expected]
    assert len(set(scores)) < len(scores)  # there are ties to break
    described = client.get(BOARD).get_json()
    assert (described["tie_break"], described["size"]) == ("earliest", len(expected))
    assert described["distinct_scores"] == len(set(scores))
    boards = client.get("/products/tennis").get_json()["boards"]
    assert {b["name"]: b["tie_break"] for b in boards} == {
        "wins": "earliest", "elo": "member", "streak": "earliest"}

    rows = client.get(f"{BOARD}/entries?limit=100&ties=ordinal").get_json()["entries"]
    assert [(r["user_id"], r["score"], r["rank"]) for r in rows] == [
        (u, s, i) for i, (u, s) in enumerate(expected, 1)]
    competition = [1 + sum(x > s for x in scores) for s in scores]
    rows = client.get(f"{BOARD}/entries?limit=100").get_json()["entries"]
    assert [r["rank"] for r in rows] == competition
    walked, url = [], f"{BOARD}/entries?limit=2"
    while url:  # keyset pages of two, across equal scores
        page = client.get(url).get_json()
        walked += [r["user_id"] for r in page["entries"]]
        url = page["next_cursor"] and f"{BOARD}/entries?limit=2&cursor={page['next_cursor']}"
    assert walked == [u for u, _ in expected]
    back: list[str] = []
    cursor = page["prev_cursor"]  # from the last page back to the first
    back = [r["user_id"] for r in page["entries"]]
    while cursor:
        page = client.get(f"{BOARD}/entries?limit=2&cursor={cursor}").get_json()
        back = [r["user_id"] for r in page["entries"]] + back
        cursor = page.get("prev_cursor")
    assert back == walked

    for ordinal, (user, score) in enumerate(expected, 1):
        mine = client.get(f"{BOARD}/players/{user}?ties=ordinal").get_json()
        assert (mine["score"], mine["rank"]) == (score, ordinal)
        assert mine["tier"] == ("top" if competition[ordinal - 1] <= 2 else "rest")
    middle = expected[len(expected) // 2][0]
    window = client.get(f"{BOARD}/players/{middle}/around?limit=3").get_json()["entries"]
    i = len(expected) // 2
    assert [(r["user_id"], r["score"]) for r in window] == expected[i - 1:i + 2]
    listed = client.get(f"{BOARD}/players?user_id={expected[-1][0]}&user_id={expected[0][0]}"
                        ).get_json()["players"]
    assert [(p["user_id"], p["score"]) for p in listed] == [expected[0], expected[-1]]
    tiers = {t["name"]: t for t in client.get(f"{BOARD}/tiers").get_json()["tiers"]}
    assert tiers["top"]["threshold"] == scores[1]  # the second best's score, not its number
    assert tiers["top"]["members"] == sum(c <= 2 for c in competition)
    top = client.get("/leaderboards/top_ten/tennis").get_json()
    assert top == [{"user_id": u, "score": s} for u, s in expected[:10]]


def test_period_and_bucket_routes(client: FlaskClient, products: Products, store: Store,
                                  data: redis.Redis) -> None:
    expected = played(products, store, data)
    periods = client.get(f"{BOARD}/periods").get_json()["periods"]
    this_week = periods[0]["id"]
    rows = client.get(f"{BOARD}/entries?limit=100&period={this_week}").get_json()["entries"]
    assert [(r["user_id"], r["score"]) for r in rows] == expected
    buckets = client.get(f"{BOARD}/buckets?period={this_week}").get_json()
    seen: list[tuple[str, float]] = []
    for k in range(buckets["buckets"]):
        page = client.get(f"{BOARD}/buckets/{k}/entries?limit=100&period={this_week}"
                          ).get_json()["entries"]
        members = [(r["user_id"], r["score"]) for r in page]
        assert members == [r for r in expected if r in members]  # the board's order
        for rank, (user, score) in enumerate(members, 1):
            mine = client.get(f"{BOARD}/players/{user}/bucket?period={this_week}&ties=ordinal"
                              ).get_json()
            assert (mine["bucket"], mine["score"], mine["rank"]) == (k, score, rank)
        seen += members
    assert sorted(seen) == sorted(expected)
