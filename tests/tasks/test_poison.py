"""A handler that raises on one event: the rest of its batch is applied at once, the queue
keeps moving, the event is retried with backoff a bounded number of times, then it alone is
dead-lettered with the exception; once the handler is fixed, a replay applies it."""

from __future__ import annotations

import dataclasses
import random
import re
import uuid
from pathlib import Path

import redis
from click.testing import CliRunner

from tasks.cli import main
from tests.conftest import TEST_PRODUCTS
from tests.support.handlers import POISON_GAME
from tests.support.pipeline import expected_wins, in_flight, wait_for_pipeline
from tests.support.processes import settings_env, start_bridge, start_worker, wait_until
from tests.support.varcade import game_over, xadd_all
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

POISON_PRODUCTS = Path(__file__).with_name("poison_products.toml")
PLAYERS = [str(uuid.UUID(int=(9 << 64) + i)) for i in range(20)]
RETRIES = 3


def wins_total(store: Store) -> float:
    return sum(score for _, score in store.top("exrps", "wins", count=1000))


def test_a_poison_event_is_retried_then_dead_lettered_alone(
        settings: Settings, stream: redis.Redis, store: Store, dead_letters: DeadLetters,
        tmp_path: Path) -> None:
    settings = dataclasses.replace(settings, products_file=str(POISON_PRODUCTS),
                                   handler_retries=RETRIES)
    queues = load_products(POISON_PRODUCTS).queues
    rng = random.Random(5)
    first = [game_over("exrps", *rng.sample(PLAYERS, 2)) for _ in range(200)]
    poison = game_over("exrps", PLAYERS[0], PLAYERS[1], game_id=POISON_GAME)
    first.insert(100, poison)  # in the middle of a batch
    second = [game_over("exrps", *rng.sample(PLAYERS, 2)) for _ in range(100)]

    worker = start_worker(settings, tmp_path, "w1", queues, concurrency=1)
    bridge = start_bridge(settings, tmp_path, "b1")
    try:
        ids = xadd_all(stream, first, key=settings.stream_key)
        # everything but the poison event is applied at once ...
        wait_until(lambda: wins_total(store) == 200, 20, what="the rest of the batch applied")
        # ... and the queue is not blocked while it is retried
        xadd_all(stream, second, key=settings.stream_key)
        wait_until(lambda: wins_total(store) == 300, 20, what="later entries applied")
        assert dead_letters.count() == 0, "dead-lettered before its retries were used up"
        assert in_flight(stream, settings).count() >= 1
        wait_for_pipeline(settings, queues, timeout=60)  # finished once dead-lettered
        assert worker.alive()
    finally:
        bridge.stop()
        worker.stop()

    [letter] = dead_letters.list()
    assert letter.reason == "handler_error" and letter.entry_id == ids[100]
    assert letter.detail == (f"RuntimeError: poison pill in game {POISON_GAME} "
                             f"(failed {RETRIES + 1} times)")
    assert dict(letter.fields) == {k.encode(): v.encode() for k, v in poison.items()}
    log = worker.log()
    retries = re.findall(r"1 exrps entries failed in a handler; retry (\d) of 3", log)
    assert retries == ["1", "2", "3"]
    good = [r for r in first + second if r is not poison]
    assert dict(store.top("exrps", "wins", count=1000)) == \
        {p: float(n) for p, n in expected_wins(good, "exrps").items()}

    # the handler is fixed (here: the configuration without it); the replay applies the event
    out = CliRunner(env=settings_env(dataclasses.replace(
        settings, products_file=str(TEST_PRODUCTS)))).invoke(main, ["dead-letters", "replay"])
    assert "replayed 1: 1 applied; 1 dead letters removed, 0 kept." in out.output, out.output
    assert dead_letters.count() == 0
    assert dict(store.top("exrps", "wins", count=1000)) == \
        {p: float(n) for p, n in expected_wins(first + second, "exrps").items()}


def test_a_batch_that_fails_as_a_whole_is_retried_then_dead_lettered(
        settings: Settings, stream: redis.Redis, data: redis.Redis, store: Store,
        dead_letters: DeadLetters, tmp_path: Path) -> None:
    """Not a handler but the store fails (here: someone SET the pong board key to a string,
    so ZINCRBY answers WRONGTYPE): bounded retries, then the batch goes to the dead letter,
    and the other products' queues keep moving."""
    settings = dataclasses.replace(settings, handler_retries=1)
    queues = load_products(TEST_PRODUCTS).queues
    data.set(store.keys.board("pong", "wins"), "not a board")
    pong = [game_over("pong", *random.Random(i).sample(PLAYERS, 2)) for i in range(3)]
    exrps = [game_over("exrps", *random.Random(i).sample(PLAYERS, 2)) for i in range(50)]
    worker = start_worker(settings, tmp_path, "w1", queues, concurrency=1)
    bridge = start_bridge(settings, tmp_path, "b1")
    try:
        ids = xadd_all(stream, pong + exrps, key=settings.stream_key)
        wait_for_pipeline(settings, queues, timeout=60)
        assert worker.alive()
    finally:
        bridge.stop()
        worker.stop()
    assert wins_total(store) == 50  # exrps unaffected
    letters = dead_letters.list()
    assert [d.entry_id for d in letters] == ids[:3]
    assert {d.reason for d in letters} == {"batch_error"}
    assert "WRONGTYPE" in letters[0].detail and "(failed 2 times)" in letters[0].detail
    assert "retry 1 of 1" in worker.log()
