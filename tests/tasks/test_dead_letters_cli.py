"""``tracker dead-letters`` list, show, replay and purge, against the real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.processes import settings_env
from tests.support.varcade import P1, P2, game_over, raw
from tracker.processing import BatchProcessor
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

WITH_TETRIS = TEST_PRODUCTS.read_text() + "tetris = {}\n"  # [products] is the last table


@pytest.fixture
def runner(settings: Settings) -> CliRunner:
    return CliRunner(env=settings_env(settings))


@pytest.fixture
def rejected(products: Products, store: Store, dead_letters: DeadLetters) -> list[str]:
    """Three unknown-product results, one self-play, one not UTF-8; returns their entry ids."""
    processor = BatchProcessor(products, store, dead_letters)
    tetris = [(f"1700000000000-{i}", raw(game_over("tetris", P1, P2))) for i in range(3)]
    processor.process("tetris", "game_event_stream", tetris)
    bad = [("1700000000001-0", raw(game_over("exrps", P1, P1))),
           ("1700000000001-1", {**raw(game_over("exrps", P1, P2)), b"loser_id": b"\xff\xfe"})]
    processor.process("exrps", "game_event_stream", bad)
    return [i for i, _ in tetris + bad]


def test_list_filters_by_reason_and_product_and_limits(
        runner: CliRunner, rejected: list[str]) -> None:
    out = runner.invoke(main, ["dead-letters", "list"])
    assert out.exit_code == 0, out.output
    assert out.output.count("unknown_product") >= 3 and "invalid_fields" in out.output
    assert "self-play" in out.output and "game_event_stream/1700000000001-1" in out.output
    assert "5 of 5 matching dead letters shown" in out.output

    out = runner.invoke(main, ["dead-letters", "list", "--reason", "not_utf8",
                               "--reason", "invalid_fields"])
    assert "2 of 2 matching" in out.output and "tetris" not in out.output.splitlines()[0]
    out = runner.invoke(main, ["dead-letters", "list", "--product", "tetris", "--limit", "1"])
    lines = out.output.splitlines()
    assert len(lines) == 2 and "tetris" in lines[0]
    assert "1 of 3 matching dead letters shown (unknown_product 3); 5 in total." in lines[1]


def test_show_prints_every_original_field_even_bytes_that_are_not_utf8(
        runner: CliRunner, rejected: list[str], dead_letters: DeadLetters) -> None:
    letter = next(d for d in dead_letters.list() if d.reason == "not_utf8")
    out = runner.invoke(main, ["dead-letters", "show", letter.id])
    assert out.exit_code == 0, out.output
    assert "reason    not_utf8" in out.output
    assert "entry id  1700000000001-1" in out.output
    fields = {line.split(None, 1)[0]: line.split(None, 1)[1]
              for line in out.output.split("original fields:\n")[1].splitlines()}
    assert fields["loser_id"] == "b'\\xff\\xfe'  (not UTF-8)"
    assert fields["winner_id"] == P1 and fields["type"] == "game_over"

    missing = runner.invoke(main, ["dead-letters", "show", "1-1"])
    assert missing.exit_code == 1 and "no dead letter 1-1" in missing.output
    nonsense = runner.invoke(main, ["dead-letters", "show", "nonsense"])
    assert nonsense.exit_code == 1 and "not a dead-letter ID" in nonsense.output


def test_replay_after_the_product_is_configured_applies_each_entry_once(
        runner: CliRunner, rejected: list[str], settings: Settings, store: Store,
        dead_letters: DeadLetters, data: redis.Redis, tmp_path: Path) -> None:
    fixed = tmp_path / "products.toml"
    fixed.write_text(WITH_TETRIS)
    # one of the three results got applied meanwhile (e.g. replayed by hand):
    # the replay must not count it a second time
    first = next(d for d in dead_letters.list() if d.entry_id == rejected[0])
    BatchProcessor(load_products(fixed), store, dead_letters).process(
        "tetris", first.source, [(first.entry_id, first.fields)])
    assert store.top("tetris", "wins") == [(P1, 1.0), (P2, 0.0)]

    out = runner.invoke(main, ["dead-letters", "replay"],
                        env={"TRACKER_PRODUCTS_FILE": str(fixed)})
    assert out.exit_code == 0, out.output
    assert "replaying 5 dead letters" in out.output
    assert ("replayed 5: 2 applied; 1 already applied; still rejected: invalid_fields 1, "
            "not_utf8 1; 3 dead letters removed, 2 kept.") in out.output
    assert store.top("tetris", "wins") == [(P1, 3.0), (P2, 0.0)]  # 3 results, each once
    assert sorted(d.reason for d in dead_letters.list()) == ["invalid_fields", "not_utf8"]
    seen = {m.decode() for m in data.smembers(dead_letters.keys.deadletter_seen)}
    assert seen == {f"game_event_stream/{i}" for i in rejected[3:]}

    again = runner.invoke(main, ["dead-letters", "replay"],
                          env={"TRACKER_PRODUCTS_FILE": str(fixed)})
    assert "0 dead letters removed, 2 kept" in again.output
    assert store.top("tetris", "wins") == [(P1, 3.0), (P2, 0.0)]


def test_replay_with_the_configuration_unchanged_keeps_the_letters(
        runner: CliRunner, rejected: list[str], dead_letters: DeadLetters) -> None:
    out = runner.invoke(main, ["dead-letters", "replay", "--product", "tetris", "--limit", "2"])
    assert out.exit_code == 0, out.output
    assert "replayed 2: still rejected: unknown_product 2; 0 dead letters removed, 2 kept." \
        in out.output
    assert dead_letters.count() == 5


def test_purge_asks_first_and_filters(runner: CliRunner, rejected: list[str],
                                      dead_letters: DeadLetters, data: redis.Redis) -> None:
    out = runner.invoke(main, ["dead-letters", "purge", "--reason", "unknown_product"],
                        input="n\n")
    assert out.exit_code == 1 and "Delete 3 dead letters (reason unknown_product)?" in out.output
    assert dead_letters.count() == 5

    out = runner.invoke(main, ["dead-letters", "purge", "--reason", "unknown_product", "--yes"])
    assert out.exit_code == 0 and "deleted 3 dead letters." in out.output
    assert sorted(d.reason for d in dead_letters.list()) == ["invalid_fields", "not_utf8"]
    assert data.scard(dead_letters.keys.deadletter_seen) == 2  # their dedupe members went too

    out = runner.invoke(main, ["dead-letters", "purge"], input="y\n")
    assert out.exit_code == 0 and "Delete 2 dead letters (all of them)?" in out.output
    assert dead_letters.count() == 0
    assert "no matching dead letters." in runner.invoke(main, ["dead-letters", "purge"]).output


def test_an_unreachable_redis_is_one_line_not_a_traceback(runner: CliRunner) -> None:
    out = runner.invoke(main, ["dead-letters", "list"],
                        env={"TRACKER_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert out.exit_code == 1 and out.output.startswith("Error: Redis: ")
