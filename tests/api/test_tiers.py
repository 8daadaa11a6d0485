"""Tiers through the API: every row and standing of a board with tiers names its tier.

darts's wins board (tests/products.toml): gold = rank 1, silver = the best 50 %,
bronze = at least 1 point, wood = everyone else; ranks are competition ranks.
"""

from __future__ import annotations

import math
import random

from flask.testing import FlaskClient

from tests.api.conftest import Feed
from tests.support.varcade import game_over

BOARD = "/products/darts/boards/wins"
PLAYERS = [f"p{i}" for i in range(9)]


def expected_tier(board: dict[str, float], user: str) -> str:
    score = board[user]
    rank = 1 + sum(1 for s in board.values() if s > score)
    if rank == 1:
        return "gold"
    if rank <= math.ceil(len(board) / 2):
        return "silver"
    return "bronze" if score >= 1 else "wood"


def test_rows_and_standings_carry_their_tier(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(5)
    games = [tuple(rng.sample(PLAYERS, 2)) for _ in range(14)]
    feed("darts", [game_over("darts", w, lo) for w, lo in games])
    board = {e["user_id"]: e["score"]
             for e in client.get(f"{BOARD}/entries?limit=100").get_json()["entries"]}
    tiers = {u: expected_tier(board, u) for u in board}
    assert set(tiers.values()) >= {"gold", "silver", "wood"}
    for mode in ("ordinal", "competition", "dense"):  # tiers do not depend on the mode
        rows = client.get(f"{BOARD}/entries?limit=100&ties={mode}").get_json()["entries"]
        assert {r["user_id"]: r["tier"] for r in rows} == tiers
        for user in board:
            standing = client.get(f"{BOARD}/players/{user}?ties={mode}").get_json()
            assert standing["tier"] == tiers[user]
        around = client.get(f"{BOARD}/players/{PLAYERS[0]}/around?limit=3").get_json()
        assert all(r["tier"] == tiers[r["user_id"]] for r in around["entries"])
    listed = client.get(f"{BOARD}/players?user_id=p1&user_id=p2").get_json()["players"]
    assert [p["tier"] for p in listed] == [tiers[p["user_id"]] for p in listed]


def test_boards_without_tiers_say_nothing_of_them(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "a", "b")])
    rows = client.get("/products/pong/boards/wins/entries").get_json()["entries"]
    assert rows and all("tier" not in r for r in rows)
    assert "tier" not in client.get("/products/pong/boards/wins/players/a").get_json()
    described = client.get("/products/darts").get_json()["boards"][0]
    assert described["tiers"] == [{"name": "gold", "rank": 1},
                                  {"name": "silver", "percent": 50.0},
                                  {"name": "bronze", "score": 1.0}, {"name": "wood"}]
    assert client.get("/products/pong").get_json()["boards"][0]["tiers"] == []


def test_the_tiers_listing(client: FlaskClient, feed: Feed) -> None:
    # p0 4 wins, p1 2, p2 and p3 1, p4 to p7 none: gold p0, silver up to rank 4, then
    # bronze (1 point or more) would be empty, wood the rest
    games = [("p0", "p4")] * 4 + [("p1", "p5")] * 2 + [("p2", "p6"), ("p3", "p7")]
    feed("darts", [game_over("darts", w, lo) for w, lo in games])
    body = client.get(f"{BOARD}/tiers").get_json()
    assert (body["product_id"], body["board"], body["size"]) == ("darts", "wins", 8)
    assert "period" not in body
    assert body["tiers"] == [
        {"name": "gold", "rank": 1, "threshold": 4.0, "members": 1},
        {"name": "silver", "percent": 50.0, "threshold": 1.0, "members": 3},
        {"name": "bronze", "score": 1.0, "threshold": 1.0, "members": 0},
        {"name": "wood", "members": 4},
    ]
    members = client.get(f"{BOARD}/entries?limit=100").get_json()["entries"]
    by_tier = {t["name"]: t["members"] for t in body["tiers"]}
    assert by_tier == {n: sum(1 for r in members if r["tier"] == n) for n in by_tier}
    plain = client.get("/products/pong/boards/wins/tiers").get_json()
    assert plain["tiers"] == [] and plain["size"] == 0
