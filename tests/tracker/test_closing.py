"""Closing periods: the final standings of a period's board and of each of its buckets
are published once, when the period is past its grace. Real Redis."""

from __future__ import annotations

import dataclasses
import time
import tomllib
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.handlers import (
    RACE_AFTER_GRACE,
    RACE_HANDLER,
    RACE_LAPS,
    RACE_WEEK,
    play_race_laps,
    race_config,
    race_entries,
)
from tests.support.processes import settings_env
from tracker.closing import PeriodResults, due, next_to_close, parse_result
from tracker.erasure import forget_players
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store


def test_a_period_closes_once_with_its_final_standings(data: redis.Redis) -> None:
    products = parse_products(race_config(bucket_size=2, results_top=3))
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    assert list(due(product, RACE_AFTER_GRACE - 1)) == []  # still in its grace
    assert [(b.name, p) for b, p in due(product, RACE_AFTER_GRACE)] == [("laps", RACE_WEEK),
                                                                  ("penalties", RACE_WEEK)]
    before = int(time.time() * 1000)
    assert results.close_due(product, RACE_AFTER_GRACE) == 2 * (1 + 3)  # each board, 3 buckets
    after = int(time.time() * 1000)
    published = results.read("race")
    laps = [r for r in published if r.board == "laps"]
    assert [(r.period, r.bucket, r.size) for r in laps] == [
        (RACE_WEEK.id, None, 5), (RACE_WEEK.id, 0, 2), (RACE_WEEK.id, 1, 2), (RACE_WEEK.id, 2, 1)]
    assert {(r.start_ms, r.end_ms) for r in published} == {(RACE_WEEK.start_ms, RACE_WEEK.end_ms)}
    assert laps[0].top == [  # lowest first; competition ranks
        {"rank": 1, "user_id": "d4", "score": 57.0}, {"rank": 1, "user_id": "d0", "score": 57.0},
        {"rank": 3, "user_id": "d2", "score": 58.0}]
    assert laps[1].top == [{"rank": 1, "user_id": "d0", "score": 57.0},
                           {"rank": 2, "user_id": "d1", "score": 58.0}]
    penalties = next(r for r in published if r.board == "penalties" and r.bucket is None)
    assert penalties.top[:2] == [{"rank": 1, "user_id": "d3", "score": 0.0},
                                 {"rank": 1, "user_id": "d1", "score": 0.0}]
    assert penalties.top[2]["score"] == 1.0

    # the boards' archives keep the boards' own entries, by period
    for board in ("laps", "penalties"):
        assert results.archived_periods("race", product.board(board)) == [RACE_WEEK]  # type: ignore[arg-type]
        (kept,) = results.archived("race", board, [RACE_WEEK])
        entry = next(r for r in published if r.board == board and r.bucket is None)
        assert kept is not None
        assert (kept.period, kept.size, kept.top) == (RACE_WEEK, 5, entry.top)
        assert before <= kept.closed_at_ms <= after
    assert results.archived("race", "laps", [RACE_WEEK.shift(-1)]) == [None]
    data.hset(Keys().archive("race", "laps"), "not-a-period", "{}")  # not listed
    assert results.archived_periods("race", product.board("laps")) == [RACE_WEEK]  # type: ignore[arg-type]
    archived = results.archived("race", "laps", [RACE_WEEK])

    assert results.close_due(product, RACE_AFTER_GRACE + 86_400_000) == 0  # once only
    assert results.archived("race", "laps", [RACE_WEEK]) == archived
    assert len(results.read("race")) == len(published)
    assert results.read("race", after=published[-1].id) == []
    mark = f"{Keys().board('race', 'laps:' + RACE_WEEK.id)}:closed"
    assert data.pexpiretime(mark) == product.boards[0].periods.expires_ms(RACE_WEEK)  # type: ignore[union-attr]


def test_a_forgotten_player_leaves_the_archive_and_the_others_keep_their_ranks(
        data: redis.Redis) -> None:
    products = parse_products(race_config(results_top=3))
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, RACE_AFTER_GRACE)
    (before,) = results.archived("race", "laps", [RACE_WEEK])
    assert before is not None and [t["user_id"] for t in before.top] == ["d4", "d0", "d2"]
    gone = forget_players(Store(data), product, ["d0"], RACE_AFTER_GRACE)[0]
    assert gone.archived == 1  # laps; d0 had no place in the penalties' best three
    (after,) = results.archived("race", "laps", [RACE_WEEK])
    assert after == dataclasses.replace(before, top=[before.top[0], before.top[2]])
    assert forget_players(Store(data), product, ["d0"], RACE_AFTER_GRACE)[0].archived == 0
    # the results stream, read by whatever grants rewards, is not rewritten
    assert "d0" in {t["user_id"] for r in results.read("race") for t in r.top}


def test_a_result_published_before_results_had_spans_still_reads() -> None:
    old = parse_result(b"1-0", {b"product_id": b"race", b"board": b"laps",
                                b"period": b"2037-W48", b"size": b"2", b"top": b"[]"})
    assert (old.period, old.size, old.bucket, old.start_ms, old.end_ms) == (
        "2037-W48", 2, None, None, None)


def test_an_empty_period_publishes_nothing_nor_does_results_top_0(data: redis.Redis) -> None:
    quiet = parse_products(race_config())["race"]
    assert len(list(due(quiet, RACE_AFTER_GRACE))) == 2
    assert PeriodResults(data).close_due(quiet, RACE_AFTER_GRACE) == 0
    assert PeriodResults(data).read("race") == []
    assert data.exists(f"{Keys().board('race', 'laps:' + RACE_WEEK.id)}:closed")
    off = parse_products(race_config(results_top=0))["race"]
    assert list(due(off, RACE_AFTER_GRACE)) == []


@pytest.mark.parametrize("value", [-1, 1001, "3", True])
def test_bad_results_top(value: object) -> None:
    with pytest.raises(ConfigError, match="results_top"):
        parse_products(race_config(results_top=value))


def test_the_commands_close_periods_and_show_their_results(
        data: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text(f'[products]\nrace = {{ handlers = [{{ use = "{RACE_HANDLER}", '
                      'order = "asc", periods = ["week"], bucket_size = 2 }] }\n')
    then = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-2)
    at = then.start_ms + 3_600_000
    entries = race_entries([(d, lap, pen, i) for i, (d, lap, pen) in enumerate(RACE_LAPS)], at)
    BatchProcessor(parse_products(tomllib.loads(config.read_text())), Store(data),
                   DeadLetters(data), clock=lambda: at / 1000).process("race", "s", entries)
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))
    closed = runner.invoke(main, ["close-periods"])
    assert closed.exit_code == 0, closed.output
    assert closed.output == "race: 8 result(s) published\n"  # 2 boards, each 3 buckets
    assert runner.invoke(main, ["close-periods"]).output == ""  # once only
    shown = runner.invoke(main, ["period-results", "race", "--limit", "8"])
    lines = shown.output.splitlines()
    assert len(lines) == 8 and shown.exit_code == 0
    assert lines[0].endswith(f"laps {then.id}: 5 player(s); 1. d4 (57), 1. d0 (57), "
                             "3. d2 (58)")
    assert lines[1].endswith(f"laps {then.id} bucket 0: 2 player(s); 1. d0 (57), 2. d1 (58)")


SEASONED = '''
[products.pong]
handlers = [{ use = "wins", periods = ["week", "season"], grace_seconds = 60, seasons = [
    { id = "s1", start = 2037-09-01, end = 2037-11-01 },
    { id = "s2", start = 2037-11-15, end = 2038-01-01 },
] }]
[products.chess]
handlers = ["elo"]
'''


def test_next_to_close_names_each_kinds_next_period_soonest_first() -> None:
    pong = parse_products(tomllib.loads(SEASONED))["pong"]
    wins = pong.boards[0]
    assert wins.periods is not None
    s1, s2 = wins.periods.seasons
    in_s1 = s1.start_ms + 86_400_000
    week = Period.containing(PeriodKind.WEEK, in_s1)
    assert [(b.name, p, at) for b, p, at in next_to_close(pong, in_s1)] == [
        ("wins", week, week.end_ms + 60_000), ("wins", s1, s1.end_ms + 60_000)]
    # in the grace of a week, that week is next, not the one just begun
    assert next_to_close(pong, week.end_ms + 59_999)[0][1] == week
    assert next_to_close(pong, week.end_ms + 60_000)[0][1] == week.shift(1)
    # in s1's grace, s1 is still next; between the seasons, s2; after the last, none
    def seasons(now_ms: int) -> list[Period]:
        return [p for _, p, _ in next_to_close(pong, now_ms) if p.kind is PeriodKind.SEASON]
    assert seasons(s1.end_ms + 59_999) == [s1]
    assert seasons(s1.end_ms + 60_000) == [s2]
    last = next_to_close(pong, s2.end_ms + 60_000)
    assert [p.kind for _, p, _ in last] == [PeriodKind.WEEK]


def test_period_results_says_what_is_next_before_any_period_closed(
        settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text(SEASONED)
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))
    waiting = runner.invoke(main, ["period-results", "pong"])
    assert waiting.exit_code == 0, waiting.output
    lines = waiting.output.splitlines()
    assert lines[0] == "No period of pong has closed yet. Next to close:"
    week = Period.containing(PeriodKind.WEEK, int(time.time() * 1000) - 60_000)  # grace
    assert lines[1].startswith(f"  wins {week.id} at {week.end:%Y-%m-%d} 00:01 UTC")
    assert lines[2].startswith("  wins s1 at 2037-11-01 00:01 UTC")
    none = runner.invoke(main, ["period-results", "chess"])
    assert none.exit_code == 0 and "chess keeps no board per period" in none.output
    unknown = runner.invoke(main, ["period-results", "tetris"])
    assert unknown.exit_code == 2 and "'tetris' is not configured" in unknown.output
