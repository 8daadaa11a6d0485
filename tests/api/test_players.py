"""A player across products: typed stats (one product, and every product in one call)
and its standings on every board."""

from __future__ import annotations

import redis
from flask.testing import FlaskClient

from tests.api.conftest import Feed, Token, bearer
from tests.support.varcade import EXAMPLE, P1, P2, game_over, submitted


def test_stats_of_one_product_are_integers(secured: FlaskClient, feed: Feed,
                                           token: Token) -> None:
    feed("exrps", EXAMPLE)
    resp = secured.get(f"/products/exrps/players/{P1}/stats", headers=bearer(token(sub=P1)))
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {"product_id": "exrps", "user_id": P1, "stats": {
        "games": 1, "wins": 1, "losses": 0, "rock_selection_count": 1}}
    reader = bearer(token(sub="portal", scope="stats:read"))
    body = secured.get(f"/products/exrps/players/{P2}/stats", headers=reader).get_json()
    assert body["stats"] == {"games": 1, "wins": 0, "losses": 1, "botch_selection_count": 1}
    body = secured.get("/products/pong/players/nobody/stats", headers=reader).get_json()
    assert body == {"product_id": "pong", "user_id": "nobody", "stats": {}}
    resp = secured.get("/products/nope/players/x/stats", headers=reader)
    assert resp.status_code == 404 and resp.get_json()["error"] == "unknown_product"


def test_stats_across_all_products(secured: FlaskClient, feed: Feed, token: Token) -> None:
    feed("exrps", EXAMPLE)
    feed("pong", [game_over("pong", P1, "x"), game_over("pong", "x", P1)])
    feed("chess", [game_over("chess", "y", P1)])
    resp = secured.get(f"/players/{P1}/stats", headers=bearer(token(sub=P1)))
    assert resp.status_code == 200
    assert resp.get_json() == {"user_id": P1, "products": {
        "chess": {"games": 1, "wins": 0, "losses": 1},
        "exrps": {"games": 1, "wins": 1, "losses": 0, "rock_selection_count": 1},
        "pong": {"games": 2, "wins": 1, "losses": 1},
    }}
    body = secured.get("/players/nobody/stats", headers=bearer(token(sub="nobody"))).get_json()
    assert body == {"user_id": "nobody", "products": {}}


def test_too_long_user_id_is_400(secured: FlaskClient, token: Token) -> None:
    reader = bearer(token(scope="stats:read"))
    for path in (f"/players/{'x' * 129}/stats", f"/products/exrps/players/{'x' * 129}/stats"):
        resp = secured.get(path, headers=reader)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_user_id"


def test_a_players_standings_on_every_board(client: FlaskClient, feed: Feed,
                                            data: redis.Redis) -> None:
    feed("exrps", [*EXAMPLE, game_over("exrps", P2, "x")])
    feed("chess", [game_over("chess", "y", P1), game_over("chess", P1, "z")])
    feed("snake", [submitted("snake", "high_score", P1, 70, metadata='{"car": "red"}'),
                   submitted("snake", "total", P1, 5), submitted("snake", "total", "q", 9)])
    body = client.get(f"/players/{P1}/boards").get_json()
    assert body["user_id"] == P1
    found = {(b["product_id"], b["board"]): b for b in body["boards"]}
    assert list(found) == [("exrps", "wins"), ("exrps", "elo"), ("chess", "elo"),
                           ("snake", "high_score"), ("snake", "total")]  # configuration order
    for (product, board), row in found.items():  # what each board's own route says
        one = client.get(f"/products/{product}/boards/{board}/players/{P1}").get_json()
        del one["user_id"]
        assert row == {**one, "kind": row["kind"]}
    assert found["snake", "high_score"]["metadata"] == {"car": "red"}
    assert found["snake", "total"]["rank"] == 2 and found["snake", "total"]["submissions"] == 1
    assert "submissions" not in found["exrps", "wins"]  # a board without records

    dense = client.get(f"/players/{P1}/boards?ties=dense&product_id=snake&product_id=chess")
    assert [(b["product_id"], b["ties"]) for b in dense.get_json()["boards"]] == [
        ("snake", "dense"), ("snake", "dense"), ("chess", "dense")]  # in the order asked
    assert client.get("/players/nobody/boards").get_json() == {"user_id": "nobody",
                                                                "boards": []}
    unknown = client.get(f"/players/{P1}/boards?product_id=nope")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_product"
    bad = client.get(f"/players/{P1}/boards?ties=worst")
    assert bad.status_code == 422 and "ties" in bad.get_json()["message"]

    data.script_flush()  # a restarted Redis has lost the script: it is loaded again
    assert client.get(f"/players/{P1}/boards").get_json() == body
