"""Board routes against a Redis filled by the real BatchProcessor, checked by brute force."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cursors import Cursor
from tests.api.conftest import Feed
from tests.support.varcade import game_over
from tracker.handlers.leaderboards import elo_delta
from tracker.ranking import Position

PLAYERS = ["ann", "Bob", "bob", "cid", "dee", "émile", "Ωmega", "z"]
MODES = ["ordinal", "competition", "dense"]
ENTRIES = "/products/pong/boards/wins/entries"
PLAYERS_ON = "/products/pong/boards/wins/players"

Board = dict[str, float]


def board_of(games: list[tuple[str, str]]) -> Board:
    """The wins board an independent count predicts: +1 per win, losers on at 0."""
    wins = Counter(w for w, _ in games)
    return {p: float(wins[p]) for pair in games for p in pair}


def order(board: Board) -> list[tuple[str, float]]:
    return sorted(board.items(), key=lambda kv: (kv[1], kv[0].encode()), reverse=True)


def brute(board: Board, mode: str) -> list[dict[str, Any]]:
    """Every row of the board in order, with its rank in ``mode``, by brute force."""
    rows = []
    for i, (user, score) in enumerate(order(board)):
        if mode == "ordinal":
            rank = i + 1
        elif mode == "competition":
            rank = 1 + sum(1 for s in board.values() if s > score)
        else:
            rank = 1 + len({s for s in board.values() if s > score})
        rows.append({"rank": rank, "user_id": user, "score": score})
    return rows


def walk(client: FlaskClient, path: str, limit: int, mode: str) -> list[dict[str, Any]]:
    """Every row, following next_cursor from the first page."""
    rows: list[dict[str, Any]] = []
    query = f"?limit={limit}&ties={mode}"
    while True:
        resp = client.get(path + query)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body["offset"] == len(rows) and body["ties"] == mode
        rows += body["entries"]
        if body["next_cursor"] is None:
            return rows
        assert len(body["entries"]) == limit
        query = f"?limit={limit}&ties={mode}&cursor={body['next_cursor']}"


games_strategy = st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                          .filter(lambda g: g[0] != g[1]), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(games=games_strategy, limit=st.integers(1, 5), window=st.integers(1, 6))
def test_every_rank_read_matches_brute_force(client: FlaskClient, feed: Feed, data: redis.Redis,
                                             games: list[tuple[str, str]], limit: int,
                                             window: int) -> None:
    data.flushdb()
    feed("pong", [game_over("pong", w, lo) for w, lo in games])
    board = board_of(games)
    for mode in MODES:
        expected = brute(board, mode)
        assert walk(client, ENTRIES, limit, mode) == expected
        by_user = {row["user_id"]: row for row in expected}
        for user in board:
            body = client.get(f"/products/pong/boards/wins/players/{user}?ties={mode}").get_json()
            below = sum(1 for s in board.values() if s < board[user])
            assert body == {"product_id": "pong", "board": "wins", "ties": mode,
                            "size": len(board), "user_id": user, "score": board[user],
                            "rank": by_user[user]["rank"],
                            "percentile": pytest.approx(100 * below / len(board))}
            around = client.get(f"/products/pong/boards/wins/players/{user}/around"
                                f"?limit={window}&ties={mode}").get_json()
            start = around["offset"]
            assert around["entries"] == expected[start:start + window]
            assert by_user[user] in around["entries"]
            assert len(around["entries"]) == min(window, len(board))
        asked = [*list(board)[::2], "nobody"]
        body = client.get(f"{PLAYERS_ON}?{urlencode([('user_id', u) for u in asked])}"
                          f"&ties={mode}").get_json()
        assert body == {"product_id": "pong", "board": "wins", "ties": mode,
                        "size": len(board), "missing": ["nobody"], "players": [
                            {**row, "percentile": pytest.approx(100 * sum(
                                1 for s in board.values() if s < row["score"]) / len(board))}
                            for row in expected if row["user_id"] in asked]}


def test_documented_tie_example(client: FlaskClient, feed: Feed) -> None:
    # scores 3, 2, 2, 0 (three losers at 0): w=3, x=2, y=2
    games = [("w", "l"), ("w", "l"), ("w", "l"), ("x", "l"), ("x", "l"), ("y", "l"), ("y", "l")]
    feed("pong", [game_over("pong", a, b) for a, b in games])
    ranks = {}
    for mode in MODES:
        body = client.get(f"{ENTRIES}?ties={mode}").get_json()
        ranks[mode] = [(e["user_id"], e["rank"]) for e in body["entries"]]
    assert ranks == {
        "ordinal": [("w", 1), ("y", 2), ("x", 3), ("l", 4)],
        "competition": [("w", 1), ("y", 2), ("x", 2), ("l", 4)],
        "dense": [("w", 1), ("y", 2), ("x", 2), ("l", 3)],
    }


def test_configured_tie_mode_is_the_default(client: FlaskClient, feed: Feed) -> None:
    # chess's elo board is configured dense; pong's wins board has the default, competition
    feed("chess", [game_over("chess", "a", "b"), game_over("chess", "c", "d")])
    body = client.get("/products/chess/boards/elo/entries").get_json()
    assert body["ties"] == "dense"
    delta = elo_delta(1200, 1200, 20)
    assert body["entries"] == [
        {"rank": 1, "user_id": "c", "score": 1200 + delta},
        {"rank": 1, "user_id": "a", "score": 1200 + delta},
        {"rank": 2, "user_id": "d", "score": 1200 - delta},
        {"rank": 2, "user_id": "b", "score": 1200 - delta},
    ]
    assert client.get("/products/chess/boards/elo/players/b").get_json()["rank"] == 2
    assert client.get("/products/chess/boards/elo/players/b?ties=competition"
                      ).get_json()["rank"] == 3
    feed("pong", [game_over("pong", "a", "b")])
    assert client.get(ENTRIES).get_json()["ties"] == "competition"


def test_board_detail(client: FlaskClient, feed: Feed) -> None:
    feed("exrps", [game_over("exrps", "a", "b"), game_over("exrps", "c", "d"),
                   game_over("exrps", "a", "c")])
    assert client.get("/products/exrps/boards/wins").get_json() == {
        "name": "wins", "kind": "points", "order": "desc", "ties": "competition",
        "tie_break": "member", "start": 0.0, "periods": None, "tiers": [], "history": 0,
        "records": False, "attempts": 0, "subscore": None, "max_players": 0,
        "join_required": False, "rate_limit": None,
        "product_id": "exrps", "size": 4, "distinct_scores": 3}
    body = client.get("/products/exrps/boards/elo").get_json()
    assert (body["kind"], body["start"], body["size"]) == ("rating", 1500.0, 4)
    assert client.get("/products/pong/boards/wins").get_json()["size"] == 0


def test_offset_pages(client: FlaskClient, feed: Feed) -> None:
    rng = random.Random(7)
    games = [tuple(rng.sample(PLAYERS, 2)) for _ in range(30)]
    feed("pong", [game_over("pong", w, lo) for w, lo in games])
    expected = brute(board_of(games), "competition")  # type: ignore[arg-type]
    body = client.get(f"{ENTRIES}?offset=3&limit=2").get_json()
    assert body["offset"] == 3 and body["entries"] == expected[3:5]
    assert body["next_cursor"] is not None
    body = client.get(f"{ENTRIES}?offset={len(expected) - 1}&limit=5").get_json()
    assert body["entries"] == expected[-1:] and body["next_cursor"] is None
    body = client.get(f"{ENTRIES}?offset=1000").get_json()
    assert body["entries"] == [] and body["next_cursor"] is None and body["size"] == len(expected)


def test_limits_default_and_maximum(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", f"w{i:03}", "loser") for i in range(150)])
    assert len(client.get(ENTRIES).get_json()["entries"]) == 10
    assert len(client.get(f"{ENTRIES}?limit=100").get_json()["entries"]) == 100
    around = client.get("/products/pong/boards/wins/players/w050/around").get_json()
    assert len(around["entries"]) == 11
    assert around["entries"][5]["user_id"] == "w050"
    top = client.get("/products/pong/boards/wins/players/w149/around?limit=4").get_json()
    assert top["offset"] == 0 and top["entries"][0]["user_id"] == "w149"  # shifted, still full
    assert len(top["entries"]) == 4
    bottom = client.get("/products/pong/boards/wins/players/loser/around?limit=4").get_json()
    assert bottom["offset"] == 147 and bottom["entries"][-1]["user_id"] == "loser"


def test_cursor_paging_while_scores_change(client: FlaskClient, feed: Feed) -> None:
    players = [f"p{i:02}" for i in range(20)]
    feed("pong", [game_over("pong", p, "floor") for p in players for _ in range(int(p[1:]) % 4)])
    feed("pong", [game_over("pong", "floor", "p00")])
    first = client.get(f"{ENTRIES}?limit=6").get_json()
    listed = [e["user_id"] for e in first["entries"]]
    # the last listed player and one not yet listed climb to the top before the next page
    moved = {listed[-1], "p04"} - set(listed[:-1])
    feed("pong", [game_over("pong", m, "floor") for m in moved for _ in range(10)])
    cursor = first["next_cursor"]
    while cursor:
        body = client.get(f"{ENTRIES}?limit=6&cursor={cursor}").get_json()
        listed += [e["user_id"] for e in body["entries"]]
        cursor = body["next_cursor"]
    final = [e["user_id"] for e in client.get(f"{ENTRIES}?limit=100").get_json()["entries"]]
    stable = [u for u in final if u not in moved]
    assert [u for u in listed if u not in moved] == stable  # nobody skipped, nobody twice


def test_prev_cursors_walk_back_page_by_page(client: FlaskClient, feed: Feed) -> None:
    players = [f"p{i:02}" for i in range(20)]
    feed("pong", [game_over("pong", p, "floor") for p in players for _ in range(int(p[1:]) % 4)])
    forward: list[list[tuple[str, int]]] = []
    url = f"{ENTRIES}?limit=6"
    while url:
        body = client.get(url).get_json()
        forward.append([(e["user_id"], e["rank"]) for e in body["entries"]])
        assert ("prev_cursor" in body) == (body["offset"] > 0)  # none on the first page
        url = body["next_cursor"] and f"{ENTRIES}?limit=6&cursor={body['next_cursor']}"
    assert len(forward) == 3  # 15 winners and floor
    backward = [forward[-1]]
    cursor = body["prev_cursor"]
    while cursor:
        body = client.get(f"{ENTRIES}?limit=6&cursor={cursor}").get_json()
        backward.insert(0, [(e["user_id"], e["rank"]) for e in body["entries"]])
        assert body["next_cursor"]  # and forward again from there
        cursor = body.get("prev_cursor")
    assert backward == forward  # the same rows and ranks, page by page
    # a player who climbs meanwhile is skipped or repeated; nobody else is
    second = client.get(f"{ENTRIES}?limit=6&offset=6").get_json()
    mover = second["entries"][-1]["user_id"]
    feed("pong", [game_over("pong", mover, "floor") for _ in range(10)])
    back = client.get(f"{ENTRIES}?limit=6&cursor={second['prev_cursor']}").get_json()
    assert [e["user_id"] for e in back["entries"]] == [
        u for u, _ in forward[0] if u != mover][-6:]


def test_players_on_a_board(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "ann", "bob"), game_over("pong", "ann", "cid"),
                  game_over("pong", "bob", "cid")])
    body = client.get(f"{PLAYERS_ON}?user_id=cid&user_id=zed&user_id=ann&user_id=cid"
                      "&user_id=yul&ties=dense").get_json()
    assert body["players"] == [  # board order, each once
        {"rank": 1, "user_id": "ann", "score": 2.0, "percentile": pytest.approx(200 / 3)},
        {"rank": 3, "user_id": "cid", "score": 0.0, "percentile": 0.0}]
    assert body["missing"] == ["zed", "yul"] and body["size"] == 3 and body["ties"] == "dense"
    many = urlencode([("user_id", f"p{i}") for i in range(100)])
    assert client.get(f"{PLAYERS_ON}?{many}").get_json()["missing"][99] == "p99"


@pytest.mark.parametrize("query", ["", "ties=dense", "user_id=", f"user_id={'x' * 129}",
                                   urlencode([("user_id", f"p{i}") for i in range(101)]),
                                   "user_id=ann&colour=red", "user_id=ann&ties=fair"])
def test_bad_player_lists_are_a_json_422(client: FlaskClient, query: str) -> None:
    resp = client.get(f"{PLAYERS_ON}?{query}")
    assert resp.status_code == 422 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "invalid_query" and body["errors"], body


def test_unknown_things_are_json_404s(client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "a", "b")])
    cases = {
        "/products/nope/boards/wins/entries": "unknown_product",
        "/products/pong/boards/elo/entries": "unknown_board",
        "/products/pong/boards/elo/players?user_id=a": "unknown_board",
        "/products/pong/boards/elo": "unknown_board",
        "/products/pong/boards/wins/players/zed": "player_not_on_board",
        "/products/pong/boards/wins/players/zed/around": "player_not_on_board",
    }
    for path, code in cases.items():
        resp = client.get(path)
        assert resp.status_code == 404 and resp.mimetype == "application/json", path
        body = resp.get_json()
        assert body["error"] == code and body["message"], path
    assert client.get("/products/pong/boards/elo").get_json()["boards"] == ["wins"]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("limit=", "limit"),
    ("offset=-1", "offset"), ("offset=1e3", "offset"), ("ties=fair", "ties"),
    ("cursor=nope", "cursor"), ("cursor=", "cursor"), ("colour=red", "colour"),
    ("limit=10&limit=20", "limit"), ("ties=dense&limit=5&ties=dense", "ties"),
    ("cursor=WyJwb25nIiwid2lucyIsMSwiYSJd&offset=2", "offset"),
    (f"cursor={Cursor('pong', 'elo', Position(1, 'a')).encode()}", "cursor"),
    (f"cursor={Cursor('chess', 'wins', Position(1, 'a')).encode()}", "cursor"),
])
def test_bad_query_parameters_are_a_json_422(client: FlaskClient, query: str, field: str) -> None:
    resp = client.get(f"{ENTRIES}?{query}")
    assert resp.status_code == 422 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["error"] == "invalid_query" and field in body["errors"]
    assert field in body["message"]


def test_a_parameter_given_twice_is_refused_and_a_list_takes_every_value(
        client: FlaskClient, feed: Feed) -> None:
    feed("pong", [game_over("pong", "a", "b")])
    twice = client.get(f"{ENTRIES}?limit=1&limit=2").get_json()
    assert twice["errors"] == {"limit": ["Given 2 times; give it once."]}
    listed = client.get(f"{PLAYERS_ON}?user_id=a&user_id=b&user_id=zed").get_json()
    assert [p["user_id"] for p in listed["players"]] == ["a", "b"]
    assert listed["missing"] == ["zed"]


@pytest.mark.parametrize("raw", ["WyJwb25nIiwid2lucyIsIm5hbiIsImEiXQ", "W10", "bnVsbA",
                                 "WyJwb25nIiwid2lucyIsMWU5OTksImEiXQ", "_-_-", "x" * 2000,
                                 "WyJwb25nIiwid2lucyIsMSwiYSIsbnVsbCwibmV4dCJd",
                                 "WyJwb25nIiwid2lucyIsMSwiYSIsIngiLCJwcmV2Il0",
                                 "WyJwb25nIiwid2lucyIsMSwiYSIsbnVsbCwicHJldiIsIngiXQ"])
def test_malformed_cursors_are_422(client: FlaskClient, raw: str) -> None:
    assert client.get(f"{ENTRIES}?cursor={raw}").status_code == 422


def test_too_long_user_id_is_400(client: FlaskClient) -> None:
    resp = client.get(f"/products/pong/boards/wins/players/{'x' * 129}")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_user_id"
