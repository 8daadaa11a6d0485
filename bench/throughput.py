"""Throughput benchmark: our pipeline against two baselines, in one run on this machine.

    python -m bench.throughput            # the full run (500,000 events; a few minutes)
    python -m bench.throughput --quick    # a smoke run (< 60 s)

Starts its own redis-server (AOF on, ``appendfsync everysec`` as in compose),
Celery workers and bridges as subprocesses, and measures with the same
Varcade-format workload (four products, see ``bench/products.toml``):

- **baseline A**: one Celery task per event (a one-entry part in flight and its
  ``tasks.apply_part`` task per event, same workers, validation, handlers and
  Lua script);
  measured on a sample (``--a-events``) because it is slow;
- **baseline B**: one process, plain pipelined redis-py loop, same updates,
  no Celery, no validation, no idempotency (:mod:`bench.baseline_b`);
- **ours**: producer ``XADD`` → bridge(s) → Celery → worker(s) → Lua, timed
  from the first ``XADD`` until every update is visible (every applied
  entry's dedupe mark is in Redis: the mark and the entry's updates are
  written by the same atomic script), for 1, 2, 4 worker processes and 1, 2
  bridges;
- **latency**: ``XADD`` → visible on the exrps wins board, for marker
  ``game_over``s among a steady offered load (``--latency-rate``).

Every scenario ends with a check of the boards, stats, dedupe marks and
dead letters against an independent count (:func:`bench.workload.expected`).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import baseline_b
from bench.cluster import (
    CpuMeter,
    Producer,
    Servers,
    applied_count,
    bench_settings,
    group_drained,
    seen_keys,
    start_bridges,
    start_workers,
    verify,
    worker_rss,
)
from bench.options import build_parser, parse_matrix
from bench.results import Latency, Run, fmt_rate, percentile, report_text
from bench.workload import (
    Entry,
    Expected,
    bench_products,
    expected,
    generate,
    save,
    with_markers,
)
from tests.support.processes import Process, settings_env, wait_until
from tests.support.redis_server import server_version
from tracker.storage.keys import Keys

FORWARDED_RE = re.compile(r"stopped after forwarding (\d+) entries in (\d+) parts")


@dataclass
class Measured:
    """What one timed scenario gives, before its check."""

    t_go: float
    seconds: float  # first XADD (or publish) → every update visible
    producer_seconds: float
    cpu: dict[str, float]
    stats: dict[str, tuple[int, float]]
    rss_quarter: dict[str, float]
    rss_end: dict[str, float]


@dataclass
class Workload:
    path: Path
    entries: list[Entry]
    expected: Expected

    @property
    def size(self) -> int:
        return len(self.entries)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.servers = Servers.start(workdir / "redis", args.redis, args.aof,
                                     args.redis_transport)
        self.settings = bench_settings(self.servers, args.batch_size, args.linger_ms)
        self.products = bench_products()
        self.keys = Keys(self.settings.key_prefix)
        self.data = redis.Redis.from_url(self.settings.redis_url)
        self.stream = redis.Redis.from_url(self.settings.stream_url)

    def close(self) -> None:
        self.servers.stop()

    def log(self, message: str) -> None:
        if not self.args.json_only:
            print(message, flush=True)

    # --- workloads -------------------------------------------------------------

    def workload(self, name: str, entries: list[Entry]) -> Workload:
        path = self.workdir / f"{name}.msgpack"
        save(entries, path)
        return Workload(path, entries, expected(entries, self.products))

    # --- helpers -----------------------------------------------------------------

    def _producer(self, wl: Workload, rate: float = 0.0, chunk: int = 1000) -> Producer:
        return Producer("bench.producer", [
            "--url", self.settings.stream_url, "--key", self.settings.stream_key,
            "--file", str(wl.path), "--rate", str(rate), "--chunk", str(chunk)])

    def _wait_applied(self, seen: Sequence[str], total: int, stall: float = 60.0,
                      at_quarter: Callable[[], None] | None = None) -> float:
        """Poll until ``total`` entries are applied; the wall time they all were visible."""
        last, progress_at = -1, time.monotonic()
        while True:
            n = applied_count(self.data, seen)
            now = time.time()
            if n >= total:
                return now
            if at_quarter is not None and n >= total // 4:
                at_quarter()
                at_quarter = None
            if n != last:
                last, progress_at = n, time.monotonic()
            elif time.monotonic() - progress_at > stall:
                raise TimeoutError(f"stalled at {n} of {total} applied entries")
            time.sleep(0.01)

    def _meter(self, workers: Sequence[Process], bridges: Sequence[Process],
               producer: Producer | None) -> CpuMeter:
        meter = CpuMeter()
        for pid in self.servers.pids():
            meter.add("redis-server", pid)
        for w in workers:
            meter.add("workers", w.pid)
        for b in bridges:
            meter.add("bridges", b.pid)
        if producer is not None:
            meter.add("producer", producer.pid)
        return meter

    def _measure(self, wl: Workload, workers: Sequence[Process], bridges: Sequence[Process],
                 producer: Producer) -> Measured:
        """Start the producer and time it until every update of ``wl`` is visible."""
        meter = self._meter(workers, bridges, producer)
        self.servers.reset_stats()
        meter.start()
        t_go = time.time()
        producer.go()
        rss_quarter: dict[str, float] = {}
        visible = self._wait_applied(self._seen(t_go), wl.expected.total_applied,
                                     at_quarter=lambda: rss_quarter.update(worker_rss(workers)))
        cpu = meter.stop()
        stats = self.servers.commandstats()
        sent = producer.result()
        return Measured(t_go, visible - sent["first"], sent["done"] - sent["first"], cpu, stats,
                        rss_quarter, worker_rss(workers))

    def _seen(self, t0: float) -> list[str]:
        return seen_keys(self.keys, self.products, self.settings.stream_key, t0, t0 + 3600)

    # --- scenarios -------------------------------------------------------------------

    def ours(self, wl: Workload, workers: int, bridges: int) -> Run:
        self.servers.flush()
        logs = self.workdir / "logs" / f"ours-{workers}w-{bridges}b"
        logs.mkdir(parents=True, exist_ok=True)
        ws = start_workers(self.settings, logs, workers, self.products.queues, self.args.pool)
        bs: list[Process] = []
        producer: Producer | None = None
        try:
            rss_start = worker_rss(ws)
            bs = start_bridges(self.settings, logs, bridges)
            producer = self._producer(wl)
            m = self._measure(wl, ws, bs, producer)
            wait_until(lambda: group_drained(self.stream, self.settings), 30,
                       what="consumer group drained")
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(m.t_go))
        finally:
            if producer is not None:
                producer.kill()
            for p in [*bs, *ws]:
                p.stop()
        forwarded = sum(int(m[0]) for b in bs for m in FORWARDED_RE.findall(b.log()))
        if forwarded < wl.size:
            check.ok = False
            check.problems.append(f"bridges forwarded {forwarded} of {wl.size} entries")
        return Run(f"ours ({workers} worker{'s' * (workers > 1)}, {bridges} "
                   f"bridge{'s' * (bridges > 1)})", wl.size, m.seconds,
                   check.ok, check.problems, workers, bridges, m.cpu, rss_start, m.rss_end,
                   m.stats, forwarded, m.producer_seconds, m.rss_quarter)

    def baseline_a(self, wl: Workload, workers: int) -> Run:
        self.servers.flush()
        logs = self.workdir / "logs" / "baseline-a"
        logs.mkdir(parents=True, exist_ok=True)
        ws = start_workers(self.settings, logs, workers, self.products.queues, self.args.pool)
        publisher: Producer | None = None
        try:
            rss_start = worker_rss(ws)
            publisher = Producer("bench.publish_tasks", ["--file", str(wl.path)],
                                 env=settings_env(self.settings))
            m = self._measure(wl, ws, [], publisher)
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(m.t_go))
        finally:
            if publisher is not None:
                publisher.kill()
            for w in ws:
                w.stop()
        return Run(f"baseline A (1 task/event, {workers} worker{'s' * (workers > 1)})",
                   wl.size, m.seconds, check.ok, check.problems, workers, 0,
                   m.cpu, rss_start, m.rss_end, m.stats, None, m.producer_seconds,
                   m.rss_quarter)

    def baseline_b(self, wl: Workload) -> Run:
        self.servers.flush()
        producer = self._producer(wl)
        try:
            meter = self._meter([], [], producer)
            self.servers.reset_stats()
            meter.start()
            producer.go()
            done, _ = baseline_b.run(self.stream, self.data, self.settings.stream_key,
                                     self.products, self.keys, wl.size)
            cpu = meter.stop()
            stats = self.servers.commandstats()
            sent = producer.result()
        finally:
            producer.kill()
        check = verify(self.data, self.keys, self.products, wl.expected, None)
        return Run("baseline B (1 process, pipelined redis-py)", wl.size, done - sent["first"],
                   check.ok, check.problems, 0, 0, cpu, {}, {}, stats, None,
                   sent["done"] - sent["first"])

    def latency(self, rate: float, seconds: float, workers: int, bridges: int) -> Latency:
        entries, _ = with_markers(generate(int(rate * seconds), seed=7), every=50)
        wl = self.workload("latency", entries)
        markers = [i for i, e in enumerate(entries)
                   if e.get("winner_id", "").startswith("marker-")]
        names = [entries[i]["winner_id"] for i in markers]
        board = self.keys.board("exrps", "wins")
        visible: dict[str, float] = {}

        self.servers.flush()
        logs = self.workdir / "logs" / "latency"
        logs.mkdir(parents=True, exist_ok=True)
        ws = start_workers(self.settings, logs, workers, self.products.queues, self.args.pool)
        bs: list[Process] = []
        producer: Producer | None = None
        try:
            bs = start_bridges(self.settings, logs, bridges)
            producer = self._producer(wl, rate=rate, chunk=max(1, int(rate / 100)))
            meter = self._meter(ws, bs, producer)
            self.servers.reset_stats()
            meter.start()
            t_go = time.time()
            producer.go()
            deadline = time.monotonic() + seconds + 60
            due = 0  # markers[:due] may have been written by now
            while len(visible) < len(names) and time.monotonic() < deadline:
                now = time.time()
                while due < len(markers) and t_go + markers[due] / rate <= now + 0.02:
                    due += 1
                waiting = [n for n in names[:due] if n not in visible]
                if waiting:
                    pipe = self.data.pipeline(transaction=False)
                    for n in waiting:
                        pipe.zscore(board, n)
                    scores = pipe.execute()
                    seen_at = time.time()
                    for n, score in zip(waiting, scores, strict=True):
                        if score is not None:
                            visible[n] = seen_at
                time.sleep(0.001)
            sent = producer.result()
            cpu = meter.stop()
            self._wait_applied(self._seen(t_go), wl.expected.total_applied)
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(t_go))
        finally:
            if producer is not None:
                producer.kill()
            for p in [*bs, *ws]:
                p.stop()
        tasks = sum(int(m[1]) for b in bs for m in FORWARDED_RE.findall(b.log()))
        written = self._marker_times()
        warmup_end = float(sent["first"]) + 1.0
        lat = sorted((visible[n] - written[n]) * 1000 for n in names
                     if n in visible and n in written and written[n] >= warmup_end)
        missing = len(names) - len(visible)
        if missing:
            check.ok = False
            check.problems.append(f"{missing} markers never became visible")
        return Latency(rate, sent["sent"] / (sent["done"] - sent["first"]), seconds,
                       len(names), len(lat), percentile(lat, 0.5), percentile(lat, 0.9),
                       percentile(lat, 0.99), lat[-1] if lat else float("nan"),
                       check.ok, check.problems, cpu, tasks)

    def _marker_times(self) -> dict[str, float]:
        """Marker winner → its XADD time (the millisecond part of its entry ID)."""
        out: dict[str, float] = {}
        start = "-"
        while True:
            rows: Any = self.stream.xrange(self.settings.stream_key, start, "+", count=10_000)
            for entry_id, fields in rows:
                winner = fields.get(b"winner_id", b"")
                if winner.startswith(b"marker-"):
                    out[winner.decode()] = int(entry_id.split(b"-")[0]) / 1000
            if len(rows) < 10_000:
                return out
            start = "(" + rows[-1][0].decode()


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.events = min(args.events, 20_000)
        args.a_events = min(args.a_events, 500)
        args.scaling = ""
        args.latency_seconds = min(args.latency_seconds, 3.0)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, workdir)
    res: dict[str, Any] = {"runs": {}, "scaling": {}}
    try:
        res.update(cores=len(__import__("os").sched_getaffinity(0)),
                   server=server_version(bench.data), batch_size=bench.settings.batch_size,
                   linger_ms=bench.settings.linger_ms,
                   args={k: str(v) for k, v in vars(args).items()})
        bench.log(f"generating {args.events:,} events ...")
        wl = bench.workload("events", generate(args.events))
        headline = (args.workers, args.bridges)
        cells = [] if "scaling" in skip else parse_matrix(args.scaling)
        if headline not in cells:
            cells.append(headline)
        for w, b in cells:
            r = bench.ours(wl, w, b)
            bench.log(f"  {r.name}: {fmt_rate(r.rate)} events/s{'' if r.ok else ' FAILED'}")
            res["scaling"][f"{w}x{b}"] = asdict(r)
            if (w, b) == headline:
                res["runs"]["ours"] = asdict(r)
        if "scaling" in skip or not args.scaling:
            res["scaling"] = {}
        if "b" not in skip:
            r = bench.baseline_b(wl)
            bench.log(f"  {r.name}: {fmt_rate(r.rate)} events/s{'' if r.ok else ' FAILED'}")
            res["runs"]["baseline_b"] = asdict(r)
        if "a" not in skip:
            wa = bench.workload("events-a", wl.entries[:args.a_events])
            r = bench.baseline_a(wa, args.workers)
            bench.log(f"  {r.name}: {fmt_rate(r.rate)} events/s{'' if r.ok else ' FAILED'}")
            res["runs"]["baseline_a"] = asdict(r)
        if "latency" not in skip:
            lat = bench.latency(args.latency_rate, args.latency_seconds, *headline)
            res["latency"] = asdict(lat)
    except BaseException:
        bench.close()
        print(f"benchmark failed; Redis data and logs kept in {workdir}", flush=True)
        raise
    bench.close()
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    res = run(args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if not args.json_only:
        print()
        print(report_text(res, args))
    runs = list(res["runs"].values()) + list(res["scaling"].values())
    ok = all(r["ok"] for r in runs) and res.get("latency", {}).get("ok", True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
