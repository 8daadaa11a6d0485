"""Handlers for tests only, referenced from test product files as ``tests.support.handlers:…``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from tests.support.varcade import raw
from tracker.closing import PeriodResult
from tracker.events import Event
from tracker.handlers import Board, Handler, IncrScore, KeepBest, Op, SetScore
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor, Entry
from tracker.storage import DeadLetters, Store

POISON_GAME = "0badc0de0badc0de0badc0de0badc0de"


class PoisonPill(Handler):
    """A handler with a bug that hits one event: the result of game ``POISON_GAME``."""

    def ops(self, event: Event) -> Iterable[Op]:
        if event.game_id == POISON_GAME and event.type == "game_over":
            raise RuntimeError(f"poison pill in game {event.game_id}")
        return []


class RaceTimes(Handler):
    """A racing game's boards, both lower-is-better with ``order = "asc"``: each driver's
    best ``lap`` (milliseconds, from a ``progression`` event) and the sum of its
    ``penalty`` seconds."""

    events = frozenset({("gameplay", "progression")})

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board("laps", "best"), Board("penalties", "points"))

    def ops(self, event: Event) -> Iterable[Op]:
        driver = event["p1_id"]
        return [KeepBest("laps", driver, float(event["lap"])),
                IncrScore("penalties", driver, float(event["penalty"]))]


class RewardedRaceTimes(RaceTimes):
    """:class:`RaceTimes` with a reward hook that "grants" each closed period's prizes by
    appending a line to a ledger file (``prizes``), as a real hook would call a rewards
    service: one JSON line per call, ``{id, board, period, bucket, winner}``."""

    def __init__(self, prizes: str) -> None:
        self.prizes = prizes

    def period_closed(self, result: PeriodResult) -> None:
        winner = result.top[0]["user_id"] if result.top else None
        with open(self.prizes, "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps({"id": result.id, "board": result.board,
                                     "period": result.period, "bucket": result.bucket,
                                     "winner": winner}) + "\n")


def prizes_granted(ledger: Path) -> list[dict[str, Any]]:
    """The lines :class:`RewardedRaceTimes` wrote to ``ledger``."""
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def race_lap(product: str, driver: str, lap: int, penalty: int) -> dict[str, str]:
    """A ``progression`` event of ``product`` carrying one lap for :class:`RaceTimes`."""
    return {"product_id": product, "game_id": "r1", "type": "gameplay",
            "event_name": "progression", "progress_event": "round_started",
            "p1_id": driver, "p2_id": "pace-car", "lap": str(lap), "penalty": str(penalty)}


def race_entries(laps: Iterable[tuple[str, int, int, int]],
                 start_ms: int) -> list[tuple[str, dict[bytes, bytes]]]:
    """Stream entries of race's laps, each ``(driver, lap, penalty, ms after start_ms)``."""
    return [(f"{start_ms + at}-{i}", raw(race_lap("race", d, lap, pen)))
            for i, (d, lap, pen, at) in enumerate(laps)]


def play_race_week(processor_for: Callable[[float], BatchProcessor], week: Period,
                   laps: Sequence[tuple[str, int]]) -> None:
    """Laps of race in ``week``, an hour after it began, applied while it was on (not
    late): ``processor_for(clock)`` gives a processor whose clock reads ``clock``."""
    at = week.start_ms + 3_600_000
    report = processor_for(at / 1000 + 60).process("race", "s", race_entries(
        [(d, lap, 0, i) for i, (d, lap) in enumerate(laps)], at))
    assert report.applied == len(laps), report.as_dict()


def process_in_batches(processor: BatchProcessor, entries: Sequence[Entry],
                       batch: int) -> None:
    """Apply race ``entries`` ``batch`` at a time; none may be dead-lettered."""
    for i in range(0, len(entries), batch):
        report = processor.process("race", "s", entries[i:i + batch])
        assert not report.dead_lettered, report.as_dict()


class LastLap(Handler):
    """A board of each driver's latest lap (``SetScore``), for the "latest" operator."""

    events = frozenset({("gameplay", "progression")})

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board("last", "latest"), Board("penalties", "points"))

    def ops(self, event: Event) -> Iterable[Op]:
        driver = event["p1_id"]
        return [SetScore("last", driver, float(event["lap"])),
                IncrScore("penalties", driver, float(event["penalty"]))]


class EventsForm(Store):
    """A store that always sends batches in the events form (never summed), to check that
    both forms of the batch script agree."""

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        return super().apply(*args, **{**kwargs, "summed": False})


def redelivered_changes_nothing(data: redis.Redis, processor: BatchProcessor, product: str,
                                entries: Sequence[tuple[str, dict[bytes, bytes]]],
                                batch: int, refused: int) -> None:
    """Apply ``entries`` again in batches of ``batch`` (a redelivery of every part): the
    product's boards do not change, and its count of refused submissions stays
    ``refused``."""
    def boards() -> dict[bytes, bytes | None]:
        return {k: data.dump(k) for k in data.keys(f"st:{{{product}}}:lb:*")}  # type: ignore[misc]

    def refusals() -> int:
        return Store(data).counters([product])[product].get("refused", 0)

    assert refusals() == refused
    before = boards()
    for i in range(0, len(entries), batch):
        processor.process(product, "s", entries[i:i + batch])
    assert boards() == before
    assert refusals() == refused


# A week of race, closed at RACE_AFTER_GRACE (tests of closing, archives and hooks)
RACE_HANDLER = f"{RaceTimes.__module__}:{RaceTimes.__name__}"
# a Friday of 2037-W48: far ahead, since Redis drops its boards a week after it
RACE_T0 = int(datetime(2037, 11, 27, tzinfo=UTC).timestamp() * 1000)
RACE_WEEK = Period.containing(PeriodKind.WEEK, RACE_T0)
RACE_AFTER_GRACE = RACE_WEEK.end_ms + 600_000  # the first moment the week is final
# (driver, lap, penalty): d0 d1 form bucket 0, d2 d3 bucket 1, d4 bucket 2
RACE_LAPS = [("d0", 61, 1), ("d1", 58, 0), ("d2", 58, 2), ("d3", 64, 0), ("d4", 57, 1),
             ("d0", 57, 1)]


def race_config(**table: object) -> dict[str, object]:
    """A products table of race alone, kept per week for one week more; ``table`` adds to
    its handler's table."""
    return {"products": {"race": {"handlers": [{"use": RACE_HANDLER, "order": "asc",
                                                 "periods": ["week"], "keep_periods": 1,
                                                 **table}]}}}


def play_race_laps(data: redis.Redis, products: object) -> None:
    """``RACE_LAPS`` in ``RACE_WEEK``, applied while it is on."""
    entries = race_entries([(d, lap, pen, i) for i, (d, lap, pen) in enumerate(RACE_LAPS)],
                           RACE_T0)
    report = BatchProcessor(products, Store(data), DeadLetters(data),  # type: ignore[arg-type]
                            clock=lambda: RACE_T0 / 1000).process("race", "s", entries)
    assert report.applied == len(RACE_LAPS)
