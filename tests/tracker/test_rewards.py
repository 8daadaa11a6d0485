"""Reward hooks against a real Redis: each closed period's result reaches its board's
handler hook at least once, a failed call or a dead process is made again, and the
``tracker run-reward-hooks`` command does it from cron."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import ClassVar

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.handlers import (
    RACE_AFTER_GRACE,
    RACE_WEEK,
    RewardedRaceTimes,
    play_race_laps,
    prizes_granted,
    race_config,
)
from tests.support.processes import settings_env
from tracker.closing import PeriodResult, PeriodResults
from tracker.products import Products, load_products, parse_products
from tracker.rewards import HOOKS_GROUP, HookRun, RewardHooks
from tracker.settings import Settings
from tracker.storage import Keys

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
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    hooks = RewardHooks(results, "c1")
    assert hooks.run(product) == HookRun()  # nothing closed yet
    assert results.close_due(product, RACE_AFTER_GRACE) == 8
    assert hooks.run(product) == HookRun(called=8)
    granted = prizes_granted(ledger)
    assert [g["id"] for g in granted] == [r.id for r in results.read("race")]
    assert granted[0] == {"id": granted[0]["id"], "board": "laps", "period": RACE_WEEK.id,
                          "bucket": None, "winner": "d4"}
    assert RewardHooks(results, "c2", retry_idle_ms=0).run(product) == HookRun()  # all acked
    assert len(prizes_granted(ledger)) == 8


def test_a_failed_hook_is_called_again_and_others_go_on(data: redis.Redis,
                                                      tmp_path: Path) -> None:
    ledger = tmp_path / "prizes.jsonl"
    FlakyPrizes.failed.clear()
    products = rewarded(f"{__name__}:FlakyPrizes", ledger, results_top=3)
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, RACE_AFTER_GRACE)
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
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    results.close_due(product, RACE_AFTER_GRACE)
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
    play_race_laps(data, parse_products(tomllib.loads(config.read_text())))
    PeriodResults(data).close_due(load_products(config)["race"], RACE_AFTER_GRACE)
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
    products = parse_products(race_config())
    play_race_laps(data, products)
    results = PeriodResults(data)
    results.close_due(products["race"], RACE_AFTER_GRACE)
    assert RewardHooks(results, "c1", retry_idle_ms=0).run(products["race"]) == HookRun()
    assert data.xinfo_groups(Keys().period_results("race")) == []
