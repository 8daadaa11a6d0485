"""Closing periods: the final standings of a period's board and of each of its buckets
are published once, when the period is past its grace. Real Redis."""

from __future__ import annotations

import dataclasses
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.handlers import RaceTimes, RewardedRaceTimes, prizes_granted, race_entries
from tests.support.processes import settings_env
from tracker.closing import HOOKS_GROUP, HookRun, PeriodResult, PeriodResults, RewardHooks, due
from tracker.erasure import forget_player
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, load_products, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store

RACE = f"{RaceTimes.__module__}:{RaceTimes.__name__}"
T0 = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp() * 1000)  # a Friday of 2026-W48
WEEK = Period.containing(PeriodKind.WEEK, T0)
AFTER_GRACE = WEEK.end_ms + 600_000  # the first moment the week is final
# (driver, lap, penalty): d0 d1 form bucket 0, d2 d3 bucket 1, d4 bucket 2
LAPS = [("d0", 61, 1), ("d1", 58, 0), ("d2", 58, 2), ("d3", 64, 0), ("d4", 57, 1),
        ("d0", 57, 1)]


def race(**table: object) -> dict[str, object]:
    return {"products": {"race": {"handlers": [{"use": RACE, "order": "asc",
                                                 "periods": ["week"], "keep_periods": 1,
                                                 **table}]}}}


def play(data: redis.Redis, products: object) -> None:
    entries = race_entries([(d, lap, pen, i) for i, (d, lap, pen) in enumerate(LAPS)], T0)
    report = BatchProcessor(products, Store(data), DeadLetters(data),  # type: ignore[arg-type]
                            clock=lambda: T0 / 1000).process("race", "s", entries)
    assert report.applied == len(LAPS)


def test_a_period_closes_once_with_its_final_standings(data: redis.Redis) -> None:
    products = parse_products(race(bucket_size=2, results_top=3))
    play(data, products)
    results, product = PeriodResults(data), products["race"]
    assert list(due(product, AFTER_GRACE - 1)) == []  # still in its grace
    assert [(b.name, p) for b, p in due(product, AFTER_GRACE)] == [("laps", WEEK),
                                                                  ("penalties", WEEK)]
    before = int(time.time() * 1000)
    assert results.close_due(product, AFTER_GRACE) == 2 * (1 + 3)  # each board, 3 buckets
    after = int(time.time() * 1000)
    published = results.read("race")
    laps = [r for r in published if r.board == "laps"]
    assert [(r.period, r.bucket, r.size) for r in laps] == [
        (WEEK.id, None, 5), (WEEK.id, 0, 2), (WEEK.id, 1, 2), (WEEK.id, 2, 1)]
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
        assert results.archived_periods("race", board) == [WEEK]
        (kept,) = results.archived("race", board, [WEEK])
        entry = next(r for r in published if r.board == board and r.bucket is None)
        assert kept is not None and (kept.period, kept.size, kept.top) == (WEEK, 5, entry.top)
        assert before <= kept.closed_at_ms <= after
    assert results.archived("race", "laps", [WEEK.shift(-1)]) == [None]
    data.hset(Keys().archive("race", "laps"), "not-a-period", "{}")  # not listed
    assert results.archived_periods("race", "laps") == [WEEK]
    archived = results.archived("race", "laps", [WEEK])

    assert results.close_due(product, AFTER_GRACE + 86_400_000) == 0  # once only
    assert results.archived("race", "laps", [WEEK]) == archived
    assert len(results.read("race")) == len(published)
    assert results.read("race", after=published[-1].id) == []
    mark = f"{Keys().board('race', 'laps:' + WEEK.id)}:closed"
    assert data.pexpiretime(mark) == product.boards[0].periods.expires_ms(WEEK)  # type: ignore[union-attr]


def test_a_forgotten_player_leaves_the_archive_and_the_others_keep_their_ranks(
        data: redis.Redis) -> None:
    products = parse_products(race(results_top=3))
    play(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, AFTER_GRACE)
    (before,) = results.archived("race", "laps", [WEEK])
    assert before is not None and [t["user_id"] for t in before.top] == ["d4", "d0", "d2"]
    gone = forget_player(Store(data), product, "d0", AFTER_GRACE)
    assert gone.archived == 1  # laps; d0 had no place in the penalties' best three
    (after,) = results.archived("race", "laps", [WEEK])
    assert after == dataclasses.replace(before, top=[before.top[0], before.top[2]])
    assert forget_player(Store(data), product, "d0", AFTER_GRACE).archived == 0
    # the results stream, read by whatever grants rewards, is not rewritten
    assert "d0" in {t["user_id"] for r in results.read("race") for t in r.top}


def test_an_empty_period_publishes_nothing_nor_does_results_top_0(data: redis.Redis) -> None:
    quiet = parse_products(race())["race"]
    assert len(list(due(quiet, AFTER_GRACE))) == 2
    assert PeriodResults(data).close_due(quiet, AFTER_GRACE) == 0
    assert PeriodResults(data).read("race") == []
    assert data.exists(f"{Keys().board('race', 'laps:' + WEEK.id)}:closed")
    off = parse_products(race(results_top=0))["race"]
    assert list(due(off, AFTER_GRACE)) == []


@pytest.mark.parametrize("value", [-1, 1001, "3", True])
def test_bad_results_top(value: object) -> None:
    with pytest.raises(ConfigError, match="results_top"):
        parse_products(race(results_top=value))


def test_the_commands_close_periods_and_show_their_results(
        data: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "products.toml"
    config.write_text(f'[products]\nrace = {{ handlers = [{{ use = "{RACE}", order = "asc", '
                      'periods = ["week"], bucket_size = 2 }] }\n')
    then = Period.containing(PeriodKind.WEEK, int(time.time() * 1000)).shift(-2)
    at = then.start_ms + 3_600_000
    entries = race_entries([(d, lap, pen, i) for i, (d, lap, pen) in enumerate(LAPS)], at)
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


REWARDED = f"{RewardedRaceTimes.__module__}:{RewardedRaceTimes.__name__}"


class FlakyPrizes(RewardedRaceTimes):
    """Its hook fails the first time it meets the laps board's own result."""

    failed: ClassVar[set[str]] = set()

    def period_closed(self, result: PeriodResult) -> None:
        if result.board == "laps" and result.bucket is None and result.id not in self.failed:
            self.failed.add(result.id)
            raise RuntimeError("the rewards service is down")
        super().period_closed(result)


def rewarded(handler: str, ledger: Path, **table: object) -> Products:
    return parse_products({"products": {"race": {"handlers": [{
        "use": handler, "prizes": str(ledger), "order": "asc", "periods": ["week"],
        "keep_periods": 1, **table}]}}})


def test_reward_hooks_are_called_once_per_result(data: redis.Redis, tmp_path: Path) -> None:
    ledger = tmp_path / "prizes.jsonl"
    products = rewarded(REWARDED, ledger, bucket_size=2, results_top=3)
    play(data, products)
    results, product = PeriodResults(data), products["race"]
    hooks = RewardHooks(results, "c1")
    assert hooks.run(product) == HookRun()  # nothing closed yet
    assert results.close_due(product, AFTER_GRACE) == 8
    assert hooks.run(product) == HookRun(called=8)
    granted = prizes_granted(ledger)
    assert [g["id"] for g in granted] == [r.id for r in results.read("race")]
    assert granted[0] == {"id": granted[0]["id"], "board": "laps", "period": WEEK.id,
                          "bucket": None, "winner": "d4"}
    assert RewardHooks(results, "c2", retry_idle_ms=0).run(product) == HookRun()  # all acked
    assert len(prizes_granted(ledger)) == 8


def test_a_failed_hook_is_called_again_and_others_go_on(data: redis.Redis,
                                                      tmp_path: Path) -> None:
    ledger = tmp_path / "prizes.jsonl"
    FlakyPrizes.failed.clear()
    products = rewarded(f"{__name__}:FlakyPrizes", ledger, results_top=3)
    play(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, AFTER_GRACE)
    assert RewardHooks(results, "c1").run(product) == HookRun(called=1, failed=1)
    assert [g["board"] for g in prizes_granted(ledger)] == ["penalties"]
    # not idle long enough yet: left for later
    assert RewardHooks(results, "c2").run(product) == HookRun()
    assert RewardHooks(results, "c2", retry_idle_ms=0).run(product) == HookRun(called=1)
    assert [g["board"] for g in prizes_granted(ledger)] == ["penalties", "laps"]
    stream = Keys().period_results("race")
    assert data.xpending(stream, HOOKS_GROUP)["pending"] == 0


def test_a_hook_whose_process_died_is_called_again(data: redis.Redis, tmp_path: Path) -> None:
    ledger = tmp_path / "prizes.jsonl"
    products = rewarded(REWARDED, ledger)
    play(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, AFTER_GRACE)
    stream = Keys().period_results("race")
    data.xgroup_create(stream, HOOKS_GROUP, id="0")
    data.xreadgroup(HOOKS_GROUP, "killed", {stream: ">"}, count=1)  # read, never acked
    assert RewardHooks(results, "c1").run(product) == HookRun(called=1)  # the other one
    assert RewardHooks(results, "c1", retry_idle_ms=0).run(product) == HookRun(called=1)
    assert sorted(g["board"] for g in prizes_granted(ledger)) == ["laps", "penalties"]


def test_the_command_runs_the_hooks_and_says_which_failed(
        data: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    ledger = tmp_path / "not-yet" / "prizes.jsonl"  # the hook fails until the folder exists
    config = tmp_path / "products.toml"
    config.write_text(f'[products]\nrace = {{ handlers = [{{ use = "{REWARDED}", '
                      f'prizes = "{ledger}", order = "asc", periods = ["week"] }}] }}\n')
    play(data, parse_products(tomllib.loads(config.read_text())))
    PeriodResults(data).close_due(load_products(config)["race"], AFTER_GRACE)
    runner = CliRunner(env=settings_env(settings, TRACKER_PRODUCTS_FILE=str(config)))
    failing = runner.invoke(main, ["run-reward-hooks"])
    assert failing.exit_code == 1
    assert "race: 0 hook call(s) returned, 2 failed" in failing.output
    assert "2 hook call(s) failed" in failing.output
    ledger.parent.mkdir()
    assert runner.invoke(main, ["run-reward-hooks"]).output == ""  # failed too recently
    again = runner.invoke(main, ["run-reward-hooks", "--retry-after", "0"])
    assert again.exit_code == 0, again.output
    assert again.output == "race: 2 hook call(s) returned, 0 failed\n"
    assert len(prizes_granted(ledger)) == 2


def test_products_without_hooks_are_not_read(data: redis.Redis) -> None:
    products = parse_products(race())
    play(data, products)
    results = PeriodResults(data)
    results.close_due(products["race"], AFTER_GRACE)
    assert RewardHooks(results, "c1", retry_idle_ms=0).run(products["race"]) == HookRun()
    assert data.xinfo_groups(Keys().period_results("race")) == []
