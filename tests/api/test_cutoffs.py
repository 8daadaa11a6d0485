"""``…/boards/<board>/cutoffs?top=…``: the score it takes to be within the best ``top`` %
of a board, checked against brute force on boards with many ties, highest first, lowest
first and breaking ties by time, and against the board's own percent tiers."""

from __future__ import annotations

import math
import random

from flask.testing import FlaskClient

from tests.api.conftest import Feed
from tests.support.handlers import race_lap
from tests.support.varcade import game_over, submitted

TOPS = [0.5, 1, 10, 25, 33.3, 50, 99.9, 100]


def expected(scores: list[float], top: float, lowest_first: bool = False) -> dict[str, float]:
    """By brute force: the n-th best score, n = ceil(top * size / 100) at least 1, and the
    players with it or a better one."""
    ordered = sorted(scores, reverse=not lowest_first)
    n = max(1, math.ceil(top * len(scores) / 100))
    cut = ordered[n - 1]
    return {"top": top, "score": cut,
            "players": sum(s <= cut if lowest_first else s >= cut for s in scores)}


def query(tops: list[float]) -> str:
    return "&".join(f"top={t}" for t in tops)


def test_cutoffs_of_a_board_with_many_ties(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(5)
    players = [f"p{i:02d}" for i in range(40)]
    feed("exrps", [game_over("exrps", *rng.sample(players, 2)) for _ in range(150)])
    wins = {r["user_id"]: r["score"] for r in client.get(
        "/products/exrps/boards/wins/entries?limit=100").get_json()["entries"]}
    assert len(wins) == 40 and len(set(wins.values())) < 20  # many ties
    answer = client.get(f"/products/exrps/boards/wins/cutoffs?{query(TOPS)}").get_json()
    assert answer == {"product_id": "exrps", "board": "wins", "size": 40,
                      "cutoffs": [expected(list(wins.values()), t) for t in TOPS]}
    # a percent tier's threshold is the same cutoff (darts: silver = the best 50 %)
    feed("darts", [game_over("darts", *rng.sample(players, 2)) for _ in range(60)])
    silver = next(t for t in client.get("/products/darts/boards/wins/tiers").get_json()["tiers"]
                  if t["name"] == "silver")
    cut = client.get("/products/darts/boards/wins/cutoffs?top=50").get_json()["cutoffs"][0]
    assert cut["score"] == silver["threshold"]


def test_cutoffs_of_lowest_first_and_timed_boards(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(8)
    laps = [(f"d{rng.randint(0, 19)}", rng.randint(55, 62)) for _ in range(60)]
    feed("race", [race_lap("race", d, lap, 0) for d, lap in laps])
    best: dict[str, float] = {}
    for d, lap in laps:
        best[d] = min(best.get(d, lap), lap)
    answer = client.get(f"/products/race/boards/laps/cutoffs?{query(TOPS)}").get_json()
    assert answer["cutoffs"] == [expected(list(best.values()), t, lowest_first=True)
                                 for t in TOPS]
    highs = {f"s{i}": rng.randint(0, 6) * 100 for i in range(30)}
    feed("snake", [submitted("snake", "high_score", u, s) for u, s in highs.items()])
    answer = client.get(f"/products/snake/boards/high_score/cutoffs?{query(TOPS)}").get_json()
    assert answer["cutoffs"] == [expected([float(s) for s in highs.values()], t) for t in TOPS]
    week = client.get("/products/snake/boards/high_score/periods").get_json()["periods"]
    for period in week:  # feed's events are of 2023: no readable week holds them
        by_week = client.get(f"/products/snake/boards/high_score/cutoffs?top=10"
                             f"&period={period['id']}").get_json()
        assert (by_week["period"], by_week["size"], by_week["cutoffs"]) == (
            period["id"], period["size"], [])


def test_an_empty_board_and_bad_queries(client: FlaskClient) -> None:
    empty = client.get("/products/pong/boards/wins/cutoffs?top=10&top=50").get_json()
    assert empty == {"product_id": "pong", "board": "wins", "size": 0, "cutoffs": []}
    for bad, says in [("", "top: Missing data"),
                      ("?top=0", "top[0]: Must be greater than 0 and less than or equal to 100."),
                      ("?top=5&top=100.5", "top[1]: Must be greater than 0"),
                      ("?top=ten", "top[0]: Not a valid number."), ("?top=nan", "top[0]"),
                      ("?" + query([1] * 21), "top"), ("?top=5&period=someday!", "period"),
                      ("?top=5&limit=3", "limit")]:
        resp = client.get(f"/products/pong/boards/wins/cutoffs{bad}")
        assert resp.status_code == 422 and resp.mimetype == "application/json", bad
        body = resp.get_json()
        assert body["error"] == "invalid_query" and says in body["message"], (bad, body)
    missing = client.get("/products/pong/boards/nope/cutoffs?top=5")
    assert missing.status_code == 404 and missing.get_json()["error"] == "unknown_board"
