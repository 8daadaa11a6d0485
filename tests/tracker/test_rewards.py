"""Reward hooks against a real Redis: each closed period's result reaches its board's
handler hook at least once, a failed call or a dead process is made again, and the
``tracker run-reward-hooks`` command does it from cron."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.server
import json
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.support.handlers import (
    RACE_AFTER_GRACE,
    RACE_T0,
    RACE_WEEK,
    RewardedRaceTimes,
    play_race_laps,
    prizes_granted,
    race_config,
    race_entries,
)
from tests.support.processes import settings_env
from tracker.closing import PeriodResult, PeriodResults
from tracker.processing import BatchProcessor
from tracker.products import ConfigError, Products, load_products, parse_products
from tracker.rewards import HOOKS_GROUP, SIGNATURE_HEADER, HookRun, RewardHooks
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store

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


class Receiver(http.server.BaseHTTPRequestHandler):
    """A game backend's webhook endpoint: records each POST; answers 503 while
    ``failing`` holds results' ids (once each), 204 otherwise."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    failing: ClassVar[set[str]] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        result_id = json.loads(body)["id"]
        if result_id in self.failing:
            self.failing.discard(result_id)
            self.send_response(503)
        else:
            self.received.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.received.clear()
    Receiver.failing.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rewards"
    server.shutdown()


def test_the_webhook_gets_each_result_signed_and_again_after_a_failure(
        data: redis.Redis, webhook: str) -> None:
    config = race_config(bucket_size=2, results_top=3)
    config["products"]["race"]["reward_webhook"] = webhook  # type: ignore[index]
    products = parse_products(config)
    play_race_laps(data, products)
    results, product = PeriodResults(data), products["race"]
    published = results.close_due(product, RACE_AFTER_GRACE)
    assert published == 8
    laps = next(r for r in results.read("race") if r.board == "laps" and r.bucket is None)
    Receiver.failing.add(laps.id)  # the backend is down for this one
    hooks = RewardHooks(results, "c1", webhook_secret="s3cret")
    assert hooks.run(product) == HookRun(called=7, failed=1)
    assert RewardHooks(results, "c1", retry_idle_ms=0, webhook_secret="s3cret").run(
        product) == HookRun(called=1)
    assert len(Receiver.received) == 8
    headers, body = Receiver.received[-1]
    assert json.loads(body) == dataclasses.asdict(laps)
    assert json.loads(body)["end_ms"] - json.loads(body)["start_ms"] == 7 * 86_400_000  # a week
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == f"race/{laps.id}"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert {json.loads(b)["id"] for _, b in Receiver.received} == {
        r.id for r in results.read("race")}


def test_a_webhook_is_checked_and_unsigned_without_a_secret(data: redis.Redis,
                                                           webhook: str) -> None:
    with pytest.raises(ConfigError, match="reward_webhook: expected an http"):
        parse_products({"products": {"g": {"reward_webhook": "ftp://x"}}})
    config = race_config()
    config["products"]["race"]["reward_webhook"] = webhook  # type: ignore[index]
    products = parse_products(config)
    play_race_laps(data, products)
    PeriodResults(data).close_due(products["race"], RACE_AFTER_GRACE)
    assert RewardHooks(PeriodResults(data), "c1").run(products["race"]) == HookRun(called=2)
    assert all(SIGNATURE_HEADER not in headers for headers, _ in Receiver.received)


def test_concurrent_runs_call_each_hook_exactly_once(data: redis.Redis, settings: Settings,
                                                    tmp_path: Path) -> None:
    """Four runners at once (beat's tasks on several workers, cron beside them): the
    consumer group hands each result to one of them."""
    ledger = tmp_path / "prizes.jsonl"
    products = rewarded(REWARDED, ledger, bucket_size=2, results_top=3)
    laps = [(f"d{i:03d}", 50 + i % 17, i % 3, i) for i in range(200)]
    processor = BatchProcessor(products, Store(data), DeadLetters(data),
                               clock=lambda: RACE_T0 / 1000)
    assert processor.process("race", "s", race_entries(laps, RACE_T0)).applied == 200
    results, product = PeriodResults(data), products["race"]
    assert results.close_due(product, RACE_AFTER_GRACE) == 2 * (1 + 100)
    runs: list[HookRun] = []
    start = threading.Barrier(4)

    def runner(name: str) -> None:
        start.wait()
        own = PeriodResults(redis.Redis.from_url(settings.redis_url))  # a process of its own
        runs.append(RewardHooks(own, name).run(product, pages=1000))

    threads = [threading.Thread(target=runner, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 4  # none raised
    assert sum(r.called for r in runs) == 202 and not any(r.failed for r in runs)
    granted = [g["id"] for g in prizes_granted(ledger)]
    assert sorted(granted) == sorted(r.id for r in results.read("race", count=1000))
    assert len(set(granted)) == len(granted) == 202
