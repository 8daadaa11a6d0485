"""GET /stats/<product_id>/<user_id> against a Redis filled by the real BatchProcessor."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import Feed
from tests.support.varcade import EXAMPLE, P1, P2, game_over

WEAPON_DATA = {"0": "rock", "1": "paper", "2": "scissors", "null": "botch"}


def select_weapon(user_id: str, data: str) -> dict[str, str]:
    return {"product_id": "exrps", "game_id": "g" * 32, "type": "gameplay",
            "event_name": "select_weapon", "event_data": data, "user_id": user_id}


def test_stats_match_an_independent_count(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(99)
    players = ["ann", "bob", "cid", "dee"]
    rows: list[dict[str, str]] = []
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for _ in range(40):
        winner, loser = rng.sample(players, 2)
        for p in (winner, loser):
            data = rng.choice(list(WEAPON_DATA))
            rows.append(select_weapon(p, data))
            expected[p][f"{WEAPON_DATA[data]}_selection_count"] += 1
        rows.append(game_over("exrps", winner, loser))
        expected[winner].update(games=1, wins=1)
        expected[loser].update(games=1, losses=1)
    feed("exrps", rows)

    for p in players:
        want = {"games": "0", "wins": "0", "losses": "0"}
        want.update({k: str(v) for k, v in expected[p].items()})
        resp = client.get(f"/stats/exrps/{p}")
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        assert resp.get_json() == want


def test_reference_example_gives_string_values_and_zero_shows(client: FlaskClient,
                                                             feed: Feed) -> None:
    feed("exrps", EXAMPLE)
    p1 = client.get(f"/stats/exrps/{P1}").get_json()
    assert p1 == {"games": "1", "wins": "1", "losses": "0", "rock_selection_count": "1"}
    assert all(isinstance(v, str) for v in p1.values())
    assert p1["losses"] == "0"  # truthy for the portal, unlike the number 0
    assert client.get(f"/stats/exrps/{P2}").get_json() == {
        "games": "1", "wins": "0", "losses": "1", "botch_selection_count": "1"}


@pytest.mark.parametrize("user_id", ["nobody", "None", "null", "x" * 128])
def test_player_without_data_is_an_empty_object(client: FlaskClient, feed: Feed,
                                                user_id: str) -> None:
    feed("exrps", EXAMPLE)
    resp = client.get(f"/stats/exrps/{user_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {}


def test_stats_of_another_product_are_separate(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "p1", "p2")])
    assert client.get("/stats/pong/p1").get_json() == {"games": "1", "wins": "1", "losses": "0"}
    assert client.get("/stats/exrps/p1").get_json() == {}


@pytest.mark.parametrize("product_id", ["nope", "default"])
def test_unknown_product_is_a_json_404(client: FlaskClient, product_id: str) -> None:
    resp = client.get(f"/stats/{product_id}/{P1}")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "unknown_product" and body["product_id"] == product_id


def test_too_long_user_id_is_a_json_400(client: FlaskClient) -> None:
    resp = client.get(f"/stats/exrps/{'x' * 129}")
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "invalid_user_id" and body["max_length"] == 128
