"""In-process cost of validation with and without the fast path (:mod:`tracker.fastpath`).

Over the benchmark's event mix (:mod:`bench.workload`), as redis-py hands the
entries over (bytes), it times per event:

- parse + validate: ``parse_entry`` (marshmallow only) against
  ``tracker.fastpath.parse`` (the fast path, marshmallow when it is not sure);
- the whole ``BatchProcessor.process`` in batches of ``--batch`` per product,
  with either parser: with Redis writes replaced by a no-op (the payload is
  still encoded), or against a private redis-server on a free port
  (``--redis``; flushed before each run).

Rounds alternate between the two paths and the best round counts, so that
other load on the machine hurts both alike. It also checks that both paths
give the same Event for every entry. ``python -m bench.fastpath_probe``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.workload import bench_products, generate
from tests.support.redis_server import private_redis
from tracker import fastpath
from tracker.events import Event, RawFields, parse_entry
from tracker.processing import BatchProcessor, Parse, group_by_product
from tracker.storage import DeadLetter, DeadLetters, Keys, Store

Entries = list[tuple[str, dict[bytes, bytes]]]
PARSERS: dict[str, Parse] = {"marshmallow only": parse_entry, "fast path": fastpath.parse}


class NoWriteStore(Store):
    """A Store whose batch script is not sent: Python's cost without Redis's."""

    def __init__(self) -> None:
        self.keys = Keys("bench")
        self.dedupe_ttl = 0
        self._apply = lambda keys, args: [0, 0, []]  # type: ignore[assignment,misc]


class NoDeadLetters(DeadLetters):
    def __init__(self) -> None:
        self.keys = Keys("bench")

    def add(self, letters: Sequence[DeadLetter]) -> int:
        return 0


def entries_of(count: int, seed: int) -> Entries:
    return [(f"1700000000000-{i}", {k.encode(): v.encode() for k, v in row.items()})
            for i, row in enumerate(generate(count, seed=seed))]


def best_of(rounds: int, runs: dict[str, Callable[[], None]], count: int) -> dict[str, float]:
    """Best µs per event of each run, rounds interleaved."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - start) / count * 1e6)
    return best


def parse_all(parse: Callable[[str, RawFields], Event], entries: Entries) -> Callable[[], None]:
    def run() -> None:
        for entry_id, raw in entries:
            parse(entry_id, raw)
    return run


def process_all(make: Callable[[Parse], BatchProcessor], parse: Parse, entries: Entries,
                batch: int, before: Callable[[], None]) -> Callable[[], None]:
    groups = group_by_product(entries)
    batches = [(pid, group[i:i + batch]) for pid, group in groups.items()
               for i in range(0, len(group), batch)]

    def run() -> None:
        before()
        processor = make(parse)
        for product_id, chunk in batches:
            processor.process(product_id, "bench", chunk)
    return run


def report(title: str, best: dict[str, float]) -> None:
    slow, fast = best["marshmallow only"], best["fast path"]
    print(f"{title}:")
    for name, us in best.items():
        print(f"  {us:7.2f} µs/event  {name}")
    print(f"  saved {slow - fast:.2f} µs/event ({slow / fast:.1f} times as fast)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=500, help="entries per BatchProcessor call")
    ap.add_argument("--redis", action="store_true",
                    help="also time BatchProcessor against a private redis-server")
    args = ap.parse_args(argv)
    entries = entries_of(args.events, seed=5)
    products = bench_products()

    same = sum(parse_entry(e, f) == fastpath.fast_parse(e, f) for e, f in entries)
    print(f"fast path gives marshmallow's Event for {same:,} of {len(entries):,} entries")

    report("parse + validate", best_of(args.rounds, {
        name: parse_all(parse, entries) for name, parse in PARSERS.items()}, len(entries)))

    def no_writes(parse: Parse) -> BatchProcessor:
        return BatchProcessor(products, NoWriteStore(), NoDeadLetters(), parse=parse)

    report(f"BatchProcessor.process, batches of {args.batch}, no Redis writes",
           best_of(args.rounds, {
               name: process_all(no_writes, parse, entries, args.batch, lambda: None)
               for name, parse in PARSERS.items()}, len(entries)))

    if args.redis:
        with private_redis() as server:
            client = server.client()
            keys = Keys("bench")

            def with_redis(parse: Parse) -> BatchProcessor:
                return BatchProcessor(products, Store(client, keys), DeadLetters(client, keys),
                                      parse=parse)

            flush: Callable[[], Any] = client.flushdb
            report(f"BatchProcessor.process, batches of {args.batch}, private redis-server",
                   best_of(args.rounds, {
                       name: process_all(with_redis, parse, entries, args.batch, flush)
                       for name, parse in PARSERS.items()}, len(entries)))


if __name__ == "__main__":
    main()
