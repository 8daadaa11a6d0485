"""GET /products and /products/<id>: the configured products, boards and handlers."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from tracker.settings import Settings

EXRPS = {
    "id": "exrps",
    "boards": [
        {"name": "wins", "kind": "points", "order": "desc", "ties": "competition",
         "tie_break": "member", "start": 0.0, "periods": None, "tiers": [], "history": 0,
         "records": False, "attempts": 0, "subscore": None, "max_players": 0,
         "join_required": False, "rate_limit": None},
        {"name": "elo", "kind": "rating", "order": "desc", "ties": "competition",
         "tie_break": "member", "start": 1500.0, "periods": None, "tiers": [], "history": 0,
         "records": False, "attempts": 0, "subscore": None, "max_players": 0,
         "join_required": False, "rate_limit": None},
    ],
    "handlers": [
        {"name": "wins", "boards": ["wins"]},
        {"name": "elo", "boards": ["elo"]},
        {"name": "exrps_stats", "boards": []},
    ],
}


def test_list_products(client: FlaskClient) -> None:
    resp = client.get("/products")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    products = resp.get_json()["products"]
    assert [p["id"] for p in products] == ["chess", "cup", "darts", "edx", "exrps", "pong",
                                           "race", "snake", "tennis"]
    by_id = {p["id"]: p for p in products}
    assert by_id["exrps"] == EXRPS
    assert by_id["edx"]["handlers"] == [{"name": "edx_logs", "boards": []}]
    assert (by_id["cup"]["boards"][0]["attempts"], by_id["cup"]["boards"][0]["max_players"]) \
        == (3, 50)
    assert products[0]["boards"] == [
        {"name": "elo", "kind": "rating", "order": "desc", "ties": "dense", "tie_break": "member",
         "start": 1200.0, "periods": None, "tiers": [], "history": 0,
         "records": False, "attempts": 0, "subscore": None, "max_players": 0,
         "join_required": False, "rate_limit": None}]
    assert by_id["darts"]["boards"][0]["periods"] == {
        "kinds": ["week", "month"], "keep": 2, "grace_seconds": 600, "bucket_size": 0,
        "results_top": 10, "seasons": [], "manual_seasons": False, "utc_offset": "+00:00"}
    assert by_id["pong"]["handlers"] == [{"name": "wins", "boards": ["wins"]},
                                         {"name": "player_stats", "boards": []}]


def test_one_product(client: FlaskClient) -> None:
    assert client.get("/products/exrps").get_json() == EXRPS
    resp = client.get("/products/nope")
    assert resp.status_code == 404 and resp.get_json()["error"] == "unknown_product"


def test_custom_handler_and_product_tie_mode(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text(
        '[default]\nties = "ordinal"\n[products]\n'
        'a = { handlers = ["wins", { use = "elo", ties = "dense" }] }\n'
        'b = { ties = "dense", handlers = ["tests.tracker.test_products:StreakBonus"] }\n')
    settings = Settings(redis_url=settings.redis_url, products_file=str(config))
    client = create_app(settings, ApiSettings(rate_limit="off")).test_client()
    a, b = client.get("/products").get_json()["products"]
    assert [(x["name"], x["ties"]) for x in a["boards"]] == [("wins", "ordinal"),
                                                             ("elo", "dense")]
    assert b["handlers"] == [{"name": "streak_bonus", "boards": ["bonus"]}]
    assert b["boards"][0]["ties"] == "dense"
