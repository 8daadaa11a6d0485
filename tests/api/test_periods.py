"""Period boards through the API: ?period= on every board read, and the periods listing.

darts keeps its wins board per week and per month, two past periods each
(tests/products.toml). Events go through the real BatchProcessor with entry IDs
of this week and of last week, so the boards are the ones the workers write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import flask
import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from api.state import EXTENSION
from tests.support.periods import TOKYO
from tests.support.varcade import game_over
from tracker.clock import Clock
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

BOARD = "/products/darts/boards/wins"
WEEK_MS = 7 * 86_400_000


def play(products: Products, store: Store, dead_letters: DeadLetters, at_ms: int,
         games: list[tuple[str, str]], product: str = "darts") -> None:
    """Apply ``games`` with entry IDs at ``at_ms``, processed while their period is open."""
    processor = BatchProcessor(products, store, dead_letters, clock=lambda: at_ms / 1000)
    batch = [(f"{at_ms}-{i}", {k.encode(): v.encode() for k, v in game_over(product, w, lo)
                               .items()}) for i, (w, lo) in enumerate(games)]
    report = processor.process(product, "s", batch)
    assert report.applied == len(games) and report.late == 0


@pytest.fixture
def weeks(products: Products, store: Store, dead_letters: DeadLetters) -> tuple[Period, Period]:
    now = int(time.time() * 1000)
    this_week = Period.containing(PeriodKind.WEEK, now)
    last_week = this_week.shift(-1)
    play(products, store, dead_letters, last_week.start_ms + 3_600_000,
         [("ann", "bob"), ("ann", "cid"), ("bob", "cid")])
    play(products, store, dead_letters, now, [("cid", "ann"), ("cid", "bob"), ("dee", "cid")])
    return this_week, last_week


def test_period_boards_are_read_like_all_time_ones(client: FlaskClient,
                                                   weeks: tuple[Period, Period]) -> None:
    this_week, last_week = weeks
    all_time = client.get(f"{BOARD}/entries").get_json()
    assert "period" not in all_time
    assert [(e["user_id"], e["score"]) for e in all_time["entries"]] == [
        ("cid", 2.0), ("ann", 2.0), ("dee", 1.0), ("bob", 1.0)]
    current = client.get(f"{BOARD}/entries?period={this_week.id}&ties=dense").get_json()
    assert current["period"] == this_week.id and current["size"] == 4
    assert [(e["rank"], e["user_id"], e["score"]) for e in current["entries"]] == [
        (1, "cid", 2.0), (2, "dee", 1.0), (3, "bob", 0.0), (3, "ann", 0.0)]
    past = client.get(f"{BOARD}/entries?period={last_week.id}").get_json()
    assert [(e["rank"], e["user_id"]) for e in past["entries"]] == [
        (1, "ann"), (2, "bob"), (3, "cid")]

    standing = client.get(f"{BOARD}/players/ann?period={last_week.id}").get_json()
    assert (standing["period"], standing["rank"], standing["score"]) == (last_week.id, 1, 2.0)
    around = client.get(f"{BOARD}/players/cid/around?limit=2&period={last_week.id}").get_json()
    assert around["period"] == last_week.id
    assert [e["user_id"] for e in around["entries"]] == ["bob", "cid"]
    listed = client.get(f"{BOARD}/players?user_id=dee&user_id=ann&period={last_week.id}"
                        ).get_json()
    assert [p["user_id"] for p in listed["players"]] == ["ann"]
    assert listed["missing"] == ["dee"] and listed["period"] == last_week.id
    assert client.get(f"{BOARD}/players/dee?period={last_week.id}").status_code == 404
    detail = client.get(f"{BOARD}?period={this_week.id}").get_json()
    assert (detail["period"], detail["size"], detail["distinct_scores"]) == (this_week.id, 4, 3)
    assert detail["periods"] == {"kinds": ["week", "month"], "keep": 2, "grace_seconds": 600,
                                 "bucket_size": 0, "results_top": 10, "seasons": [],
                                 "manual_seasons": False, "utc_offset": "+00:00"}
    assert [t["name"] for t in detail["tiers"]] == ["gold", "silver", "bronze", "wood"]
    month = Period.containing(PeriodKind.MONTH, int(time.time() * 1000))
    assert client.get(f"{BOARD}?period={month.id}").get_json()["size"] == 4  # all played now


def test_a_cursor_stays_on_its_period(client: FlaskClient, weeks: tuple[Period, Period]) -> None:
    this_week, last_week = weeks
    first = client.get(f"{BOARD}/entries?limit=1&period={last_week.id}").get_json()
    cursor = first["next_cursor"]
    rest = client.get(f"{BOARD}/entries?limit=5&period={last_week.id}&cursor={cursor}")
    assert [e["user_id"] for e in rest.get_json()["entries"]] == ["bob", "cid"]
    for elsewhere in ("", f"&period={this_week.id}"):
        resp = client.get(f"{BOARD}/entries?cursor={cursor}{elsewhere}")
        assert resp.status_code == 422 and "cursor" in resp.get_json()["errors"]


def test_the_periods_listing(client: FlaskClient, weeks: tuple[Period, Period]) -> None:
    this_week, last_week = weeks
    body = client.get(f"{BOARD}/periods").get_json()
    assert body["product_id"] == "darts" and body["board"] == "wins"
    listed = body["periods"]
    assert [p["kind"] for p in listed] == ["week"] * 3 + ["month"] * 3
    week = listed[:3]
    assert [p["id"] for p in week] == [this_week.id, last_week.id, this_week.shift(-2).id]
    assert [p["size"] for p in week] == [4, 3, 0]
    assert week[0] == {"id": this_week.id, "kind": "week", "start": this_week.start.isoformat(),
                       "end": this_week.end.isoformat(),
                       "starts_at": f"{this_week.start.isoformat()}T00:00:00+00:00",
                       "ends_at": f"{this_week.end.isoformat()}T00:00:00+00:00",
                       "final": False, "size": 4}
    assert week[2]["final"] is True
    assert client.get("/products/exrps/boards/wins/periods").get_json()["periods"] == []


def test_a_players_periods(client: FlaskClient, weeks: tuple[Period, Period]) -> None:
    this_week, last_week = weeks
    body = client.get(f"{BOARD}/players/ann/periods?ties=dense").get_json()
    assert (body["product_id"], body["board"], body["user_id"], body["ties"]) == (
        "darts", "wins", "ann", "dense")
    listed = [(p["id"], p["kind"], p["score"], p["rank"], p["size"]) for p in body["periods"]]
    # per kind, the current period first, then the kept ones the player is on
    assert listed[:2] == [(this_week.id, "week", 0.0, 3, 4), (last_week.id, "week", 2.0, 1, 3)]
    now = int(time.time() * 1000)
    month = Period.containing(PeriodKind.MONTH, now)
    played = {Period.containing(PeriodKind.MONTH, at).id
              for at in (last_week.start_ms + 3_600_000, now)}  # the two weeks' games
    assert [(row[0], row[1]) for row in listed[2:]] == [
        (m.id, "month") for m in (month, month.shift(-1)) if m.id in played]
    first = body["periods"][0]
    assert first["tier"] and first["final"] is False and first["percentile"] == 0.0
    assert first["starts_at"] == f"{this_week.start.isoformat()}T00:00:00+00:00"
    # every row is the period's own standing
    for row in body["periods"]:
        alone = client.get(f"{BOARD}/players/ann?period={row['id']}&ties=dense").get_json()
        assert (alone["rank"], alone["score"], alone["size"]) == (
            row["rank"], row["score"], row["size"])
    assert client.get(f"{BOARD}/players/dee/periods").get_json()["periods"][0]["id"] == \
        this_week.id  # dee played this week only
    assert client.get(f"{BOARD}/players/zed/periods").get_json()["periods"] == []
    assert client.get("/products/exrps/boards/wins/players/ann/periods").get_json()[
        "periods"] == []  # kept all-time only
    bad = client.get(f"{BOARD}/players/ann/periods?ties=best")
    assert bad.status_code == 422 and "ties" in bad.get_json()["errors"]


def test_periods_that_cannot_be_read(client: FlaskClient, weeks: tuple[Period, Period]) -> None:
    this_week, _ = weeks
    day = Period.containing(PeriodKind.DAY, int(time.time() * 1000))
    cases = {
        f"{BOARD}/entries?period={this_week.shift(-3).id}": "is not readable",  # expired
        f"{BOARD}/entries?period={this_week.shift(1).id}": "is not readable",  # not begun
        f"{BOARD}/players/ann?period={day.id}": "not kept per day",
        f"{BOARD}/players/ann?period={day.id}T09": "not kept per hour",
        f"{BOARD}/entries?period={day.id}T24": "not a real hour",
        f"/products/exrps/boards/wins/entries?period={this_week.id}": "has no periods",
        f"{BOARD}/entries?period=2026-02-30": "not a real day",
        f"{BOARD}?period=2025-W53": "not a real week",
        f"{BOARD}?period=summer": "a season the board has",  # the form of a season's id
    }
    for path, words in cases.items():
        resp = client.get(path)
        assert resp.status_code == 404 and resp.mimetype == "application/json", path
        body = resp.get_json()
        assert body["error"] == "unknown_period" and words in body["message"], body
    old = client.get(f"{BOARD}/entries?period={this_week.shift(-3).id}").get_json()
    assert old["periods"] == [this_week.shift(-n).id for n in range(3)]
    for bad in ("week!", "2026-1", "2026-W1", "26-11-29", "2026-11-29T9", "2026-11-29T09:00",
                "s" * 33):
        resp = client.get(f"{BOARD}/entries?period={bad}")
        assert resp.status_code == 422 and "period" in resp.get_json()["errors"], bad


Blitz = Callable[[str], tuple[Products, FlaskClient]]


@pytest.fixture
def blitz(settings: Settings, tmp_path: Path) -> Iterator[Blitz]:
    """``blitz(table)``: the product blitz with a wins handler of ``table`` (TOML keys), and
    a client of the app configured so."""
    apps: list[flask.Flask] = []

    def configure(table: str) -> tuple[Products, FlaskClient]:
        config = tmp_path / "products.toml"
        config.write_text(f'[products]\nblitz = {{ handlers = [{{ use = "wins", {table} }}] }}\n')
        apps.append(create_app(replace(settings, products_file=str(config)),
                               ApiSettings(rate_limit="off")))
        return load_products(config), apps[-1].test_client()

    yield configure
    for app in apps:
        app.extensions[EXTENSION].close()


BLITZ = "/products/blitz/boards/wins"


def test_hourly_boards(blitz: Blitz, data: redis.Redis, store: Store,
                       dead_letters: DeadLetters) -> None:
    """PlayFab's hourly resets: a board per UTC hour, read, listed, closed and archived."""
    products, client = blitz('periods = ["hour"], keep_periods = 3, grace_seconds = 60')
    now = int(time.time() * 1000)
    this_hour = Period.containing(PeriodKind.HOUR, now)
    last_hour = this_hour.shift(-1)
    play(products, store, dead_letters, last_hour.start_ms + 60_000, [("ann", "bob")], "blitz")
    play(products, store, dead_letters, now, [("bob", "ann"), ("bob", "cid")], "blitz")
    current = client.get(f"{BLITZ}/entries?period={this_hour.id}").get_json()
    assert current["period"] == this_hour.id and "T" in this_hour.id
    assert [(e["user_id"], e["score"]) for e in current["entries"]] == [
        ("bob", 2.0), ("cid", 0.0), ("ann", 0.0)]
    past = client.get(f"{BLITZ}/players/ann?period={last_hour.id}").get_json()
    assert (past["rank"], past["score"]) == (1, 1.0)
    listed = client.get(f"{BLITZ}/periods").get_json()["periods"]
    assert [(p["id"], p["kind"], p["size"]) for p in listed] == [
        (this_hour.id, "hour", 3), (last_hour.id, "hour", 2),
        (this_hour.shift(-2).id, "hour", 0), (this_hour.shift(-3).id, "hour", 0)]
    spans = [(datetime.fromisoformat(p["starts_at"]), datetime.fromisoformat(p["ends_at"]))
             for p in listed]
    assert spans[0] == (this_hour.starts_at, this_hour.starts_at + timedelta(hours=1))
    assert spans[1][1] == spans[0][0]  # each hour ends where the next begins
    assert listed[0]["start"] == this_hour.start.isoformat()
    assert client.get(f"{BLITZ}/entries?period={this_hour.shift(-4).id}").status_code == 404

    # the last hour is over (past its grace): closing archives it
    assert PeriodResults(data).close_due(products["blitz"], now + 3_600_000) >= 1
    kept = client.get(f"{BLITZ}/archive/{last_hour.id}").get_json()
    assert (kept["kind"], kept["size"]) == ("hour", 2)
    assert [(e["rank"], e["user_id"]) for e in kept["entries"]] == [(1, "ann"), (2, "bob")]


def test_days_on_the_boards_clock(blitz: Blitz, store: Store,
                                  dead_letters: DeadLetters) -> None:
    """utc_offset: a Tokyo game's days begin at midnight in Tokyo, 15:00 UTC."""
    products, client = blitz('periods = ["day"], keep_periods = 1, utc_offset = "+09:00"')
    now = int(time.time() * 1000)
    today = Period.containing(PeriodKind.DAY, now, TOKYO)
    play(products, store, dead_letters, now, [("ann", "bob")], "blitz")
    described = client.get("/products/blitz").get_json()["boards"][0]["periods"]
    assert described["utc_offset"] == "+09:00"
    listed = client.get(f"{BLITZ}/periods").get_json()["periods"]
    assert [(p["id"], p["size"]) for p in listed] == [(today.id, 2), (today.shift(-1).id, 0)]
    starts = datetime.fromisoformat(listed[0]["starts_at"])
    assert starts == today.starts_at and (starts.hour, starts.minute) == (15, 0)
    assert listed[0]["start"] == today.start.isoformat()
    page = client.get(f"{BLITZ}/entries?period={today.id}").get_json()
    assert [(e["user_id"], e["score"]) for e in page["entries"]] == [("ann", 1.0), ("bob", 0.0)]


def test_days_of_the_boards_time_zone(blitz: Blitz, store: Store,
                                      dead_letters: DeadLetters) -> None:
    """time_zone: a New York game's days begin at midnight in New York, EST or EDT."""
    products, client = blitz('periods = ["day"], keep_periods = 1, '
                             'time_zone = "America/New_York"')
    now = int(time.time() * 1000)
    new_york = Clock(zone="America/New_York")
    today = Period.containing(PeriodKind.DAY, now, new_york)
    play(products, store, dead_letters, now, [("ann", "bob")], "blitz")
    described = client.get("/products/blitz").get_json()["boards"][0]["periods"]
    assert described["time_zone"] == "America/New_York" and "utc_offset" not in described
    listed = client.get(f"{BLITZ}/periods").get_json()["periods"]
    assert [(p["id"], p["size"]) for p in listed] == [(today.id, 2), (today.shift(-1).id, 0)]
    starts = datetime.fromisoformat(listed[0]["starts_at"]).astimezone(ZoneInfo(new_york.zone))
    assert (starts.date().isoformat(), starts.hour, starts.minute) == (listed[0]["start"], 0, 0)
    assert datetime.fromisoformat(listed[1]["ends_at"]) == datetime.fromisoformat(
        listed[0]["starts_at"])
