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
