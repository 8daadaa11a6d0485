"""Applying one batch of stream entries: validate, run handlers, store, dead-letter.

This is what a worker task calls. It is safe to call again with the same
entries (a redelivered task): the store's dedupe marks make the second call a
no-op, and dead letters are stored once per entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tracker.events import Event, InvalidEvent, RawFields, parse_entry
from tracker.handlers.base import Op, check_op
from tracker.products import Products
from tracker.storage import DeadLetter, DeadLetters, PreparedEvent, Store

log = logging.getLogger(__name__)

Entry = tuple[str, RawFields]


@dataclass
class BatchReport:
    """What happened to each entry of a batch. Counters are by outcome."""

    applied: int = 0
    duplicates: int = 0  # entries applied before (redelivery, replay)
    ignored: int = 0  # valid entries no handler of the product uses
    dead_lettered: dict[str, int] = field(default_factory=dict)  # by reason

    def reject(self, reason: str) -> None:
        self.dead_lettered[reason] = self.dead_lettered.get(reason, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied, "duplicates": self.duplicates,
            "ignored": self.ignored, "dead_lettered": dict(self.dead_lettered),
        }


def _raw_bytes(raw: RawFields) -> dict[bytes, bytes]:
    return {
        (k if isinstance(k, bytes) else k.encode()): (v if isinstance(v, bytes) else v.encode())
        for k, v in raw.items()
    }


class BatchProcessor:
    def __init__(self, products: Products, store: Store, dead_letters: DeadLetters):
        self.products = products
        self.store = store
        self.dead_letters = dead_letters

    def process(self, product_id: str, source: str, entries: Sequence[Entry]) -> BatchReport:
        report = BatchReport()
        letters: list[DeadLetter] = []
        prepared: list[PreparedEvent] = []

        def reject(entry_id: str, raw: RawFields, reason: str, detail: str) -> None:
            report.reject(reason)
            letters.append(
                DeadLetter(source, entry_id, reason, detail, product_id, _raw_bytes(raw))
            )

        product = self.products.get(product_id)
        for entry_id, raw in entries:
            try:
                event = parse_entry(entry_id, raw)
            except InvalidEvent as exc:
                reject(entry_id, raw, exc.reason, exc.detail)
                continue
            if product is None or event.product_id != product_id:
                reject(entry_id, raw, "unknown_product",
                       f"product {event.product_id!r} is not configured")
                continue
            try:
                ops = self._ops(product.handlers, event)
            except Exception as exc:  # a handler bug must not sink the batch
                log.exception("handler failed on %s/%s", source, entry_id)
                reject(entry_id, raw, "handler_error", f"{type(exc).__name__}: {exc}")
                continue
            if not ops:
                report.ignored += 1
                continue
            game = (event.game_id or "") if event.type == "game_over" else ""
            prepared.append(PreparedEvent(entry_id, game, ops))

        self.dead_letters.add(letters)  # before applying: a crash after it loses nothing
        letters = []
        result = self.store.apply(product_id, source, prepared)
        report.applied = result.applied
        report.duplicates = result.duplicates
        if result.duplicate_results:
            by_id = {entry_id: raw for entry_id, raw in entries}
            for entry_id in result.duplicate_results:
                reject(entry_id, by_id[entry_id], "duplicate_result",
                       "a game_over for this game_id was already applied")
        self.dead_letters.add(letters)
        return report

    @staticmethod
    def _ops(handlers: Sequence[object], event: Event) -> list[Op]:
        ops: list[Op] = []
        for handler in handlers:
            ops.extend(check_op(op) for op in handler.ops(event))  # type: ignore[attr-defined]
        return ops


RawEntry = tuple[str, Mapping[bytes, bytes]]


def group_by_product(entries: Sequence[RawEntry]) -> dict[str, list[RawEntry]]:
    """Split entries by their raw ``product_id`` (undecodable ids group under ``""``)."""
    groups: dict[str, list[RawEntry]] = {}
    for entry_id, raw in entries:
        pid = raw.get(b"product_id", b"")
        try:
            key = pid.decode("utf-8")
        except UnicodeDecodeError:
            key = ""
        groups.setdefault(key, []).append((entry_id, raw))
    return groups
