"""Seasons through the read API: a board kept per season is read with ?period=<season id>,
lists its seasons, and a closed season's standings stay in its archive."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime, timedelta
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

TODAY = datetime.now(UTC).date()
PAST = ("spring", TODAY - timedelta(days=60), TODAY - timedelta(days=30))
NOW = ("summer", TODAY - timedelta(days=10), TODAY + timedelta(days=20))
NEXT = ("autumn", TODAY + timedelta(days=20), TODAY + timedelta(days=50))
BOARD = "/products/pong/boards/wins"


@pytest.fixture
def seasoned(settings: Settings, tmp_path: Path) -> tuple[Settings, Products]:
    calendar = ", ".join(f'{{ id = "{i}", start = {s}, end = {e} }}' for i, s, e in
                         (PAST, NOW, NEXT))
    config = tmp_path / "products.toml"
    config.write_text(f'[products.pong]\nhandlers = [{{ use = "wins", periods = ["season"], '
                      f'keep_periods = 1, seasons = [{calendar}] }}]\n')
    return dataclasses.replace(settings, products_file=str(config)), load_products(config)


def play(data: redis.Redis, products: Products, day: date, games: list[tuple[str, str]]
         ) -> None:
    """``games`` at noon of ``day``, applied then."""
    at = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000)
    processor = BatchProcessor(products, Store(data), DeadLetters(data),
                               clock=lambda: at / 1000 + 60)
    processor.process("pong", "s", [(f"{at + i}-0", raw(game_over("pong", w, lo)))
                                    for i, (w, lo) in enumerate(games)])


@pytest.fixture
def client(seasoned: tuple[Settings, Products], data: redis.Redis) -> FlaskClient:
    settings, products = seasoned
    play(data, products, PAST[1] + timedelta(days=3), [("ann", "bob"), ("ann", "cid")])
    play(data, products, TODAY, [("bob", "ann"), ("bob", "cid"), ("cid", "ann")])
    PeriodResults(data).close_due(products["pong"], int(time.time() * 1000))
    return create_app(settings, ApiSettings(rate_limit="off")).test_client()


def test_a_season_is_read_like_any_period(client: FlaskClient) -> None:
    now = client.get(f"{BOARD}/entries?period=summer&ties=competition").get_json()
    assert now["period"] == "summer"
    assert [(e["user_id"], e["score"]) for e in now["entries"]] == [
        ("bob", 2.0), ("cid", 1.0), ("ann", 0.0)]
    past = client.get(f"{BOARD}/players/ann?period=spring").get_json()
    assert (past["score"], past["rank"]) == (2.0, 1)
    listed = client.get(f"{BOARD}/periods").get_json()["periods"]
    assert [(p["id"], p["kind"], p["final"]) for p in listed] == [
        ("summer", "season", False), ("spring", "season", True)]
    assert listed[0]["start"] == NOW[1].isoformat() and listed[0]["end"] == NOW[2].isoformat()
    assert listed[0]["starts_at"] == f"{NOW[1].isoformat()}T00:00:00+00:00"
    described = client.get("/products/pong").get_json()["boards"][0]["periods"]
    assert [s["id"] for s in described["seasons"]] == ["spring", "summer", "autumn"]
    # not begun yet, not a season of the board
    for period, words in (("autumn", "is not readable"), ("winter", "a season the board has")):
        answer = client.get(f"{BOARD}/entries?period={period}")
        assert answer.status_code == 404 and words in answer.get_json()["message"]


def test_a_closed_season_stays_in_the_archive(client: FlaskClient, data: redis.Redis) -> None:
    listing = client.get(f"{BOARD}/archive").get_json()
    assert [p["id"] for p in listing["periods"]] == ["spring"]
    spring = client.get(f"{BOARD}/archive/spring").get_json()
    assert [(e["rank"], e["score"]) for e in spring["entries"]] == [(1, 2.0), (2, 0.0), (2, 0.0)]
    assert spring["entries"][0]["user_id"] == "ann"
    assert spring["kind"] == "season" and spring["size"] == 3
    assert client.get(f"{BOARD}/archive/summer").get_json()["error"] == "not_archived"
