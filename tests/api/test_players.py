"""Typed player stats: one product, and every product in one call."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.conftest import Feed, Token, bearer
from tests.support.varcade import EXAMPLE, P1, P2, game_over


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
