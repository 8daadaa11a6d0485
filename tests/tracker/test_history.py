"""Players' game histories on rating and streak boards (RecordGame): the latest games,
newest first, with the score after each, written in the same step as the rating."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.config import ApiSettings
from tests.support.ratings import PLAYERS, T0, game, rate_games
from tracker.handlers import (
    EloLeaderboard,
    Glicko2Leaderboard,
    OpenSkillLeaderboard,
    RecordGame,
    WinStreakLeaderboard,
)
from tracker.handlers.base import Handler
from tracker.handlers.leaderboards import elo_delta
from tracker.products import ConfigError, parse_products
from tracker.settings import Settings
from tracker.storage import Store
from tracker.storage.store import GameRecord

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(games=st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                      .filter(lambda g: g[0] != g[1]), min_size=1, max_size=30),
       keep=st.integers(1, 5), batch=st.integers(1, 8), summed=st.booleans())
def test_an_elo_history_holds_the_latest_games_with_the_rating_after_each(
        data: redis.Redis, games: list[tuple[str, str]], keep: int, batch: int,
        summed: bool) -> None:
    data.flushdb()
    store = Store(data)
    rate_games(store, EloLeaderboard(history=keep), games, batch, summed)
    ratings: dict[str, float] = {}
    expected: dict[str, list[GameRecord]] = {}
    for i, (w, lo) in enumerate(games):
        rw, rl = ratings.get(w, 1500.0), ratings.get(lo, 1500.0)
        d = elo_delta(rw, rl, 32)
        ratings[w], ratings[lo] = rw + d, rl - d
        expected.setdefault(w, []).insert(0, GameRecord(T0 + i, ratings[w], lo, "W"))
        expected.setdefault(lo, []).insert(0, GameRecord(T0 + i, ratings[lo], w, "L"))
    for player, records in expected.items():
        assert store.history("pong", "elo", player, 100) == records[:keep]
    rate_games(store, EloLeaderboard(history=keep), games, batch, summed)  # a replay: no change
    for player, records in expected.items():
        assert store.history("pong", "elo", player, 100) == records[:keep]


@pytest.mark.parametrize("handler", [OpenSkillLeaderboard(history=2),
                                     Glicko2Leaderboard(history=2),
                                     WinStreakLeaderboard(history=2)])
def test_every_rating_handler_keeps_a_history(data: redis.Redis, handler: Handler) -> None:
    store = Store(data)
    rate_games(store, handler, [("ann", "bob"), ("bob", "ann"), ("ann", "cid")], 1, True)
    board = handler.boards[0].name
    ann = store.history("pong", board, "ann", 10)
    assert [(g.at_ms, g.opponent, g.result) for g in ann] == [(T0 + 2, "cid", "W"),
                                                              (T0 + 1, "bob", "L")]
    assert ann[0].score == store.score("pong", board, "ann")  # the score after the game
    assert handler.boards[0].history == 2


def test_the_handlers_check_history() -> None:
    assert list(EloLeaderboard().ops(game("5-0", "a", "b")))[1:] == []  # none by default
    assert list(EloLeaderboard(history=3).ops(game("5-0", "a", "b")))[1] == RecordGame(
        "elo", "a", "b", 5, 3)
    for bad in (-1, 1001, 2.5, True, "3"):
        with pytest.raises(ValueError, match="history is a number of games"):
            EloLeaderboard(history=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        parse_products({"products": {"g": {"handlers": [{"use": "elo", "history": -2}]}}})


def test_the_history_route(data: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text('[products]\npong = { handlers = [{ use = "elo", history = 5 }, '
                      '"wins"] }\n')
    rate_games(Store(data), EloLeaderboard(history=5), [("ann", "bob"), ("bob", "ann")], 1, True)
    client = create_app(Settings(redis_url=settings.redis_url, products_file=str(config)),
                        ApiSettings(rate_limit="off")).test_client()
    body = client.get("/products/pong/boards/elo/players/ann/history?limit=1").get_json()
    assert body == {"product_id": "pong", "board": "elo", "user_id": "ann", "kept": 5,
                    "games": [{"time": "2023-11-14T22:13:20.001000+00:00",
                               "score": 1516.0 - elo_delta(1484.0, 1516.0, 32),
                               "opponent": "bob", "result": "loss"}]}
    assert client.get("/products/pong/boards/elo/players/nobody/history").get_json()[
        "games"] == []
    none = client.get("/products/pong/boards/wins/players/ann/history")
    assert none.status_code == 404 and none.get_json()["error"] == "no_history"
    bad = client.get("/products/pong/boards/elo/players/ann/history?limit=0")
    assert bad.status_code == 422
    products = client.get("/products/pong").get_json()
    assert [b["history"] for b in products["boards"]] == [5, 0]
