"""Seasons set at run time (``seasons = "manual"``) through the read API: listed with the
board, read with ?period=<season id> like any period, archived once closed."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from tests.support.varcade import game_over, raw
from tracker.closing import PeriodResults
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

HOUR = 3_600_000
BOARD = "/products/pong/boards/wins"


@pytest.fixture
def client(settings: Settings, data: redis.Redis, tmp_path: Path) -> FlaskClient:
    """Season "cup" two hours ago (closed), "league" now, "next" in a day; games in both
    played."""
    config = tmp_path / "products.toml"
    config.write_text('[products.pong]\nhandlers = [{ use = "wins", periods = ["season"], '
                      'seasons = "manual", grace_seconds = 60 }]\n')
    products: Products = load_products(config)
    now = int(time.time() * 1000)
    data.set("st:{pong}:seasons:wins", json.dumps([
        ["cup", str(now - 3 * HOUR), str(now - 2 * HOUR)],
        ["league", str(now - HOUR), str(now + HOUR)],
        ["next", str(now + 24 * HOUR), str(now + 48 * HOUR)]]))
    for at, games in ((now - 3 * HOUR + 1000, [("ann", "bob"), ("ann", "cid")]),
                      (now - 1000, [("bob", "ann"), ("bob", "cid"), ("cid", "ann")])):
        BatchProcessor(products, Store(data), DeadLetters(data),
                       clock=lambda at=at: at / 1000 + 1).process(
            "pong", "s", [(f"{at + i}-0", raw(game_over("pong", w, lo)))
                          for i, (w, lo) in enumerate(games)])
    PeriodResults(data).close_due(products["pong"], now)
    return create_app(dataclasses.replace(settings, products_file=str(config)),
                      ApiSettings(rate_limit="off")).test_client()


def test_seasons_set_at_run_time_are_listed_and_read_like_any_period(
        client: FlaskClient) -> None:
    described = client.get("/products/pong").get_json()["boards"][0]["periods"]
    assert described["manual_seasons"] is True
    assert [s["id"] for s in described["seasons"]] == ["cup", "league", "next"]
    assert client.get("/products").get_json()["products"][0]["boards"][0]["periods"][
        "seasons"] == described["seasons"]
    league = client.get(f"{BOARD}/entries?period=league").get_json()
    assert league["period"] == "league"
    assert [(e["user_id"], e["score"]) for e in league["entries"]] == [
        ("bob", 2.0), ("cid", 1.0), ("ann", 0.0)]
    ann = client.get(f"{BOARD}/players/ann?period=cup").get_json()
    assert (ann["score"], ann["rank"]) == (2.0, 1)
    listed = client.get(f"{BOARD}/periods").get_json()["periods"]
    assert [(p["id"], p["final"]) for p in listed] == [("league", False), ("cup", True)]
    for period, words in (("next", "is not readable"), ("winter", "a season the board has")):
        answer = client.get(f"{BOARD}/entries?period={period}")
        assert answer.status_code == 404 and words in answer.get_json()["message"]


def test_a_closed_season_set_at_run_time_stays_in_the_archive(client: FlaskClient) -> None:
    assert [p["id"] for p in client.get(f"{BOARD}/archive").get_json()["periods"]] == ["cup"]
    cup = client.get(f"{BOARD}/archive/cup").get_json()
    assert (cup["entries"][0]["user_id"], cup["entries"][0]["rank"]) == ("ann", 1)
    assert cup["kind"] == "season" and cup["size"] == 3
