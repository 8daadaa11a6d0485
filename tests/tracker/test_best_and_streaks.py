"""Boards that keep a best: the KeepBest op (any handler's), and the streak handler's
longest win streaks. Real Redis, both batch forms, checked against brute force."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.config import ApiSettings
from tests.support.ratings import PLAYERS, game, rate_games
from tracker.events import Event
from tracker.handlers import BUILTIN, Handler, KeepBest, Op, WinStreak, WinStreakLeaderboard
from tracker.handlers.base import Board
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, PreparedEvent, Ranks, Store

FIXTURES = [HealthCheck.function_scoped_fixture]  # the DB is flushed in each example


def longest_streaks(games: list[tuple[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """(longest, current) win streak of every player in ``games``, by brute force."""
    longest: dict[str, int] = {}
    current: dict[str, int] = {}
    for w, lo in games:
        current[w] = current.get(w, 0) + 1
        current[lo] = 0
        longest[w] = max(longest.get(w, 0), current[w])
        longest.setdefault(lo, 0)
    return longest, {p: n for p, n in current.items() if n}


games_strategy = st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS))
                          .filter(lambda g: g[0] != g[1]), min_size=1, max_size=40)


@settings(max_examples=50, deadline=None, suppress_health_check=FIXTURES)
@given(games=games_strategy, batch=st.integers(1, 10), summed=st.booleans())
def test_the_board_keeps_each_player_s_longest_streak(
        data: redis.Redis, games: list[tuple[str, str]], batch: int, summed: bool) -> None:
    data.flushdb()
    store = Store(data)
    rate_games(store, WinStreakLeaderboard(), games, batch, summed)
    longest, current = longest_streaks(games)
    board = dict(Ranks(data).page("pong", "streak", 0, 100).rows)
    assert board == {p: float(n) for p, n in longest.items()}
    running = {p: int(data.hget(Keys().rating("pong", "streak", p), "current") or 0)
               for p in longest}
    assert {p: n for p, n in running.items() if n} == current
    rate_games(store, WinStreakLeaderboard(), games, batch, summed)  # a replay: no change
    assert dict(Ranks(data).page("pong", "streak", 0, 100).rows) == board


def test_the_streak_handler() -> None:
    assert BUILTIN["streak"] is WinStreakLeaderboard
    (board,) = WinStreakLeaderboard(board="runs").boards
    assert (board.name, board.kind, board.start) == ("runs", "streak", 0.0)
    assert list(WinStreakLeaderboard().ops(game("1-0", "a", "b"))) == [
        WinStreak("streak", "a", "b")]
    with pytest.raises(ConfigError, match="only points, best and latest boards have periods"):
        parse_products({"products": {"g": {"handlers": [{"use": "streak",
                                                          "periods": ["week"]}]}}})


class BestLap(Handler):
    """A custom handler of the README's kind: a board of each player's best lap score."""

    events = frozenset({("gameplay", "progression")})

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board("laps", "best"),)

    def ops(self, event: Event) -> Iterable[Op]:
        return [KeepBest("laps", event["p1_id"], float(event["lap"]))]


def lap(player: str, score: int) -> dict[bytes, bytes]:
    return {b"product_id": b"race", b"game_id": b"g", b"type": b"gameplay",
            b"event_name": b"progression", b"progress_event": b"round_started",
            b"p1_id": player.encode(), b"p2_id": b"x", b"lap": str(score).encode()}


T0 = int(datetime(2037, 11, 27, tzinfo=UTC).timestamp() * 1000)  # a Friday


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(laps=st.lists(st.tuples(st.sampled_from(PLAYERS), st.integers(-50, 100),
                               st.integers(0, 6 * 86_400_000)), min_size=1, max_size=40),
       batch=st.integers(1, 10))
def test_a_best_board_keeps_each_player_s_best_all_time_and_per_week(
        data: redis.Redis, laps: list[tuple[str, int, int]], batch: int) -> None:
    data.flushdb()
    products = parse_products({"products": {"race": {"handlers": [
        {"use": f"{__name__}:BestLap", "periods": ["week"]}]}}})
    processor = BatchProcessor(products, Store(data), DeadLetters(data),
                               clock=lambda: T0 / 1000)  # every week still open
    entries = [(f"{T0 + at}-{i}", lap(p, score)) for i, (p, score, at) in enumerate(laps)]
    for i in range(0, len(entries), batch):
        report = processor.process("race", "s", entries[i:i + batch])
        assert not report.dead_lettered, report.as_dict()
    best: dict[str, float] = {}
    weekly: dict[str, dict[str, float]] = {}
    for p, score, at in laps:
        best[p] = max(best.get(p, score), score)
        week = weekly.setdefault(Period.containing(PeriodKind.WEEK, T0 + at).id, {})
        week[p] = max(week.get(p, score), score)
    ranks = Ranks(data)
    assert dict(ranks.page("race", "laps", 0, 100).rows) == best
    for week, scores in weekly.items():
        assert dict(ranks.page("race", f"laps:{week}", 0, 100).rows) == scores
    again = processor.process("race", "s", entries)  # a redelivery: no change
    assert again.duplicates == len(entries)
    assert dict(ranks.page("race", "laps", 0, 100).rows) == best


def test_a_best_and_points_on_one_board_keep_their_order(data: redis.Redis) -> None:
    store = Store(data)
    from tracker.handlers import IncrScore

    # +5, then a best of 3 (no change), then +1: 6, whichever batch form is asked for
    batch = [PreparedEvent("1-0", "", [IncrScore("b", "ann", 5)]),
             PreparedEvent("1-1", "", [KeepBest("b", "ann", 3)]),
             PreparedEvent("1-2", "", [IncrScore("b", "ann", 1)])]
    store.apply("pong", "s", batch, summed=True)
    assert store.score("pong", "b", "ann") == 6


def test_a_standing_shows_the_current_streak(data: redis.Redis, settings: Settings,
                                             tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text('[products]\npong = { handlers = ["streak"] }\n')
    rate_games(Store(data), WinStreakLeaderboard(), [("ann", "bob"), ("ann", "cid"),
                                                     ("bob", "ann"), ("bob", "cid")], 1, True)
    client = create_app(Settings(redis_url=settings.redis_url, products_file=str(config)),
                        ApiSettings(rate_limit="off")).test_client()
    ann = client.get("/products/pong/boards/streak/players/ann").get_json()
    bob = client.get("/products/pong/boards/streak/players/bob").get_json()
    assert (ann["score"], ann["streak"]) == (2.0, {"current": 0})
    assert (bob["score"], bob["streak"], bob["rank"]) == (2.0, {"current": 2}, 1)
