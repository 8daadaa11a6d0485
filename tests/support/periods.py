"""Helpers of the period tests: instants by their UTC date and time, and games of pong
applied at given instants."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.varcade import game_over
from tracker.clock import Clock
from tracker.processing import BatchProcessor

TOKYO = Clock(9 * 3_600_000)  # a board's utc_offset of +09:00
BERLIN = Clock(zone="Europe/Berlin")  # a board's time_zone: CET, and CEST in summer


def ms(*ymd_hms: int) -> int:
    """The Unix ms of a UTC date and time: ``ms(2026, 11, 30, 15, 30)``."""
    return int(datetime(*ymd_hms, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def feed(processor: BatchProcessor, games: list[tuple[int, str, str]]) -> None:
    """Games of pong, (instant, winner, loser), as entries of those instants."""
    batch = [(f"{at}-{i}", {k.encode(): v.encode() for k, v in game_over("pong", w, lo).items()})
             for i, (at, w, lo) in enumerate(games)]
    processor.process("pong", "s", batch)
