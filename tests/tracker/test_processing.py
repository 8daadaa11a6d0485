"""BatchProcessor against a real Redis: the reference example, dedupe, dead letters."""

from __future__ import annotations

import gc
from collections.abc import Iterable

import redis

from tests.support.varcade import EXAMPLE, P1, P2, game_over
from tracker.events import Event
from tracker.handlers import ExrpsStats, Handler, IncrScore, IncrStat, Op, PlayerStats
from tracker.handlers.leaderboards import elo_delta
from tracker.processing import GC_THRESHOLD, BatchProcessor, tune_gc
from tracker.products import Product, Products
from tracker.storage import DeadLetters, Store


def entries(rows: list[dict[str, str]],
            base: int = 1700000000000) -> list[tuple[str, dict[bytes, bytes]]]:
    return [(f"{base + i}-0", {k.encode(): v.encode() for k, v in row.items()})
            for i, row in enumerate(rows)]


def test_reference_example_gives_the_documented_data(products: Products, store: Store,
                                                      dead_letters: DeadLetters) -> None:
    report = BatchProcessor(products, store, dead_letters).process("exrps", "s", entries(EXAMPLE))
    assert store.top("exrps", "wins") == [(P1, 1.0), (P2, 0.0)]
    assert store.player_stats("exrps", P1) == {"games": 1, "wins": 1, "losses": 0,
                                               "rock_selection_count": 1}
    assert store.player_stats("exrps", P2) == {"games": 1, "wins": 0, "losses": 1,
                                               "botch_selection_count": 1}
    assert report.applied == 3 and report.ignored == 8 and not report.dead_lettered
    assert dead_letters.count() == 0


def test_same_entries_twice_change_nothing(products: Products, store: Store,
                                           dead_letters: DeadLetters, data: redis.Redis) -> None:
    processor = BatchProcessor(products, store, dead_letters)
    batch = entries([*EXAMPLE, game_over("exrps", P2, P1)])
    processor.process("exrps", "s", batch)
    keys = data.keys("st:{exrps}:lb:*") + data.keys("st:{exrps}:stats:*")
    before = {k: data.dump(k) for k in keys}
    again = processor.process("exrps", "s", batch)
    after = {k: data.dump(k) for k in before}
    assert again.applied == 0 and again.duplicates == 4
    assert before == after


def test_elo_is_zero_sum_and_favours_the_winner(products: Products, store: Store,
                                                dead_letters: DeadLetters) -> None:
    BatchProcessor(products, store, dead_letters).process(
        "exrps", "s", entries([game_over("exrps", "a", "b"), game_over("exrps", "a", "c")]))
    board = dict(store.top("exrps", "elo"))
    second = elo_delta(1516, 1500, 32)
    assert board == {"a": 1516 + second, "b": 1484, "c": 1500 - second}
    assert sum(board.values()) == 3 * 1500


def test_bad_entries_are_dead_lettered_with_reason_and_original(
        products: Products, store: Store, dead_letters: DeadLetters) -> None:
    bad = [
        (f"1700000000000-{i}", raw) for i, raw in enumerate([
            {b"product_id": b"exrps", b"type": b"game_over", b"game_id": b"g1",
             b"winner_id": P1.encode(), b"loser_id": P1.encode()},
            {b"product_id": b"exrps", b"type": b"bogus", b"game_id": b"g2"},
            {b"product_id": b"exrps", b"type": b"game_over", b"game_id": b"g3",
             b"winner_id": b"\xff\xfe", b"loser_id": b"x"},
        ])
    ]
    good = entries([game_over("exrps", P1, P2)], base=1700000001000)
    report = BatchProcessor(products, store, dead_letters).process("exrps", "s", bad + good)
    assert report.applied == 1
    assert report.dead_lettered == {"invalid_fields": 1, "unknown_type": 1, "not_utf8": 1}
    letters = dead_letters.list()
    assert [d.reason for d in letters] == ["invalid_fields", "unknown_type", "not_utf8"]
    assert letters[2].fields[b"winner_id"] == b"\xff\xfe"
    assert "self-play" in letters[0].detail


def test_unknown_product_and_republished_result(products: Products, store: Store,
                                                dead_letters: DeadLetters) -> None:
    processor = BatchProcessor(products, store, dead_letters)
    report = processor.process("nope", "s", entries([game_over("nope", P1, P2)]))
    assert report.dead_lettered == {"unknown_product": 1}
    first = game_over("exrps", P1, P2, game_id="f" * 32)
    report = processor.process("exrps", "s", entries([first, dict(first)]))
    assert report.applied == 1 and report.dead_lettered == {"duplicate_result": 1}
    # redelivery of the same batch: nothing applied, the dead letter is not repeated
    processor.process("exrps", "s", entries([first, dict(first)]))
    assert store.top("exrps", "wins") == [(P1, 1.0), (P2, 0.0)]
    assert [d.reason for d in dead_letters.list()] == ["unknown_product", "duplicate_result"]


class NaNScore(Handler):
    """A broken custom handler: a non-finite score on every result."""

    def ops(self, event: Event) -> Iterable[Op]:
        return [IncrScore("wins", event["winner_id"], float("nan"))] \
            if event.type == "game_over" else []


def test_a_handler_emitting_a_bad_op_dead_letters_only_its_event(
        store: Store, dead_letters: DeadLetters) -> None:
    products = Products({"exrps": Product("exrps", "exrps", (ExrpsStats(), NaNScore()))})
    rows = [game_over("exrps", P1, P2),
            {"product_id": "exrps", "game_id": "g", "type": "gameplay",
             "event_name": "select_weapon", "event_data": "1", "user_id": P1}]
    report = BatchProcessor(products, store, dead_letters).process("exrps", "s", entries(rows))
    assert report.applied == 1 and report.dead_lettered == {"handler_error": 1}
    assert store.player_stats("exrps", P1) == {"paper_selection_count": 1}  # nothing half-applied
    assert "not finite" in dead_letters.list()[0].detail


class Recording(Handler):
    """Counts the events it is shown, and scores none."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    def ops(self, event: Event) -> Iterable[Op]:
        self.seen.append((event.type, event.event_name))
        return []


class WeaponsOnly(Recording):
    events = frozenset({("gameplay", "select_weapon")})


def test_a_handler_sees_only_the_events_it_declares(store: Store,
                                                    dead_letters: DeadLetters) -> None:
    every, weapons = Recording(), WeaponsOnly()
    products = Products({"exrps": Product("exrps", "exrps", (every, weapons))})
    report = BatchProcessor(products, store, dead_letters).process("exrps", "s",
                                                                   entries(EXAMPLE))
    assert len(every.seen) == len(EXAMPLE)  # no declaration: every valid event
    assert set(weapons.seen) == {("gameplay", "select_weapon")} and len(weapons.seen) == 2
    assert report.ignored == len(EXAMPLE) and report.applied == 0


class SloppyStats(PlayerStats):
    """A subclass of a built-in handler: its ops are checked, unlike the built-in's."""

    def ops(self, event: Event) -> Iterable[Op]:
        return [IncrStat(event["winner_id"], "games", 1.5)] if event.type == "game_over" else []


def test_ops_of_a_subclassed_built_in_handler_are_still_checked(
        store: Store, dead_letters: DeadLetters) -> None:
    products = Products({"pong": Product("pong", "default", (SloppyStats(),))})
    report = BatchProcessor(products, store, dead_letters).process(
        "pong", "s", entries([game_over("pong", P1, P2)]))
    assert report.dead_lettered == {"handler_error": 1}
    assert "IncrStat.delta must be an integer" in dead_letters.list()[0].detail


def test_tune_gc_freezes_the_heap_and_searches_cycles_rarely() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLD
        assert gc.get_freeze_count() > 0  # what existed is never scanned again
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
