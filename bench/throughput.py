"""Throughput benchmark: our pipeline against two baselines, in one run on this machine.

    python -m bench.throughput            # the full run (500,000 events; a few minutes)
    python -m bench.throughput --quick    # a smoke run (< 60 s)

Starts its own redis-server (AOF on, ``appendfsync everysec`` as in compose),
Celery workers and bridges as subprocesses, and measures with the same
Varcade-format workload (four products, see ``bench/products.toml``):

- **baseline A**: one Celery task per event (a one-entry ``tasks.apply_batch``
  published per event, same workers, validation, handlers and Lua script);
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import baseline_b
from bench.cluster import (
    OTHERS,
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
from tracker.storage.keys import Keys

FORWARDED_RE = re.compile(r"stopped after forwarding (\d+) entries")


@dataclass
class Workload:
    path: Path
    entries: list[Entry]
    expected: Expected

    @property
    def size(self) -> int:
        return len(self.entries)


@dataclass
class Run:
    """One measured scenario."""

    name: str
    events: int
    seconds: float
    ok: bool
    problems: list[str] = field(default_factory=list)
    workers: int = 0
    bridges: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    rss_start_mib: dict[str, float] = field(default_factory=dict)
    rss_end_mib: dict[str, float] = field(default_factory=dict)
    redis_usec: dict[str, tuple[int, float]] = field(default_factory=dict)
    forwarded: int | None = None  # entries the bridges handed on (from their logs)
    producer_seconds: float = 0.0  # first to last XADD (or publish)
    rss_quarter_mib: dict[str, float] = field(default_factory=dict)  # at 25 % applied (warm)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Latency:
    offered_rate: float
    achieved_rate: float
    seconds: float
    markers: int
    measured: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ok: bool
    problems: list[str] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    tasks: int = 0  # apply_batch tasks that ran (EVALSHA calls)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.servers = Servers.start(workdir / "redis", args.redis, args.aof)
        self.settings = bench_settings(self.servers, args.batch_size)
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
            meter = self._meter(ws, bs, producer)
            self.servers.reset_stats()
            meter.start()
            t_go = time.time()
            producer.go()
            rss_quarter: dict[str, float] = {}
            visible = self._wait_applied(self._seen(t_go), wl.expected.total_applied,
                                         at_quarter=lambda: rss_quarter.update(worker_rss(ws)))
            cpu = meter.stop()
            stats = self.servers.commandstats()
            sent = producer.result()
            rss_end = worker_rss(ws)
            wait_until(lambda: group_drained(self.stream, self.settings), 30,
                       what="consumer group drained")
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(t_go))
        finally:
            if producer is not None:
                producer.kill()
            for p in [*bs, *ws]:
                p.stop()
        forwarded = sum(int(m) for b in bs for m in FORWARDED_RE.findall(b.log()))
        if forwarded < wl.size:
            check.ok = False
            check.problems.append(f"bridges forwarded {forwarded} of {wl.size} entries")
        return Run(f"ours ({workers} worker{'s' * (workers > 1)}, {bridges} "
                   f"bridge{'s' * (bridges > 1)})", wl.size, visible - sent["first"],
                   check.ok, check.problems, workers, bridges, cpu, rss_start, rss_end,
                   stats, forwarded, sent["done"] - sent["first"], rss_quarter)

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
            meter = self._meter(ws, [], publisher)
            self.servers.reset_stats()
            meter.start()
            t_go = time.time()
            publisher.go()
            rss_quarter: dict[str, float] = {}
            visible = self._wait_applied(self._seen(t_go), wl.expected.total_applied,
                                         at_quarter=lambda: rss_quarter.update(worker_rss(ws)))
            cpu = meter.stop()
            stats = self.servers.commandstats()
            sent = publisher.result()
            rss_end = worker_rss(ws)
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(t_go))
        finally:
            if publisher is not None:
                publisher.kill()
            for w in ws:
                w.stop()
        return Run(f"baseline A (1 task/event, {workers} worker{'s' * (workers > 1)})",
                   wl.size, visible - sent["first"], check.ok, check.problems, workers, 0,
                   cpu, rss_start, rss_end, stats, None, sent["done"] - sent["first"],
                   rss_quarter)

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
            tasks = self.servers.commandstats().get("evalsha", (0, 0.0))[0]
            self._wait_applied(self._seen(t_go), wl.expected.total_applied)
            check = verify(self.data, self.keys, self.products, wl.expected, self._seen(t_go))
        finally:
            if producer is not None:
                producer.kill()
            for p in [*bs, *ws]:
                p.stop()
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


# --- report -----------------------------------------------------------------------------


def others_cores(cpu: dict[str, float], seconds: float) -> float:
    return cpu.get(OTHERS, 0.0) / seconds if seconds > 0 else 0.0


def fmt_rate(r: float) -> str:
    return f"{r:,.0f}"


def report_text(res: dict[str, Any], args: argparse.Namespace) -> str:
    lines: list[str] = []
    runs = {k: Run(**v) for k, v in res["runs"].items()}
    ours = runs["ours"]
    a, b = runs.get("baseline_a"), runs.get("baseline_b")
    lines.append(f"stats-tracker throughput — {ours.events:,} Varcade events, 4 products "
                 f"(bench/products.toml); {res['cores']} cores; Redis {res['redis_version']} "
                 f"({args.redis}, AOF {args.aof}); batch {res['batch_size']}; pool {args.pool}")
    lines.append(f"{'scenario':48} {'events':>9} {'seconds':>8} {'events/s':>10} "
                 f"{'others':>7}  check")
    for r in [x for x in (a, b) if x] + [ours]:
        lines.append(f"{r.name:48} {r.events:>9,} {r.seconds:>8.2f} {fmt_rate(r.rate):>10} "
                     f"{others_cores(r.cpu_seconds, r.seconds):>7.2f}  "
                     f"{'ok' if r.ok else 'FAILED: ' + '; '.join(r.problems)}")
    lines.append("(others: cores that processes other than the benchmark's used meanwhile)")
    if a:
        lines.append(f"ours/A = {ours.rate / a.rate:,.1f}x"
                     + (f"   ours/B = {ours.rate / b.rate:.2f}x" if b else ""))
    elif b:
        lines.append(f"ours/B = {ours.rate / b.rate:.2f}x")
    lat = res.get("latency")
    if lat:
        lines.append(
            f"latency XADD -> visible on the board at {lat['offered_rate']:,.0f} events/s "
            f"offered ({lat['achieved_rate']:,.0f} achieved, {lat['seconds']:g} s, "
            f"{lat['measured']} markers after 1 s warm-up): p50 {lat['p50_ms']:.1f} ms, "
            f"p90 {lat['p90_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms"
            + f"; {lat['tasks']:,} tasks, "
            f"{lat['offered_rate'] * lat['seconds'] / max(lat['tasks'], 1):.0f} entries/task; "
            f"others {others_cores(lat['cpu_seconds'], lat['seconds']):.2f} cores"
            + ("" if lat["ok"] else "  FAILED: " + "; ".join(lat["problems"])))
    scaling = {k: Run(**v) for k, v in res.get("scaling", {}).items()}
    if scaling:
        ws = sorted({r.workers for r in scaling.values()})
        bs = sorted({r.bridges for r in scaling.values()})
        lines.append("scaling, events/s (others' cores) (rows: worker processes, "
                     "columns: bridges):")
        lines.append("  workers " + "".join(f"{f'{n} bridge' + 's' * (n > 1):>20}" for n in bs))
        for w in ws:
            cells = []
            for n in bs:
                cell = scaling.get(f"{w}x{n}")
                text = "-" if cell is None else (
                    f"{fmt_rate(cell.rate)}{'' if cell.ok else '!'} "
                    f"({others_cores(cell.cpu_seconds, cell.seconds):.2f})")
                cells.append(f"{text:>20}")
            lines.append(f"  {w:>7} " + "".join(cells))
        best = max(scaling.values(), key=lambda r: r.rate)
        lines.append(f"  best: {fmt_rate(best.rate)} events/s with {best.workers} worker "
                     f"process(es) and {best.bridges} bridge(s)")
    lines.append("worker memory, RSS MiB at start -> at 25 % of the events -> at the end:")
    for r in [x for x in (a, ours) if x]:
        mem = ", ".join(f"{n} {r.rss_start_mib[n]:.1f} -> {r.rss_quarter_mib.get(n, 0):.1f}"
                        f" -> {r.rss_end_mib.get(n, 0):.1f}" for n in r.rss_start_mib)
        lines.append(f"  {r.name}: {mem}")
    for r in [x for x in (a, b, ours) if x]:
        mine = {g: s for g, s in r.cpu_seconds.items() if g != OTHERS}
        total = sum(mine.values())
        parts = ", ".join(f"{g} {s / r.events * 1e6:.1f}"
                          for g, s in sorted(mine.items(), key=lambda kv: -kv[1]))
        lines.append(f"CPU µs/event, {r.name}: total {total / r.events * 1e6:.1f} "
                     f"({total / r.seconds:.2f} cores busy): {parts}")
    noisy = [others_cores(r.cpu_seconds, r.seconds) for r in [*runs.values(),
                                                             *scaling.values()]]
    if lat:
        noisy.append(others_cores(lat["cpu_seconds"], lat["seconds"]))
    worst = max(noisy, default=0.0)
    lines.append(f"other processes on the machine used up to {worst:.2f} cores during a run"
                 + ("  (WARNING: a busy machine; figures are low)" if worst > 0.1 else ""))
    top = sorted(ours.redis_usec.items(), key=lambda kv: -kv[1][1])[:6]
    lines.append("Redis server time, ours: " + ", ".join(
        f"{c} {u / ours.events:.2f} µs/event ({n:,} calls, {u / max(n, 1):.0f} µs/call)"
        for c, (n, u) in top))
    return "\n".join(lines)


def parse_matrix(text: str) -> list[tuple[int, int]]:
    out = []
    for cell in text.split(","):
        if cell.strip():
            w, _, b = cell.strip().partition("x")
            out.append((int(w), int(b or 1)))
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000, help="events for ours and B")
    ap.add_argument("--a-events", type=int, default=20_000,
                    help="events for baseline A (a sample: it runs at ~1k events/s)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of 'ours'")
    ap.add_argument("--bridges", type=int, default=1, help="bridges of 'ours'")
    ap.add_argument("--scaling", default="1x1,2x1,4x1,1x2,2x2,4x2",
                    help="WORKERSxBRIDGES cells to measure ('' for none)")
    ap.add_argument("--latency-rate", type=float, default=10_000.0)
    ap.add_argument("--latency-seconds", type=float, default=15.0)
    ap.add_argument("--pool", choices=["solo", "prefork", "threads"], default="solo",
                    help="solo: N worker processes; prefork: one pool of N processes")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="TRACKER_BATCH_SIZE for the bridges (default: the project's)")
    ap.add_argument("--redis", choices=["shared", "split"], default="shared",
                    help="one redis-server for data, stream and broker, or one each")
    ap.add_argument("--aof", choices=["everysec", "always", "no"], default="everysec")
    ap.add_argument("--skip", default="", help="comma list of: a, b, latency, scaling")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 20,000 events, A on 500, no scaling matrix, 3 s latency")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--json-only", action="store_true", help="print nothing but errors")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep Redis data and logs here (default: a temporary directory)")
    return ap


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
        info: Any = bench.data.info("server")
        res.update(cores=len(__import__("os").sched_getaffinity(0)),
                   redis_version=info["redis_version"], batch_size=bench.settings.batch_size,
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
