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
from tests.support.varcade import game_over, raw, submitted
from tracker.closing import PeriodResults
from tracker.erasure import delete_records, forget_players, kept_boards, player_boards
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Forgotten, Keys, Ranks, Store

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

    gone = forget_players(store, products["g"], ["ann"], now)[0]
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

    assert forget_players(store, products["g"], ["ann"], now)[0] == Forgotten(0, 0)  # idempotent


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


# --- deleting one board's records of a player (tracker delete-records) -------------

def tie_structures_are_right(data: redis.Redis, product: str, boards: list[str]) -> None:
    """Each board's tie structures equal what a rebuild from the board gives."""
    keys, ranks = Keys(), Ranks(data)
    for board in boards:
        names = [keys.board_scores(product, board), keys.board_counts(product, board)]
        kept = [everything(data).get(k) for k in names]
        ranks.reindex(product, board)
        assert kept == [everything(data).get(k) for k in names], board


def test_deleting_records_takes_a_player_off_one_board_only(data: redis.Redis) -> None:
    products = parse_products(CONFIG)
    play(data, products)
    store, now = Store(data), int(time.time() * 1000)
    g = products["g"]
    wins = next(b for b in g.boards if b.name == "wins")
    before = everything(data)
    gone = delete_records(store, g, wins, ["ann"], now)[0]
    assert gone == Forgotten(3, 0, 0)  # wins, its week's and its month's
    after = everything(data)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # only the wins boards changed: their rows, tie structures and bucket boards
    assert changed and all(":lb:wins" in k and not k.endswith(":buckets") for k in changed)
    assert without({k: after[k] for k in changed if k in after}, "ann") == without(
        {k: before[k] for k in changed}, "ann")
    buckets = [k.split(":lb:", 1)[1] for k in after if re.search(r"wins:[^:]+:b\d+$", k)]
    assert buckets
    for board in kept_boards(wins, now) + buckets:
        assert store.score("g", board, "ann") is None
    tie_structures_are_right(data, "g", kept_boards(wins, now) + buckets)
    assert store.score("g", "elo", "ann") is not None and store.player_stats("g", "ann")
    assert delete_records(store, g, wins, ["ann"], now)[0] == Forgotten(0, 0, 0)  # idempotent


def test_deleted_records_start_over_and_leave_the_archive(data: redis.Redis) -> None:
    products = parse_products({"products": {"arcade": {"handlers": [
        {"use": "score", "board": "high", "periods": ["week"]}]}}})
    product = products["arcade"]
    high = product.boards[0]
    now = int(time.time() * 1000)
    last_week = Period.containing(PeriodKind.WEEK, now).shift(-1)

    def submit(at_ms: int, scores: list[tuple[str, int]]) -> None:
        processor = BatchProcessor(products, Store(data), DeadLetters(data),
                                   clock=lambda: at_ms / 1000)
        report = processor.process("arcade", "s", [
            (f"{at_ms}-{i}", raw(submitted("arcade", "high", user, score, metadata='{"x":1}')))
            for i, (user, score) in enumerate(scores)])
        assert report.applied == len(scores), report.as_dict()

    submit(last_week.start_ms + 60_000, [("cheat", 9999), ("ann", 50), ("bob", 40)])
    assert PeriodResults(data).close_due(product, now) == 1  # last week's closes
    submit(now, [("cheat", 9000), ("cheat", 8000), ("ann", 60)])
    gone = delete_records(Store(data), product, high, ["cheat"], now)[0]
    assert (gone.boards, gone.archived) == (3, 1)  # all-time, this week, last week
    ranks = Ranks(data)
    assert ranks.standing("arcade", "high", "cheat", records="high") is None
    closed = PeriodResults(data).archived("arcade", "high", [last_week])[0]
    assert closed is not None and [(r["rank"], r["user_id"]) for r in closed.top] == [
        (2, "ann"), (3, "bob")]  # the others keep the ranks they closed with
    tie_structures_are_right(data, "arcade", kept_boards(high, now))
    submit(now + 1, [("cheat", 10)])  # a later submission counts again, from scratch
    found = ranks.standing("arcade", "high", "cheat", records="high")
    assert found is not None and found.score == 10 and found.record is not None
    assert found.record.submissions == 1


def test_the_command_deletes_records_of_a_points_board_only(
        runner: CliRunner, data: redis.Redis) -> None:
    play(data, parse_products(CONFIG))
    refused = runner.invoke(main, ["delete-records", "g", "elo", "ann", "--yes"])
    assert refused.exit_code == 2 and "elo is a rating board" in refused.output
    assert "forget-player" in refused.output
    unknown = runner.invoke(main, ["delete-records", "g", "laps", "ann", "--yes"])
    assert unknown.exit_code == 2 and "g has no board 'laps'" in unknown.output
    assert runner.invoke(main, ["delete-records", "x", "wins", "ann", "--yes"]).exit_code == 2
    out = runner.invoke(main, ["delete-records", "g", "wins", "ann", "bob", "--yes"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["ann: off 3 board(s)", "bob: off 3 board(s)"]
    assert Store(data).score("g", "wins", "ann") is None
    assert Store(data).score("g", "elo", "ann") is not None
    assert Store(data).score("h", "wins", "ann") is not None
