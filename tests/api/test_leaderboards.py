"""GET /leaderboards/top_ten/<product_id> against a Redis filled by the real BatchProcessor."""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from tests.api.conftest import Feed
from tests.support.varcade import EXAMPLE, P1, P2, game_over
from tracker.handlers.leaderboards import elo_delta
from tracker.settings import Settings


def zrevrange_order(board: dict[str, float]) -> list[tuple[str, float]]:
    """Best first; equal scores by descending member bytes (the documented tie rule)."""
    return sorted(board.items(), key=lambda kv: (kv[1], kv[0].encode()), reverse=True)


def test_top_ten_is_the_ten_best_of_an_independent_count(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(20240601)
    players = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(15)]
    games = [tuple(rng.sample(players, 2)) for _ in range(120)]
    feed("exrps", [game_over("exrps", w, lo) for w, lo in games])

    wins = Counter(w for w, _ in games)
    board = {p: float(wins[p]) for pair in games for p in pair}  # losers stay on at 0.0
    assert len(board) > 11
    expected = zrevrange_order(board)[:10]

    resp = client.get("/leaderboards/top_ten/exrps")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    rows = resp.get_json()
    assert len(rows) == 10  # not 11, as the original's inclusive ZREVRANGE 0 10
    assert [(r["user_id"], r["score"]) for r in rows] == expected
    assert all(set(r) == {"user_id", "score"} for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_reference_example_gives_the_documented_body(client: FlaskClient, feed: Feed) -> None:
    feed("exrps", EXAMPLE)
    resp = client.get("/leaderboards/top_ten/exrps")
    assert resp.get_json() == [{"user_id": P1, "score": 1.0}, {"user_id": P2, "score": 0.0}]
    assert resp.get_data(as_text=True).index("user_id") < resp.get_data(as_text=True).index("score")


def test_equal_scores_come_by_descending_user_id(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", w, lo) for w, lo in [("a", "x"), ("c", "x"), ("b", "x")]])
    rows = client.get("/leaderboards/top_ten/pong").get_json()
    assert [r["user_id"] for r in rows] == ["c", "b", "a", "x"]


def test_fewer_than_ten_players(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "p1", "p2"), game_over("pong", "p1", "p3")])
    assert client.get("/leaderboards/top_ten/pong").get_json() == [
        {"user_id": "p1", "score": 2.0},
        {"user_id": "p3", "score": 0.0},
        {"user_id": "p2", "score": 0.0},
    ]


@pytest.mark.parametrize("product_id", ["exrps", "pong", "chess"])
def test_configured_product_without_data_is_an_empty_list(client: FlaskClient,
                                                          product_id: str) -> None:
    resp = client.get(f"/leaderboards/top_ten/{product_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == []


def test_products_are_separate(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "p1", "p2")])
    assert client.get("/leaderboards/top_ten/exrps").get_json() == []


@pytest.mark.parametrize("product_id", ["nope", "default", "EXRPS"])
def test_unknown_product_is_a_json_404(client: FlaskClient, feed: Feed, product_id: str) -> None:
    feed("exrps", EXAMPLE)
    resp = client.get(f"/leaderboards/top_ten/{product_id}")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "unknown_product" and body["product_id"] == product_id
    assert body["message"]


def test_board_query_selects_the_elo_board(client: FlaskClient, feed: Feed) -> None:
    feed("exrps", [game_over("exrps", "a", "b"), game_over("exrps", "a", "c")])
    second = elo_delta(1516, 1500, 32)
    assert client.get("/leaderboards/top_ten/exrps?board=elo").get_json() == [
        {"user_id": "a", "score": 1516 + second},
        {"user_id": "c", "score": 1500 - second},
        {"user_id": "b", "score": 1484.0},
    ]
    assert client.get("/leaderboards/top_ten/exrps?board=wins").get_json()[0] == {
        "user_id": "a", "score": 2.0}


def test_product_without_wins_board_uses_its_first_board(client: FlaskClient, feed: Feed) -> None:
    feed("chess", [game_over("chess", "a", "b")])
    delta = elo_delta(1200, 1200, 20)
    assert client.get("/leaderboards/top_ten/chess").get_json() == [
        {"user_id": "a", "score": 1200 + delta},
        {"user_id": "b", "score": 1200 - delta},
    ]


@pytest.mark.parametrize("query", ["?board=elo", "?board=", "?board=WINS"])
def test_unknown_board_is_a_json_404(client: FlaskClient, query: str) -> None:
    resp = client.get(f"/leaderboards/top_ten/pong{query}")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "unknown_board" and body["product_id"] == "pong"
    assert body["boards"] == ["wins"]


def test_product_with_no_board_is_a_json_404(settings: Settings, tmp_path: Path) -> None:
    products = tmp_path / "products.toml"
    products.write_text('[products]\nstatsonly = { handlers = ["player_stats"] }\n')
    app = create_app(Settings(redis_url=settings.redis_url, products_file=str(products)))
    resp = app.test_client().get("/leaderboards/top_ten/statsonly")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "no_leaderboard"


def test_unexpected_redis_error_is_a_logged_json_500(client: FlaskClient, data: redis.Redis,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    data.set("st:{pong}:lb:wins", "not a sorted set")  # WRONGTYPE on ZRANGE
    with caplog.at_level(logging.ERROR):
        resp = client.get("/leaderboards/top_ten/pong")
    assert resp.status_code == 500 and resp.mimetype == "application/json"
    assert resp.get_json() == {"error": "internal_error",
                               "message": "An unexpected error occurred."}
    assert any("WRONGTYPE" in (r.exc_text or "") for r in caplog.records)
