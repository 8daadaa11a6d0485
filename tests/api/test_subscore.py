"""A board that ranks by two columns through the read API: every route shows each row's
``score`` and ``subscore``, ranks ties only when both are equal, and answers as its schema
documents."""

from __future__ import annotations

from pathlib import Path

from marshmallow import Schema

from api.schemas import (
    AroundSchema,
    CutoffListSchema,
    PageSchema,
    PlayerBoardsSchema,
    PlayersSchema,
    StandingSchema,
    TierListSchema,
    TopEntrySchema,
)
from api.state import EXTENSION
from tests.support.served import served_alone
from tests.support.varcade import submitted
from tracker.periods import Period
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

PRODUCT = ('race = { handlers = [{ use = "score", board = "laps", subscore = "asc", '
           'periods = ["week"], results_top = 10, '
           'tiers = [{ name = "podium", rank = 2 }, { name = "field" }] }] }')
BASE = "/products/race/boards/laps"
# most laps first, then the least time (ms); ann's second run beats her first on time
RUNS = [("ann", 10, 61_000), ("bob", 10, 59_500), ("cid", 9, 50_000), ("dee", 10, 61_000),
        ("ann", 10, 60_000), ("eve", 10, 61_000)]


def valid(schema: Schema, body: object) -> object:
    """``body``, once its schema finds nothing wrong in it."""
    errors = schema.validate(body)  # type: ignore[arg-type]
    assert not errors, errors
    return body


def test_every_route_shows_both_columns_and_ranks_by_both(
        tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters) -> None:
    rows = [submitted("race", "laps", user, laps, subscore=ms) for user, laps, ms in RUNS]
    with served_alone(tmp_path, settings, store, dead_letters, PRODUCT, rows) as (client, _):
        board = client.get(BASE).get_json()
        assert (board["subscore"], board["order"], board["tie_break"]) == ("asc", "desc",
                                                                          "member")
        page = valid(PageSchema(), client.get(f"{BASE}/entries?ties=dense").get_json())
        assert isinstance(page, dict)
        assert [(r["user_id"], r["score"], r["subscore"], r["rank"], r["tier"])
                for r in page["entries"]] == [
            ("bob", 10.0, 59_500, 1, "podium"), ("ann", 10.0, 60_000, 2, "podium"),
            ("eve", 10.0, 61_000, 3, "field"), ("dee", 10.0, 61_000, 3, "field"),
            ("cid", 9.0, 50_000, 4, "field")]
        assert page["entries"][1]["submissions"] == 2  # the record: one real submission
        competition = client.get(f"{BASE}/entries").get_json()["entries"]
        assert [r["rank"] for r in competition] == [1, 2, 3, 3, 5]

        dee = valid(StandingSchema(), client.get(f"{BASE}/players/dee").get_json())
        assert isinstance(dee, dict)
        assert (dee["score"], dee["subscore"], dee["rank"], dee["percentile"]) == (
            10.0, 61_000, 3, 20.0)
        around = valid(AroundSchema(), client.get(f"{BASE}/players/cid/around?limit=2")
                       .get_json())
        assert isinstance(around, dict)
        assert [(r["user_id"], r["subscore"]) for r in around["entries"]] == [
            ("dee", 61_000), ("cid", 50_000)]
        several = valid(PlayersSchema(), client.get(
            f"{BASE}/players?user_id=cid&user_id=ann&user_id=zed").get_json())
        assert isinstance(several, dict)
        assert [(p["user_id"], p["score"], p["subscore"]) for p in several["players"]] == [
            ("ann", 10.0, 60_000), ("cid", 9.0, 50_000)] and several["missing"] == ["zed"]
        top = valid(TopEntrySchema(many=True),
                    client.get("/leaderboards/top_ten/race?board=laps").get_json())
        assert isinstance(top, list) and top[0] == {"user_id": "bob", "score": 10.0,
                                                    "subscore": 59_500}
        mine = valid(PlayerBoardsSchema(), client.get("/players/ann/boards").get_json())
        assert isinstance(mine, dict)
        assert [(b["score"], b["subscore"]) for b in mine["boards"]] == [(10.0, 60_000)]

        # cutoffs and tiers name both columns of the player at the cut
        cut = valid(CutoffListSchema(), client.get(f"{BASE}/cutoffs?top=40").get_json())
        assert isinstance(cut, dict)
        assert cut["cutoffs"] == [{"top": 40.0, "score": 10.0, "subscore": 60_000,
                                   "players": 2}]
        tiers = valid(TierListSchema(), client.get(f"{BASE}/tiers").get_json())
        assert isinstance(tiers, dict)
        assert [(t["name"], t.get("threshold"), t.get("threshold_subscore"), t["members"])
                for t in tiers["tiers"]] == [("podium", 10.0, 60_000, 2),
                                             ("field", None, None, 3)]

        # the week's board, and its archive once closed, rank the same way
        week = client.get(f"{BASE}/periods").get_json()["periods"][0]["id"]
        assert client.get(f"{BASE}/entries?period={week}&ties=dense").get_json()[
            "entries"] == page["entries"]
        st = client.application.extensions[EXTENSION]
        laps = st.products["race"].board("laps")
        assert st.period_results.close("race", laps, Period.parse(week)) == 1
        archived = client.get(f"{BASE}/archive/{week}").get_json()["entries"]
        assert [(r["rank"], r["user_id"], r["score"], r["subscore"]) for r in archived] == [
            (1, "bob", 10, 59_500), (2, "ann", 10, 60_000), (3, "eve", 10, 61_000),
            (3, "dee", 10, 61_000), (5, "cid", 9, 50_000)]


def test_a_lowest_first_board_shows_both_columns_as_submitted(
        tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters) -> None:
    """golf: the fewest strokes first, then the fewest putts (Redis keeps the strokes
    negated and the putts as they are: every read gives both back as submitted)."""
    rows = [submitted("golf", "round", user, strokes, subscore=putts)
            for user, strokes, putts in [("ann", 70, 30), ("bob", 70, 28), ("cid", 68, 35),
                                         ("ann", 70, 29), ("dee", 72, 25)]]
    product = ('golf = { handlers = [{ use = "score", board = "round", order = "asc", '
               'subscore = "asc", tiers = [{ name = "lead", rank = 2 }, { name = "pack" }] '
               '}] }')
    with served_alone(tmp_path, settings, store, dead_letters, product, rows) as (client, _):
        base = "/products/golf/boards/round"
        page = client.get(f"{base}/entries").get_json()["entries"]
        assert [(r["user_id"], r["score"], r["subscore"], r["rank"], r["tier"])
                for r in page] == [("cid", 68.0, 35, 1, "lead"), ("bob", 70.0, 28, 2, "lead"),
                                   ("ann", 70.0, 29, 3, "pack"), ("dee", 72.0, 25, 4, "pack")]
        ann = client.get(f"{base}/players/ann").get_json()
        assert (ann["score"], ann["subscore"], ann["percentile"]) == (70.0, 29, 25.0)
        cut = client.get(f"{base}/cutoffs?top=50").get_json()["cutoffs"]
        assert cut == [{"top": 50.0, "score": 70.0, "subscore": 28, "players": 2}]
        tiers = client.get(f"{base}/tiers").get_json()["tiers"]
        assert (tiers[0]["threshold"], tiers[0]["threshold_subscore"]) == (70.0, 28)
