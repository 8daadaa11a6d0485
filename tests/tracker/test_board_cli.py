"""``tracker board``: a board's rows in a terminal, from a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.processes import settings_env
from tests.support.varcade import game_over, raw, submitted
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store


def feed(products: Products, store: Store, dead_letters: DeadLetters, product: str,
         rows: list[dict[str, str]]) -> None:
    start = int(time.time() * 1000) - 60_000  # this week, a minute ago
    entries = [(f"{start + i * 1000}-0", raw(row)) for i, row in enumerate(rows)]
    report = BatchProcessor(products, store, dead_letters).process(product, "s", entries)
    assert report.applied == len(entries), report


def test_a_board_in_the_terminal(settings: Settings, products: Products, store: Store,
                                 dead_letters: DeadLetters) -> None:
    feed(products, store, dead_letters, "snake", [
        submitted("snake", "high_score", "ann", 70, metadata='{"car": "red"}'),
        submitted("snake", "high_score", "bob", 90), submitted("snake", "high_score", "cid", 70)])
    feed(products, store, dead_letters, "exrps",
         [game_over("exrps", f"p{i}", f"p{j}") for i in range(12) for j in range(i + 1, 12)])
    runner = CliRunner(env=settings_env(settings))

    shown = runner.invoke(main, ["board", "snake", "high_score"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "snake high_score: 3 player(s), ranked competition"
    assert lines[1].split()[:3] == ["1", "bob", "90"] and "1 submission(s)" in lines[1]
    assert lines[2].split()[:3] == ["2", "ann", "70"] and '{"car": "red"})' in lines[2]
    assert lines[3].split()[:3] == ["2", "cid", "70"]  # tied with ann, who was first

    this_week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000))
    week, monday = this_week.id, this_week.start.isoformat()
    next_monday = this_week.end.isoformat()
    weekly = runner.invoke(main, ["board", "snake", "high_score", "--period", week,
                                  "--ties", "dense", "--limit", "2"])
    assert weekly.exit_code == 0 and weekly.output.splitlines()[0] == \
        f"snake high_score:{week} ({monday} 00:00 to {next_monday} 00:00 UTC): 3 player(s), " \
        "ranked dense"
    assert len(weekly.output.splitlines()) == 3

    # a tournament: ann's fourth attempt (99) was refused
    feed(products, store, dead_letters, "cup",
         [submitted("cup", "cup", "ann", score) for score in (40, 60, 20, 99)])
    cup = runner.invoke(main, ["board", "cup", "cup"]).output.splitlines()
    assert cup[0] == "cup cup: 1 player(s), ranked competition; each player's first 3 " \
                     "submission(s) count; the first 50 player(s) are in"
    assert cup[1].split()[:4] == ["1", "ann", "60", "(3"]
    # a league that counts only the players who joined it says how many did
    feed(products, store, dead_letters, "cup",
         [{"product_id": "cup", "type": "join", "board": "league", "user_id": "bob"},
          submitted("cup", "league", "ann", 5), submitted("cup", "league", "bob", 7)])
    league = runner.invoke(main, ["board", "cup", "league"]).output.splitlines()
    assert league[0] == "cup league: 1 player(s), ranked competition; only the 1 player(s) " \
                        "who joined count"
    assert league[1].split()[:3] == ["1", "bob", "7"]

    # p<i> won 11 - i games: around p6, ordinal ranks, no records on a wins board
    around = runner.invoke(main, ["board", "exrps", "wins", "--around", "p6", "--limit", "3",
                                  "--ties", "ordinal"])
    assert around.exit_code == 0, around.output
    assert [line.split() for line in around.output.splitlines()[1:]] == [
        ["6", "p5", "6"], ["*", "7", "p6", "5"], ["8", "p7", "4"]]

    for args, says in [(["board", "nope", "wins"], "product 'nope' is not configured"),
                       (["board", "exrps", "laps"], "has no board 'laps' (boards: wins, elo)"),
                       (["board", "exrps", "wins", "--period", week], "not kept per week"),
                       (["board", "snake", "high_score", "--period", "2026-13"],
                        "no such period"),
                       (["board", "exrps", "wins", "--around", "nobody"], "is not on board")]:
        failed = runner.invoke(main, args)
        assert failed.exit_code == 1 and says in failed.output, (args, failed.output)


def test_a_rate_limited_board_says_its_limit(settings: Settings, store: Store,
                                             dead_letters: DeadLetters, tmp_path: Path) -> None:
    limited = tmp_path / "products.toml"
    limited.write_text(TEST_PRODUCTS.read_text() + (
        'arcade = { handlers = [{ use = "score", board = "total", operator = "sum", '
        'rate_limit = { submissions = 2, seconds = 3600 } }] }\n'))
    products = load_products(limited)
    entries = [(f"{int(time.time() * 1000) // 3_600_000 * 3_600_000 + i}-0",
                raw(submitted("arcade", "total", "ann", 5))) for i in range(4)]
    BatchProcessor(products, store, dead_letters).process("arcade", "s", entries)
    shown = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(limited))).invoke(
        main, ["board", "arcade", "total"]).output.splitlines()
    assert shown[0] == "arcade total: 1 player(s), ranked competition; at most 2 " \
                       "submission(s) of a player per 3600 s count"
    assert shown[1].split()[:4] == ["1", "ann", "10", "(2"]  # two of four counted
