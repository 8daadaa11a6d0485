"""A board's write rate limit in the read API: the board's description says it, and a
player's standing says its current window (counted, left), as a game shows attempts left.
Real Redis, filled through the batch processor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from api.schemas import StandingSchema
from api.state import EXTENSION
from tests.api.conftest import PLAIN
from tests.conftest import TEST_PRODUCTS
from tests.support.varcade import raw, submitted
from tracker.processing import BatchProcessor
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

HOUR = 3_600_000


@pytest.fixture
def arcade(settings: Settings, tmp_path: Path) -> Iterator[FlaskClient]:
    """An arcade whose total counts 2 submissions of a player per hour; ann sent 4."""
    limited = tmp_path / "products.toml"
    limited.write_text(TEST_PRODUCTS.read_text() + (
        'arcade = { handlers = [{ use = "score", board = "total", operator = "sum", '
        'rate_limit = { submissions = 2, seconds = 3600 } }, '
        '{ use = "score", board = "best" }] }\n'))
    hour = int(time.time() * 1000) // HOUR * HOUR
    store = Store(redis.Redis.from_url(settings.redis_url))
    BatchProcessor(load_products(limited), store, DeadLetters(store.client)).process(
        "arcade", "s", [(f"{hour + i}-0", raw(submitted("arcade", board, "ann", 5)))
                        for i, board in enumerate(["total"] * 4 + ["best"])])
    app = create_app(replace(settings, products_file=str(limited)), PLAIN)
    yield app.test_client()
    app.extensions[EXTENSION].close()


def test_the_standing_says_the_current_window(arcade: FlaskClient) -> None:
    hour = int(time.time() * 1000) // HOUR * HOUR
    got = arcade.get("/products/arcade/boards/total/players/ann")
    assert got.status_code == 200, got.json
    body = got.json
    assert body is not None and StandingSchema().validate(body) == {}
    if body["rate"]["window_start"] != hour:  # the hour turned meanwhile: a new window
        assert body["rate"] == {"window_start": hour + HOUR, "window_end": hour + 2 * HOUR,
                                "counted": 0, "left": 2}
    else:
        assert body["rate"] == {"window_start": hour, "window_end": hour + HOUR,
                                "counted": 2, "left": 0}
    assert (body["score"], body["submissions"]) == (10.0, 2)  # two of four counted
    assert "rate" not in arcade.get("/products/arcade/boards/best/players/ann").json
    assert arcade.get("/products/arcade/boards/total/players/bob").status_code == 404


def test_the_description_says_the_limit(arcade: FlaskClient) -> None:
    boards = {b["name"]: b for b in arcade.get("/products/arcade").json["boards"]}
    assert boards["total"]["rate_limit"] == {"submissions": 2, "seconds": 3600}
    assert boards["best"]["rate_limit"] is None
    described = arcade.get("/products/arcade/boards/total").json
    assert described["rate_limit"] == {"submissions": 2, "seconds": 3600}
    schema = arcade.get("/openapi.json").json["components"]["schemas"]
    assert set(schema["RateWindow"]["properties"]) == {"window_start", "window_end",
                                                       "counted", "left"}
