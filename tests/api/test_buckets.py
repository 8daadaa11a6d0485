"""Buckets of a board's periods through the API.

race (tests/products.toml) keeps its laps board (lowest first) per week, in buckets
of 3 drivers: the first three drivers of the week are bucket 0, the next three 1…
"""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from tests.api.conftest import Feed
from tests.support.handlers import race_lap
from tracker.periods import Period, PeriodKind

BOARD = "/products/race/boards/laps"
# (driver, lap) in event order: d4, d2, d7 open the week (bucket 0), d1, d5, d3 come next
LAPS = [("d4", 61), ("d2", 58), ("d7", 64), ("d2", 57), ("d1", 59), ("d5", 59),
        ("d3", 66), ("d4", 60), ("d0", 62)]


def test_players_are_ranked_within_their_bucket(client: FlaskClient, feed_now: Feed) -> None:
    feed_now("race", [race_lap("race", d, lap, 0) for d, lap in LAPS])
    week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).id
    listing = client.get(f"{BOARD}/buckets").get_json()
    assert listing == {"product_id": "race", "board": "laps", "period": week,
                       "bucket_size": 3, "players": 7, "buckets": 3}
    assert client.get(f"{BOARD}/buckets?period={week}").get_json() == listing

    first = client.get(f"{BOARD}/buckets/0/entries?limit=10").get_json()
    assert (first["bucket"], first["period"], first["size"]) == (0, week, 3)
    assert [(r["rank"], r["user_id"], r["score"]) for r in first["entries"]] == [
        (1, "d2", 57.0), (2, "d4", 60.0), (3, "d7", 64.0)]
    second = client.get(f"{BOARD}/buckets/1/entries?limit=1").get_json()
    assert [r["user_id"] for r in second["entries"]] == ["d5"]  # 59 tie: user id desc
    rest = client.get(f"{BOARD}/buckets/1/entries?limit=2&cursor={second['next_cursor']}")
    assert [r["user_id"] for r in rest.get_json()["entries"]] == ["d1", "d3"]
    assert [r["user_id"] for r in client.get(f"{BOARD}/buckets/2/entries").get_json()[
        "entries"]] == ["d0"]

    d1 = client.get(f"{BOARD}/players/d1/bucket?ties=competition").get_json()
    assert (d1["bucket"], d1["score"], d1["rank"], d1["size"], d1["period"]) == (
        1, 59.0, 1, 3, week)
    assert d1["percentile"] == 100.0 / 3  # d3 is worse; d5 ties
    assert client.get(f"{BOARD}/players/d1/bucket?ties=ordinal").get_json()["rank"] == 2
    # the whole week's board still ranks everyone
    assert client.get(f"{BOARD}/players/d1?period={week}").get_json()["rank"] == 2


def test_bucket_errors(client: FlaskClient, feed_now: Feed) -> None:
    feed_now("race", [race_lap("race", d, lap, 0) for d, lap in LAPS])
    week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000))
    cases = {
        f"{BOARD}/buckets/3/entries": (404, "unknown_bucket"),
        f"{BOARD}/buckets/-1/entries": (404, "not_found"),
        f"{BOARD}/players/nobody/bucket": (404, "player_not_on_board"),
        f"{BOARD}/buckets?period={week.shift(-1).id}": (200, None),
        f"{BOARD}/buckets?period=2026-11": (404, "unknown_period"),
        f"{BOARD}/buckets?period=soon": (404, "unknown_period"),  # no such season
        f"{BOARD}/buckets?period=so%20on": (422, "invalid_query"),
        "/products/race/boards/penalties/buckets": (200, None),
        "/products/pong/boards/wins/buckets": (404, "no_buckets"),
        "/products/darts/boards/wins/players/p1/bucket": (404, "no_buckets"),
        f"{BOARD}/buckets/0/entries?cursor=x&offset=1": (422, "invalid_query"),
    }
    for url, (status, error) in cases.items():
        resp = client.get(url)
        assert resp.status_code == status, (url, resp.get_json())
        assert resp.mimetype == "application/json"
        if error is not None:
            assert resp.get_json()["error"] == error, url
    last_week = client.get(f"{BOARD}/buckets?period={week.shift(-1).id}").get_json()
    assert (last_week["players"], last_week["buckets"]) == (0, 0)
    cursor = client.get(f"{BOARD}/buckets/1/entries?limit=1").get_json()["next_cursor"]
    other = client.get(f"{BOARD}/buckets/0/entries?cursor={cursor}")
    assert other.status_code == 422  # a cursor belongs to its bucket
