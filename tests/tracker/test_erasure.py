"""Forgetting a player: off every board (all-time and per period) with the tie structures
kept right, its stats, ratings and histories gone, everyone else untouched; and the
``tracker forget-player`` command, dead letters included. Real Redis throughout."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.pipeline import everything
from tests.support.processes import settings_env
from tests.support.varcade import game_over, raw
from tracker.erasure import forget_player, player_boards
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Forgotten, Ranks, Store

PLAYERS = ["ann", "bob", "cid", "dee", "eve"]
CONFIG = {"products": {
    "g": {"handlers": [{"use": "wins", "periods": ["week", "month"], "bucket_size": 2},
                       {"use": "elo", "history": 5}, {"use": "streak", "history": 5},
                       "glicko2", "openskill", "player_stats"]},
    "h": {"handlers": ["wins", "player_stats"]},
}}
TOML = """[products]
g = { handlers = [{ use = "wins", periods = ["week", "month"], bucket_size = 2 },
                  { use = "elo", history = 5 },
                  { use = "streak", history = 5 }, "glicko2", "openskill", "player_stats"] }
h = { handlers = ["wins", "player_stats"] }
"""


def play(data: redis.Redis, products: Products, games: int = 60) -> None:
    """Random games of g and h between PLAYERS, at the current time (so this week's and
    month's boards take them), through the real batch processor."""
    rng = random.Random(3)
    processor = BatchProcessor(products, Store(data), DeadLetters(data))
    now = int(time.time() * 1000)
    for product in ("g", "h"):
        entries = [(f"{now + i}-0", raw(game_over(product, *rng.sample(PLAYERS, 2))))
                   for i in range(games)]
        report = processor.process(product, "s", entries)
        assert report.applied == games, report.as_dict()


def without(state: dict[str, object], user: str) -> dict[str, object]:
    """``state`` as it should be once ``user`` is forgotten (tie structures aside)."""
    out: dict[str, object] = {}
    for key, value in state.items():
        if key.endswith(f":{user}") or key.endswith((":scores", ":counts")):
            continue
        if isinstance(value, dict) and (":lb:" in key):  # boards, bucket assignments
            value = {m: s for m, s in value.items() if m != user.encode()}
            if not value:
                continue
        out[key] = value
    return out


def test_a_forgotten_player_leaves_no_trace_and_everyone_else_stays(data: redis.Redis) -> None:
    products = parse_products(CONFIG)
    play(data, products)
    before = everything(data)
    assert any(k.endswith(":history:elo:ann") for k in before)
    assert any(k.endswith(":rating:glicko2:ann") for k in before)
    store, now = Store(data), int(time.time() * 1000)
    week = Period.containing(PeriodKind.WEEK, now).id
    assert Ranks(data).standing("g", f"wins:{week}", "ann") is not None

    gone = forget_player(store, products["g"], "ann", now)
    # wins, wins of the week and of the month, elo, streak, glicko2, openskill
    assert gone.boards == 7
    # stats, elo and streak histories, the streak, glicko2 and openskill ratings
    assert gone.keys == 6
    after = everything(data)
    h_keys = {k: v for k, v in before.items() if "{h}" in k}
    assert {k: v for k, v in after.items() if "{h}" in k} == h_keys  # only g was asked
    g_after = {k: v for k, v in after.items() if "{g}" in k}
    assert without(g_after, "ann") == without({k: v for k, v in before.items()
                                               if "{g}" in k}, "ann")
    assert not any(k.endswith(":ann") for k in g_after)
    assert all(b"ann" not in v for k, v in g_after.items() if ":lb:" in k
               and isinstance(v, dict))
    # the tie structures are what a rebuild from the boards gives
    ranks = Ranks(data)
    buckets = [k.split(":lb:", 1)[1] for k in g_after if re.search(r":b\d+$", k)]
    assert buckets  # the week's and the month's boards are split into buckets of 2
    for board in player_boards(products["g"], now) + buckets:
        names = [store.keys.board_scores("g", board), store.keys.board_counts("g", board)]
        structures = [g_after.get(k) for k in names]
        ranks.reindex("g", board)
        rebuilt = everything(data)
        assert structures == [rebuilt.get(k) for k in names], board

    assert forget_player(store, products["g"], "ann", now) == Forgotten(0, 0)  # idempotent


def test_the_boards_of_a_product_include_every_kept_period() -> None:
    products = parse_products(CONFIG)
    now = int(time.time() * 1000)
    names = player_boards(products["g"], now)
    week = Period.containing(PeriodKind.WEEK, now)
    assert {"wins", "elo", "streak", "glicko2", "openskill"} <= set(names)
    assert f"wins:{week.id}" in names and f"wins:{week.shift(1).id}" in names
    assert f"wins:{week.shift(-8).id}" in names and f"wins:{week.shift(-9).id}" not in names
    assert player_boards(products["h"], now) == ["wins"]
    seasons = [{"id": f"s{i}", "start": date(2026, m, 1), "end": date(2026, m + 1, 1)}
               for i, m in enumerate((1, 3, 4, 5))]
    seasoned = parse_products({"products": {"p": {"handlers": [
        {"use": "wins", "periods": ["season"], "keep_periods": 1, "seasons": seasons}]}}})
    in_s2 = int(datetime(2026, 4, 10, tzinfo=UTC).timestamp() * 1000)
    assert player_boards(seasoned["p"], in_s2) == ["wins", "wins:s3", "wins:s2", "wins:s1"]
    before = int(datetime(2025, 12, 1, tzinfo=UTC).timestamp() * 1000)
    assert player_boards(seasoned["p"], before) == ["wins", "wins:s0"]  # the first to come


@pytest.fixture
def runner(settings: Settings, tmp_path: Path) -> CliRunner:
    config = tmp_path / "products.toml"
    config.write_text(TOML)
    return CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))


def test_the_command_forgets_players_in_every_product(
        runner: CliRunner, data: redis.Redis, dead_letters: DeadLetters) -> None:
    products = parse_products(CONFIG)
    play(data, products)
    processor = BatchProcessor(products, Store(data), dead_letters)
    # self-play is rejected: dead letters that name ann, and one that names bob
    processor.process("g", "s", [("1-0", raw(game_over("g", "ann", "ann"))),
                                 ("1-1", raw(game_over("g", "bob", "bob"))),
                                 ("1-2", raw(game_over("h", "cid", "ann") | {"type": "x"}))])
    assert dead_letters.count() == 3

    refused = runner.invoke(main, ["forget-player", "ann"], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert Store(data).score("g", "wins", "ann") is not None

    unknown = runner.invoke(main, ["forget-player", "ann", "--product", "tetris", "--yes"])
    assert unknown.exit_code == 2 and "not configured: tetris" in unknown.output

    out = runner.invoke(main, ["forget-player", "ann", "eve", "--yes"])
    assert out.exit_code == 0, out.output
    assert "ann: g: off 7 board(s), 6 key(s) deleted" in out.output
    assert "ann: h: off 1 board(s), 1 key(s) deleted" in out.output
    assert "dead letters naming them: 2 deleted" in out.output
    assert "forgot 2 player(s)" in out.output
    for product in ("g", "h"):
        for user in ("ann", "eve"):
            assert Store(data).score(product, "wins", user) is None
            assert Store(data).player_stats(product, user) == {}
        assert Store(data).score(product, "wins", "bob") is not None
    assert [letter.fields[b"winner_id"] for letter in dead_letters.scan()] == [b"bob"]


def test_the_command_may_keep_dead_letters_and_keep_to_one_product(
        runner: CliRunner, data: redis.Redis, dead_letters: DeadLetters) -> None:
    products = parse_products(CONFIG)
    play(data, products)
    BatchProcessor(products, Store(data), dead_letters).process(
        "g", "s", [("1-0", raw(game_over("g", "ann", "ann")))])
    out = runner.invoke(main, ["forget-player", "ann", "--product", "h", "--keep-dead-letters",
                               "--yes"])
    assert out.exit_code == 0, out.output
    assert "dead letters" not in out.output and dead_letters.count() == 1
    assert Store(data).score("h", "wins", "ann") is None
    assert Store(data).score("g", "wins", "ann") is not None
