"""Boards of submitted scores through the read API: snake (tests/products.toml) keeps each
player's best ``high_score`` (per week too; equal scores: the first to reach them
first), the ``total`` of its submissions and its latest ``lap``, lowest first."""

from __future__ import annotations

import time
from pathlib import Path

from flask.testing import FlaskClient

from tests.support.served import served_alone
from tests.support.varcade import raw, submitted
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

BOARDS = "/products/snake/boards"
# player, board, score, seconds after the first: in event order
SUBMISSIONS = [
    ("ann", "high_score", 50, 0), ("bob", "high_score", 70, 1), ("cid", "high_score", 70, 2),
    ("ann", "high_score", 70, 3), ("bob", "high_score", 20, 4),  # below bob's best: no change
    ("dee", "high_score", 90, 5),
    ("ann", "total", 5, 0), ("bob", "total", 7, 1), ("ann", "total", 2, 6),  # ann 7, after bob
    ("cid", "lap", 64, 0), ("cid", "lap", 61, 7), ("ann", "lap", 61, 1), ("bob", "lap", 59, 2),
]


def submit(products: Products, store: Store, dead_letters: DeadLetters) -> None:
    start = int(time.time()) * 1000 - 60_000  # this week, a minute ago
    rows = sorted(SUBMISSIONS, key=lambda s: s[3])
    entries = [(f"{start + t * 1000}-{i}", raw(submitted("snake", board, user, score)))
               for i, (user, board, score, t) in enumerate(rows)]
    report = BatchProcessor(products, store, dead_letters).process("snake", "s", entries)
    assert report.applied == len(entries) and not report.dead_lettered


def rows(client: FlaskClient, url: str) -> list[tuple[str, float, int]]:
    page = client.get(url).get_json()
    return [(r["user_id"], r["score"], r["rank"]) for r in page["entries"]]


def test_the_product_lists_its_score_boards(client: FlaskClient) -> None:
    product = client.get("/products/snake").get_json()
    assert [(b["name"], b["kind"], b["order"], b["tie_break"]) for b in product["boards"]] == [
        ("high_score", "best", "desc", "earliest"), ("total", "points", "desc", "earliest"),
        ("lap", "latest", "asc", "member"), ("fastest", "best", "desc", "member")]
    assert [b["subscore"] for b in product["boards"]] == [None, None, None, "asc"]
    assert product["handlers"] == [{"name": "score", "boards": [b]}
                                   for b in ("high_score", "total", "lap", "fastest")]


def test_boards_of_each_operator(client: FlaskClient, products: Products, store: Store,
                                 dead_letters: DeadLetters) -> None:
    submit(products, store, dead_letters)
    # best: dee 90; bob reached 70 before cid, cid before ann
    assert rows(client, f"{BOARDS}/high_score/entries?ties=ordinal") == [
        ("dee", 90.0, 1), ("bob", 70.0, 2), ("cid", 70.0, 3), ("ann", 70.0, 4)]
    assert rows(client, f"{BOARDS}/high_score/entries") == [  # competition ranks
        ("dee", 90.0, 1), ("bob", 70.0, 2), ("cid", 70.0, 2), ("ann", 70.0, 2)]
    mine = client.get(f"{BOARDS}/high_score/players/cid?ties=dense").get_json()
    assert (mine["score"], mine["rank"], mine["percentile"]) == (70.0, 2, 0.0)  # % below
    first = client.get(f"{BOARDS}/high_score/players/dee").get_json()
    assert (first["score"], first["rank"], first["percentile"]) == (90.0, 1, 75.0)
    week = client.get(f"{BOARDS}/high_score/periods").get_json()["periods"][0]["id"]
    assert rows(client, f"{BOARDS}/high_score/entries?period={week}&ties=ordinal") == \
        rows(client, f"{BOARDS}/high_score/entries?ties=ordinal")
    # sum: 7 each, bob's first
    assert rows(client, f"{BOARDS}/total/entries?ties=ordinal") == [("bob", 7.0, 1),
                                                                    ("ann", 7.0, 2)]
    # latest, lowest first: cid's latest lap is 61, as ann's; ties by user id descending
    assert rows(client, f"{BOARDS}/lap/entries?ties=ordinal") == [
        ("bob", 59.0, 1), ("cid", 61.0, 2), ("ann", 61.0, 3)]
    top = client.get("/leaderboards/top_ten/snake?board=lap").get_json()
    assert top == [{"user_id": "bob", "score": 59.0}, {"user_id": "cid", "score": 61.0},
                   {"user_id": "ann", "score": 61.0}]


# --- each player's record: submissions, their times, metadata ----------------------------

# player, board, score, seconds after the first, metadata
WITH_METADATA = [
    ("ann", "high_score", 50, 0, '{"car": "red"}'),
    ("bob", "high_score", 70, 1, None),
    ("ann", "high_score", 70, 3, '{"car": "blue", "laps": [61.5, 60.25], "name": "Zoë"}'),
    ("bob", "high_score", 20, 4, '{"car": "junk"}'),  # no better: bob's record stays bare
    ("ann", "total", 5, 0, '{"run": 1}'), ("ann", "total", 2, 6, None),  # the latest given
    ("cid", "lap", 61, 7, '{"ghost": "r-17"}'),
]
ANN = {"car": "blue", "laps": [61.5, 60.25], "name": "Zoë"}


def submit_with_metadata(products: Products, store: Store, dead_letters: DeadLetters) -> int:
    """The submissions of WITH_METADATA, from a minute ago; returns that time (Unix ms)."""
    start = int(time.time()) * 1000 - 60_000
    rows = sorted(WITH_METADATA, key=lambda s: s[3])
    entries = [(f"{start + t * 1000}-{i}", raw(submitted("snake", board, user, score,
                                                         metadata=meta)))
               for i, (user, board, score, t, meta) in enumerate(rows)]
    report = BatchProcessor(products, store, dead_letters).process("snake", "s", entries)
    assert report.applied == len(entries) and not report.dead_lettered
    return start


def test_every_read_of_a_score_board_shows_each_record(
        client: FlaskClient, products: Products, store: Store,
        dead_letters: DeadLetters) -> None:
    start = submit_with_metadata(products, store, dead_letters)
    page = client.get(f"{BOARDS}/high_score/entries?ties=ordinal").get_json()["entries"]
    assert page == [  # bob's record holds no metadata: no key
        {"rank": 1, "user_id": "bob", "score": 70.0, "submissions": 2,
         "first_at": start + 1000, "last_at": start + 4000},
        {"rank": 2, "user_id": "ann", "score": 70.0, "submissions": 2, "first_at": start,
         "last_at": start + 3000, "metadata": ANN}]
    ann = client.get(f"{BOARDS}/high_score/players/ann").get_json()
    assert {k: ann[k] for k in ("submissions", "first_at", "last_at", "metadata")} == {
        k: page[1][k] for k in ("submissions", "first_at", "last_at", "metadata")}
    assert "metadata" not in client.get(f"{BOARDS}/high_score/players/bob").get_json()
    around = client.get(f"{BOARDS}/high_score/players/bob/around?limit=3&ties=ordinal").get_json()
    assert around["entries"] == page
    several = client.get(f"{BOARDS}/high_score/players?user_id=ann&user_id=bob").get_json()
    assert [p.get("metadata") for p in several["players"]] == [None, ANN]
    assert [p["submissions"] for p in several["players"]] == [2, 2]
    week = client.get(f"{BOARDS}/high_score/periods").get_json()["periods"][0]["id"]
    weekly = client.get(f"{BOARDS}/high_score/entries?period={week}&ties=ordinal").get_json()
    assert weekly["entries"] == page  # the week's records are its own, here the same
    cursor = client.get(f"{BOARDS}/high_score/entries?limit=1").get_json()["next_cursor"]
    assert client.get(f"{BOARDS}/high_score/entries?cursor={cursor}").get_json()[
        "entries"][0]["metadata"] == ANN
    total = client.get(f"{BOARDS}/total/players/ann").get_json()
    assert (total["metadata"], total["submissions"], total["last_at"]) == (
        {"run": 1}, 2, start + 6000)
    assert client.get(f"{BOARDS}/lap/entries").get_json()["entries"][0]["metadata"] == {
        "ghost": "r-17"}
    described = {b["name"]: b["records"]
                 for b in client.get("/products/snake").get_json()["boards"]}
    assert described == {"high_score": True, "total": True, "lap": True, "fastest": True}
    assert client.get("/products/exrps/boards/wins").get_json()["records"] is False


def test_bucket_reads_show_the_period_boards_records(
        tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters) -> None:
    rows = [submitted("arcade", "hi", user, score, metadata=f'{{"by": "{user}"}}')
            for user, score in [("ann", 5), ("bob", 9), ("cid", 7)]]
    with served_alone(tmp_path, settings, store, dead_letters,
                      'arcade = { handlers = [{ use = "score", board = "hi", '
                      'periods = ["week"], bucket_size = 2 }] }', rows) as (client, start):
        base = "/products/arcade/boards/hi"
        first = client.get(f"{base}/buckets/0/entries").get_json()["entries"]
        assert [(r["user_id"], r["metadata"], r["first_at"]) for r in first] == [
            ("bob", {"by": "bob"}, start + 1000), ("ann", {"by": "ann"}, start)]
        mine = client.get(f"{base}/players/cid/bucket").get_json()
        assert (mine["bucket"], mine["metadata"], mine["submissions"]) == (1, {"by": "cid"}, 1)


def test_a_tournament_board_says_its_attempts_and_each_players_count(
        tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters) -> None:
    rows = [submitted("cup", "cup", "ann", score) for score in (5, 3, 9)]  # one too many
    with served_alone(tmp_path, settings, store, dead_letters,
                      'cup = { handlers = [{ use = "score", board = "cup", attempts = 2, '
                      'periods = ["week"] }] }', rows) as (client, _):
        board = client.get("/products/cup/boards/cup").get_json()
        assert board["attempts"] == 2 and board["records"] is True
        week = client.get("/products/cup/boards/cup/periods").get_json()["periods"][0]["id"]
        this_week = client.get(f"/products/cup/boards/cup/players/ann?period={week}").get_json()
        assert (this_week["score"], this_week["submissions"]) == (5, 2)  # 9 came too late
        ever = client.get("/products/cup/boards/cup/players/ann").get_json()
        assert (ever["score"], ever["submissions"]) == (9, 3)  # all-time takes every one
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'tracker_scores_refused_total{product="cup"} 1.0' in metrics


def test_a_tournament_players_join_says_who_joined(
        tmp_path: Path, settings: Settings, store: Store, dead_letters: DeadLetters) -> None:
    rows = [{"product_id": "cup", "type": "join", "board": "cup", "user_id": "ann"},
            {"product_id": "cup", "type": "join", "board": "cup", "user_id": "bob"},
            submitted("cup", "cup", "ann", 7), submitted("cup", "cup", "cid", 9)]  # cid: no
    with served_alone(tmp_path, settings, store, dead_letters,
                      'cup = { handlers = [{ use = "score", board = "cup", '
                      'join_required = true }, { use = "score", board = "open" }] }',
                      rows) as (client, start):
        board = client.get("/products/cup/boards/cup").get_json()
        assert (board["join_required"], board["joined"], board["size"]) == (True, 2, 1)
        assert client.get("/products/cup/boards/cup/players/ann").get_json()["score"] == 7
        # the lobby: who joined, the first first, scored or not
        lobby = client.get("/products/cup/boards/cup/joined").get_json()
        assert (lobby["size"], lobby["offset"]) == (2, 0)
        assert [(p["user_id"], p["joined_at"] - start) for p in lobby["players"]] == [
            ("ann", 0), ("bob", 1000)]
        second = client.get("/products/cup/boards/cup/joined?offset=1&limit=1").get_json()
        assert [p["user_id"] for p in second["players"]] == ["bob"]
        assert client.get("/products/cup/boards/cup/joined?limit=0").status_code == 422
        for player, joined in (("bob", True), ("cid", False)):  # not on the board
            answer = client.get(f"/products/cup/boards/cup/players/{player}")
            assert answer.status_code == 404
            assert (answer.get_json()["error"], answer.get_json()["joined"]) == (
                "player_not_on_board", joined)
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'tracker_scores_refused_total{product="cup"} 1.0' in metrics
        # a board that takes no joins has no lobby
        missing = client.get("/products/cup/boards/open/joined")
        assert (missing.status_code, missing.get_json()["error"]) == (404, "no_joins")
