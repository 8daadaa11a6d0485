"""A board where the lowest score ranks first, through every board route.

race (tests/products.toml) keeps each driver's best lap and the sum of its penalties,
both ``order = "asc"``, the laps per week too, with tiers: podium = the 3 best, quick =
a lap of at most 60, rest = everyone else.
"""

from __future__ import annotations

import random

from flask.testing import FlaskClient

from tests.api.conftest import Feed
from tests.support.handlers import race_lap

BOARD = "/products/race/boards/laps"
DRIVERS = [f"d{i}" for i in range(8)]


def fed(feed: Feed) -> dict[str, float]:
    """Laps of every driver (ties included) through the pipeline; each driver's best."""
    rng = random.Random(11)
    laps = [(rng.choice(DRIVERS), rng.randint(57, 64)) for _ in range(30)]
    feed("race", [race_lap("race", d, lap, 1) for d, lap in laps])
    best: dict[str, float] = {}
    for d, lap in laps:
        best[d] = min(best.get(d, lap), lap)
    return best


def test_pages_and_ranks_go_lowest_first(client: FlaskClient, feed: Feed) -> None:
    best = fed(feed)
    order = sorted(sorted(best, reverse=True), key=lambda d: best[d])  # ties: user desc
    described = client.get(BOARD).get_json()
    assert (described["order"], described["kind"], described["size"]) == ("asc", "best",
                                                                           len(best))
    rows = client.get(f"{BOARD}/entries?limit=100&ties=competition").get_json()["entries"]
    assert [(r["user_id"], r["score"]) for r in rows] == [(d, best[d]) for d in order]
    assert [r["rank"] for r in rows] == [1 + sum(s < best[d] for s in best.values())
                                         for d in order]
    walked, url = [], f"{BOARD}/entries?limit=3"
    while url:
        page = client.get(url).get_json()
        walked += [r["user_id"] for r in page["entries"]]
        url = page["next_cursor"] and f"{BOARD}/entries?limit=3&cursor={page['next_cursor']}"
    assert walked == order
    for d in order:
        mine = client.get(f"{BOARD}/players/{d}?ties=dense").get_json()
        assert mine["score"] == best[d]
        assert mine["rank"] == 1 + len({s for s in best.values() if s < best[d]})
        assert mine["percentile"] == 100.0 * sum(s > best[d] for s in best.values()) / len(best)
        assert mine["tier"] == ("podium" if 1 + sum(s < best[d] for s in best.values()) <= 3
                                else "quick" if best[d] <= 60 else "rest")
    window = client.get(f"{BOARD}/players/{order[-1]}/around?limit=3").get_json()["entries"]
    assert [r["user_id"] for r in window] == order[-3:]
    listed = client.get(f"{BOARD}/players?user_id={order[-1]}&user_id={order[0]}").get_json()
    assert [p["user_id"] for p in listed["players"]] == [order[0], order[-1]]
    top = client.get("/leaderboards/top_ten/race?board=laps").get_json()
    assert top == [{"user_id": d, "score": best[d]} for d in order[:10]]


def test_tiers_and_weeks_of_an_ascending_board(client: FlaskClient, feed_now: Feed) -> None:
    best = fed(feed_now)
    tiers = {t["name"]: t for t in client.get(f"{BOARD}/tiers").get_json()["tiers"]}
    third = sorted(best.values())[2]
    assert tiers["podium"]["threshold"] == third  # the worst score on the podium: highest
    assert tiers["quick"]["threshold"] == max(third, 60.0)
    assert "threshold" not in tiers["rest"]
    assert sum(t["members"] for t in tiers.values()) == len(best)
    week = client.get(f"{BOARD}/periods").get_json()["periods"][0]["id"]
    rows = client.get(f"{BOARD}/entries?limit=100&period={week}").get_json()
    assert rows["period"] == week  # every lap was this week
    assert [(r["user_id"], r["score"]) for r in rows["entries"]] == [
        (r["user_id"], r["score"])
        for r in client.get(f"{BOARD}/entries?limit=100").get_json()["entries"]]


def test_a_sum_where_less_is_better(client: FlaskClient, feed: Feed) -> None:
    feed("race", [race_lap("race", "a", 60, 5), race_lap("race", "b", 60, 2),
                  race_lap("race", "a", 60, 0), race_lap("race", "b", 60, 4)])
    rows = client.get("/products/race/boards/penalties/entries").get_json()["entries"]
    assert [(r["rank"], r["user_id"], r["score"]) for r in rows] == [(1, "a", 5.0),
                                                                    (2, "b", 6.0)]
