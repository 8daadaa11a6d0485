"""Applying one batch of stream entries: validate, run handlers, store, dead-letter.

This is what a worker task calls. It is safe to call again with the same
entries (a redelivered task): the store's dedupe marks make the second call a
no-op, and dead letters are stored once per entry.

An entry whose handler raises is either dead-lettered at once (``handler_error``)
or, with ``retry_failures``, handed back in :attr:`BatchReport.failed` so that
the caller can retry it alone later; the rest of the batch is applied either way.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tracker import fastpath
from tracker.events import BOARD_EVENTS, Event, InvalidEvent, RawFields, product_key
from tracker.handlers import BUILTIN
from tracker.handlers.base import Handler, Op, check_op
from tracker.manual_seasons import ManualSeasons
from tracker.order import stored_ops
from tracker.period_ops import NoPeriod, PeriodBoards, PeriodOps
from tracker.products import Product, Products
from tracker.storage import DeadLetter, DeadLetters, PreparedEvent, Store
from tracker.tiebreak import check_ops

# The garbage collector's cycle search ran every 700 new containers, and a batch
# makes thousands (an entry is a dict, a tuple, an Event): on the benchmark it
# took a third of the time of unpacking and validating. Our objects form no
# cycles; those made while a process starts are frozen once it is up.
GC_THRESHOLD = (50_000, 50, 100)


def tune_gc() -> None:
    """Set a batch-processing process's collector: the heap so far frozen, cycles searched
    rarely. Workers and bridges call it once started; baseline B of the benchmark too."""
    gc.collect()
    gc.freeze()  # everything made while starting: never scanned again
    gc.set_threshold(*GC_THRESHOLD)

log = logging.getLogger(__name__)

Entry = tuple[str, RawFields]


@dataclass(frozen=True)
class Failure:
    """An entry whose handler raised, kept for a later retry."""

    entry_id: str
    raw: RawFields
    error: str  # "ExceptionType: message"


@dataclass
class BatchReport:
    """What happened to each entry of a batch. Counters are by outcome."""

    applied: int = 0
    duplicates: int = 0  # entries applied before (redelivery, replay)
    ignored: int = 0  # valid entries no handler of the product uses
    late: int = 0  # applied, but too late for a closed period (all-time boards only)
    dead_lettered: dict[str, int] = field(default_factory=dict)  # by reason
    failed: list[Failure] = field(default_factory=list)  # handler raised; retry them
    rejected: dict[str, str] = field(default_factory=dict)  # entry id -> reason

    def reject(self, entry_id: str, reason: str) -> None:
        self.dead_lettered[reason] = self.dead_lettered.get(reason, 0) + 1
        self.rejected[entry_id] = reason

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied, "duplicates": self.duplicates,
            "ignored": self.ignored, "late": self.late,
            "dead_lettered": dict(self.dead_lettered),
            "retrying": len(self.failed),
        }


def raw_bytes(raw: RawFields) -> dict[bytes, bytes]:
    """An entry's fields as bytes, whether redis-py or msgpack handed them over as text."""
    return {
        (k if isinstance(k, bytes) else k.encode()): (v if isinstance(v, bytes) else v.encode())
        for k, v in raw.items()
    }


Parse = Callable[[str, RawFields], Event]
# Handlers whose ops are valid by construction: their exact classes (a subclass may differ).
TRUSTED = frozenset(BUILTIN.values())


class BatchProcessor:
    """``parse`` validates one entry; by default the fast path, with marshmallow deciding
    every entry the fast path is not sure of (:mod:`tracker.fastpath`)."""

    def __init__(self, products: Products, store: Store, dead_letters: DeadLetters, *,
                 parse: Parse = fastpath.parse, clock: Callable[[], float] = time.time,
                 seasons: ManualSeasons | None = None):
        self.products = products
        self.store = store
        self.dead_letters = dead_letters
        self.parse = parse
        self.clock = clock  # decides which periods are past their grace
        # the calendars of boards whose seasons are set at run time (tracker season)
        self.seasons = seasons or ManualSeasons.of(store.client, store.keys)
        self._by_event: dict[tuple[str, str, str | None], tuple[tuple[Handler, bool], ...]] = {}
        # product id -> (the product they were made for, its period boards)
        self._periodic: dict[str, tuple[Product, PeriodBoards | None]] = {}

    def process(self, product_id: str, source: str, entries: Sequence[Entry], *,
                retry_failures: bool = False, attempts: int = 1) -> BatchReport:
        """Apply ``entries`` (one product's, from stream ``source``) and dead-letter bad ones.

        ``retry_failures``: entries whose handler raises go to ``report.failed``
        instead of the dead letter. ``attempts`` is how often they were tried,
        for the dead letter's detail.
        """
        report = BatchReport()
        letters: list[DeadLetter] = []
        prepared: list[PreparedEvent] = []

        def reject(entry_id: str, raw: RawFields, reason: str, detail: str) -> None:
            report.reject(entry_id, reason)
            letters.append(
                DeadLetter(source, entry_id, reason, detail, product_id, raw_bytes(raw))
            )

        product = self.products.get(product_id)
        if product is not None and product.manual_boards and entries:
            # read less than a lead before the latest event's time (tracker.storage.seasons)
            latest = max(_time_ms(entry_id) for entry_id, _ in entries)
            product = self.seasons.current(product, latest)
        periodic = self._period_boards(product) if product is not None else None
        period_ops = PeriodOps({})
        now_ms = int(self.clock() * 1000)
        parse = self.parse
        for entry_id, raw in entries:
            try:
                event = parse(entry_id, raw)
            except InvalidEvent as exc:
                reject(entry_id, raw, exc.reason, exc.detail)
                continue
            if product is None or event.product_id != product_id:
                reject(entry_id, raw, "unknown_product",
                       f"product {event.product_id!r} is not configured")
                continue
            handlers = self._handlers(product, event)
            if not handlers and event.type not in BOARD_EVENTS:
                report.ignored += 1
                continue
            try:
                ops = self._ops(handlers, event)
            except Exception as exc:  # a handler bug must not sink the batch
                error = f"{type(exc).__name__}: {exc}"
                if retry_failures:
                    log.warning("handler failed on %s/%s (%s); will retry", source, entry_id,
                                error)
                    report.failed.append(Failure(entry_id, raw, error))
                else:
                    log.exception("handler failed on %s/%s", source, entry_id)
                    tried = f" (failed {attempts} times)" if attempts > 1 else ""
                    reject(entry_id, raw, "handler_error", error + tried)
                continue
            if not ops:
                if event.type in BOARD_EVENTS:  # one nothing keeps would be lost unseen
                    reject(entry_id, raw, "unknown_board", f"product {product_id!r} keeps no "
                           f"scores on board {event['board']!r}")
                else:
                    report.ignored += 1
                continue
            if product.earliest:  # boards whose integers break ties by time
                try:
                    check_ops(ops, product.earliest)
                except ValueError as exc:
                    reject(entry_id, raw, "handler_error", str(exc))
                    continue
            if product.ascending:  # boards where the lowest score ranks first
                ops = stored_ops(ops, product.ascending, product.subscored)
            late = False
            if periodic is not None:
                try:
                    ops, late = periodic.expand(entry_id, ops, now_ms, period_ops)
                except NoPeriod as exc:  # an explicit entry ID far in the future
                    reject(entry_id, raw, "bad_entry_id", str(exc))
                    continue
            game = (event.game_id or "") if event.type == "game_over" else ""
            prepared.append(PreparedEvent(entry_id, game, ops, late))

        self.dead_letters.add(letters)  # before applying: a crash after it loses nothing
        letters = []
        result = self.store.apply(product_id, source, prepared, expires=period_ops.expires,
                                  buckets=period_ops.buckets,
                                  earliest=product.earliest if product else ())
        report.late = period_ops.late
        report.applied = result.applied
        report.duplicates = result.duplicates
        if result.duplicate_results:
            by_id = {entry_id: raw for entry_id, raw in entries}
            for entry_id in result.duplicate_results:
                reject(entry_id, by_id[entry_id], "duplicate_result",
                       "a game_over for this game_id was already applied")
        self.dead_letters.add(letters)
        return report

    def replay(self, letter: DeadLetter) -> str:
        """Process a dead letter's original entry again, under its original identity.

        The entry keeps its source stream and entry ID, so the dedupe record
        still protects it: an entry that was applied meanwhile is not applied
        twice. The letter is deleted when the entry is now applied, ignored or
        was applied already; then the outcome is ``"applied"``, ``"ignored"``
        or ``"already_applied"``. Otherwise the letter stays and the outcome is
        the reason it was rejected this time.
        """
        entry = (letter.entry_id, letter.fields)
        product_id = next(iter(group_by_product([entry])))
        report = self.process(product_id, letter.source, [entry])
        if report.applied:
            outcome = "applied"
        elif report.duplicates:
            outcome = "already_applied"
        elif report.ignored:
            outcome = "ignored"
        else:
            return report.rejected.get(letter.entry_id, "rejected")
        self.dead_letters.remove([letter])
        return outcome

    def _period_boards(self, product: Product) -> PeriodBoards | None:
        """The product's boards kept per period, if it has any (made again when the product
        changes: a manual calendar read anew)."""
        made = self._periodic.get(product.id)
        if made is None or made[0] is not product:
            policies = {b.name: b.periods for b in product.boards if b.periods is not None}
            made = self._periodic[product.id] = (product,
                                                 PeriodBoards(policies) if policies else None)
        return made[1]

    def _handlers(self, product: Product, event: Event) -> Sequence[tuple[Handler, bool]]:
        """The product's handlers that read this kind of event, each with whether its ops
        need checking (a built-in handler's are valid by construction)."""
        key = (product.id, event.type, event.event_name)
        found = self._by_event.get(key)
        if found is None:
            kind = (event.type, event.event_name)
            found = tuple((h, type(h) not in TRUSTED) for h in product.handlers
                          if h.events is None or kind in h.events)
            self._by_event[key] = found
        return found

    @staticmethod
    def _ops(handlers: Sequence[tuple[Handler, bool]], event: Event) -> list[Op]:
        ops: list[Op] = []
        for handler, check in handlers:
            if check:
                ops.extend(check_op(op) for op in handler.ops(event))
            else:
                ops.extend(handler.ops(event))
        return ops


RawEntry = tuple[str, Mapping[bytes, bytes]]


def _time_ms(entry_id: str) -> int:
    """An entry ID's milliseconds (0 for one that is no stream ID: its parse rejects it)."""
    head = entry_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def group_by_product(entries: Sequence[RawEntry]) -> dict[str, list[RawEntry]]:
    """Split entries by product as the bridge does (:func:`~tracker.events.product_key`:
    invalid ids group under ``""``)."""
    groups: dict[str, list[RawEntry]] = {}
    for entry_id, raw in entries:
        groups.setdefault(product_key(raw.get(b"product_id", b"")), []).append((entry_id, raw))
    return groups
