"""The archive of a board's closed periods through the API: the final standings stay
readable, paged the latest first, after the period's board has expired.

race (tests/products.toml) keeps its laps board (lowest first) per week, 8 weeks back,
and archives each week's 10 best when it closes."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import redis
from flask.testing import FlaskClient

from tests.support.handlers import play_race_week
from tracker.closing import PeriodResults
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.storage import DeadLetters, Keys, Store

BOARD = "/products/race/boards/laps"
NOW = int(time.time() * 1000)
THIS_WEEK = Period.containing(PeriodKind.WEEK, NOW)


@pytest.fixture
def archived(data: redis.Redis, products: Products) -> list[Period]:
    """Three past weeks played and closed, the current one played (not closed)."""
    def processor(clock: float) -> BatchProcessor:
        return BatchProcessor(products, Store(data), DeadLetters(data), clock=lambda: clock)

    weeks = [THIS_WEEK.shift(-n) for n in (3, 2, 1)]
    for n, week in enumerate(weeks):
        play_race_week(processor, week, [("d1", 60 - n), ("d2", 58), ("d3", 58), ("d4", 70)])
    play_race_week(processor, THIS_WEEK, [("d9", 50)])
    # laps and penalties, each week: the board and its 2 buckets
    assert PeriodResults(data).close_due(products["race"], NOW) == 2 * 3 * (1 + 2)
    return weeks[::-1]  # the latest first


def test_closed_weeks_stay_readable_after_their_boards_expire(
        client: FlaskClient, archived: list[Period], data: redis.Redis) -> None:
    listing = client.get(f"{BOARD}/archive").get_json()
    assert [p["id"] for p in listing["periods"]] == [w.id for w in archived]
    assert listing["next"] is None and listing["product_id"] == "race"
    first = listing["periods"][0]
    assert (first["kind"], first["size"], first["start"], first["end"]) == (
        "week", 4, archived[0].start.isoformat(), archived[0].end.isoformat())
    closed_at = datetime.fromisoformat(first["closed_at"]).timestamp() * 1000
    assert NOW - 60_000 < closed_at < time.time() * 1000 + 1

    # the archive holds what the week's board showed (competition ranks, lowest first)
    for week in archived:
        kept = client.get(f"{BOARD}/archive/{week.id}").get_json()
        board = client.get(f"{BOARD}/entries?period={week.id}&ties=competition").get_json()
        assert kept["entries"] == [{k: e[k] for k in ("rank", "user_id", "score")}
                                   for e in board["entries"]]
        assert (kept["id"], kept["size"], kept["board"]) == (week.id, 4, "laps")
    last_week = client.get(f"{BOARD}/archive/{archived[0].id}").get_json()
    assert [(e["rank"], e["score"]) for e in last_week["entries"]] == [
        (1, 58.0), (1, 58.0), (1, 58.0), (4, 70.0)]
    oldest = client.get(f"{BOARD}/archive/{archived[2].id}").get_json()
    assert [(e["rank"], e["user_id"], e["score"]) for e in oldest["entries"]][-2:] == [
        (3, "d1", 60.0), (4, "d4", 70.0)]

    # the week's board expires (keep_periods later): its archive stays
    live = client.get(f"{BOARD}/entries?period={archived[2].id}").get_json()
    data.delete(*data.keys(Keys().board("race", "laps:" + archived[2].id) + "*"))
    assert client.get(f"{BOARD}/entries?period={archived[2].id}").get_json()["size"] == 0
    assert live["size"] == 4
    assert client.get(f"{BOARD}/archive/{archived[2].id}").get_json() == oldest


def test_the_archive_pages_the_latest_first(client: FlaskClient,
                                            archived: list[Period]) -> None:
    seen, before = [], ""
    while True:
        page = client.get(f"{BOARD}/archive?limit=2{before}").get_json()
        seen += [p["id"] for p in page["periods"]]
        if page["next"] is None:
            break
        assert len(page["periods"]) == 2
        before = f"&before={page['next']}"
    assert seen == [w.id for w in archived]
    # a period not in the archive still pages by its place in time
    between = client.get(f"{BOARD}/archive?before={THIS_WEEK.id}").get_json()
    assert [p["id"] for p in between["periods"]] == seen


@pytest.mark.parametrize(("path", "status", "code"), [
    (f"{BOARD}/archive/{THIS_WEEK.id}", 404, "not_archived"),  # still on
    (f"{BOARD}/archive/{THIS_WEEK.shift(-20).id}", 404, "not_archived"),  # nobody played
    (f"{BOARD}/archive/2026-02-30", 404, "unknown_period"),
    (f"{BOARD}/archive/yesterday", 404, "unknown_period"),
    (f"{BOARD}/archive?before=2026-02-30", 404, "unknown_period"),
    (f"{BOARD}/archive?before=last", 404, "unknown_period"),  # no such season
    (f"{BOARD}/archive?before=last%21", 422, "invalid_query"),
    (f"{BOARD}/archive?limit=0", 422, "invalid_query"),
    (f"{BOARD}/archive?page=2", 422, "invalid_query"),
    ("/products/exrps/boards/wins/archive", 404, "no_archive"),
    ("/products/exrps/boards/wins/archive/2026-W01", 404, "no_archive"),
    ("/products/race/boards/nope/archive", 404, "unknown_board"),
])
def test_what_is_not_archived_is_a_json_error(client: FlaskClient, archived: list[Period],
                                              path: str, status: int, code: str) -> None:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["error"] == code and body["message"]
