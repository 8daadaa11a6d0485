"""Where the time goes: py-spy on the workers and the bridge under full load, plus stage timings.

    python -m bench.profile                  # 300,000 events, 2 workers, 1 bridge
    python -m bench.profile --native --out var/profile

1. **Sampling.** Runs the pipeline as :mod:`bench.throughput` does ("ours"),
   with ``py-spy record`` attached to every worker and bridge process for
   the whole run (on-CPU samples, ``--nonblocking``). Each profile is
   summarised by category (a sample goes to the category of its innermost
   frame that names one: marshmallow, msgpack, redis-py, kombu, celery, ...)
   and by innermost function, converted to CPU µs per event with the
   process's measured CPU time. Redis's own time per command comes from
   ``INFO commandstats``. The raw collapsed stacks are kept in ``--out``
   (feed them to a flamegraph tool).
2. **Stages.** Times the worker's path in this process (its garbage collector
   tuned as a worker's), on the same workload in parts of ``--batch``
   entries of one product, packed as the bridge packs them: unpacking a part,
   the generated validation fast path, the handlers, summing up,
   ``Store.apply`` (one ``EVALSHA``), and unpack + ``BatchProcessor.process``
   whole.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from bench.cluster import (
    CpuMeter,
    Producer,
    Servers,
    applied_count,
    bench_settings,
    descendants,
    seen_keys,
    start_bridges,
    start_workers,
)
from bench.workload import Entry, bench_products, expected, generate, save
from tests.support.processes import Process
from tracker import fastpath
from tracker.events import Event
from tracker.processing import BatchProcessor, group_by_product, tune_gc
from tracker.products import Product, Products
from tracker.storage import DeadLetters, Keys, PreparedEvent, Store
from tracker.storage.inflight import pack_entries, unpack_entries
from tracker.storage.store import sum_batch

# Innermost matching frame wins; frames matching nothing (stdlib, interpreter,
# libc) count for the nearest caller that matches.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("msgpack", ("msgpack",)),
    ("marshmallow validation", ("marshmallow/",)),
    ("tracker.events (decode, schema choice)", ("tracker/events/",)),
    ("handlers (ops)", ("tracker/handlers/",)),
    ("store/dead letters (pack, EVALSHA)", ("tracker/storage/",)),
    ("processing loop", ("tracker/processing.py",)),
    ("redis-py client (send, parse replies)", ("/redis/", "hiredis")),
    ("logging", ("logging/",)),
    ("kombu (broker I/O, messages)", ("kombu/",)),
    ("celery (task machinery, events)", ("celery/",)),
    ("billiard (prefork pool)", ("billiard/",)),
    ("bridge loop", ("tasks/bridge.py",)),
    ("task function", ("tasks/",)),
]
OTHER = "other (interpreter, stdlib)"


def frame_file(frame: str) -> str:
    """``func (path:line)`` -> ``path:line``; native frames -> their library."""
    start = frame.rfind(" (")
    return frame[start + 2:-1] if start >= 0 and frame.endswith(")") else frame


def categorise(stack: Sequence[str]) -> str:
    for frame in reversed(stack):
        where = frame_file(frame)
        for name, needles in CATEGORIES:
            if any(n in where for n in needles):
                return name
    return OTHER


def innermost_python(stack: Sequence[str]) -> str:
    for frame in reversed(stack):
        where = frame_file(frame)
        if ".py:" in where:
            func = frame[: frame.rfind(" (")]
            path, _, line = where.rpartition(":")
            short = "/".join(Path(path).parts[-2:])
            return f"{func} ({short}:{line})"
    return stack[-1] if stack else "?"


def read_collapsed(path: Path) -> list[tuple[list[str], int]]:
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            rows.append((stack.split(";"), int(count)))
    return rows


def summarise(path: Path, cpu: float, events: int, top: int = 12) -> str:
    rows = read_collapsed(path)
    total = sum(c for _, c in rows) or 1
    cats: Counter[str] = Counter()
    funcs: Counter[str] = Counter()
    for stack, count in rows:
        cats[categorise(stack)] += count
        funcs[innermost_python(stack)] += count
    per_event = cpu / max(events, 1) * 1e6
    lines = [f"{path.stem}: {total} samples, {cpu:.2f} CPU s = {per_event:.1f} µs/event"]
    for name, n in cats.most_common():
        lines.append(f"  {n / total:6.1%} {n / total * per_event:7.2f} µs/event  {name}")
    lines.append("  innermost Python functions:")
    for name, n in funcs.most_common(top):
        lines.append(f"  {n / total:6.1%} {n / total * per_event:7.2f} µs/event  {name}")
    return "\n".join(lines)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


# --- 1. sampling the running pipeline ---------------------------------------------


def sample(args: argparse.Namespace, out: Path, workdir: Path) -> str:
    servers = Servers.start(workdir / "redis", args.redis, args.aof)
    settings = bench_settings(servers, args.batch_size)
    products = bench_products()
    keys = Keys(settings.key_prefix)
    entries = generate(args.events)
    wl_path = workdir / "events.msgpack"
    save(entries, wl_path)
    total = expected(entries, products).total_applied
    data = redis.Redis.from_url(settings.redis_url)
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workers = start_workers(settings, logs, args.workers, products.queues, args.pool)
    bridges: list[Process] = []
    spies: list[tuple[str, int, subprocess.Popen[bytes]]] = []
    try:
        bridges = start_bridges(settings, logs, args.bridges)
        producer = Producer("bench.producer", ["--url", settings.stream_url, "--key",
                                               settings.stream_key, "--file", str(wl_path)])
        targets = [(f"{w.name}-{i}" if i else w.name, pid)
                   for w in workers for i, pid in enumerate(descendants(w.pid))]
        targets += [(b.name, b.pid) for b in bridges]
        for name, pid in targets:
            cmd = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate",
                   str(args.rate), "--nonblocking", "-o", str(out / f"{name}.txt")]
            if args.native:
                cmd.append("--native")
            spies.append((name, pid, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.DEVNULL)))
        time.sleep(1.0)  # py-spy attached
        meter = CpuMeter()
        for name, pid in targets:
            meter.add(name, pid)
        for pid in servers.pids():
            meter.add("redis-server", pid)
        meter.add("producer", producer.pid)
        servers.reset_stats()
        meter.start()
        t0 = time.time()
        producer.go()
        seen = seen_keys(keys, products, settings.stream_key, t0, t0 + 3600)
        while applied_count(data, seen) < total:
            time.sleep(0.01)
        elapsed = time.time() - t0
        cpu = meter.stop()
        stats = servers.commandstats()
        producer.result()
    finally:
        for _, _, spy in spies:
            spy.send_signal(signal.SIGINT)
        for _, _, spy in spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        for p in [*bridges, *workers]:
            p.stop()
        servers.stop()

    n = len(entries)
    lines = [f"pipeline: {n:,} events in {elapsed:.2f} s = {n / elapsed:,.0f} events/s "
             f"({args.workers} {args.pool} workers, {args.bridges} bridge(s), batch "
             f"{settings.batch_size}); py-spy {args.rate} Hz"
             f"{' --native' if args.native else ''}, on-CPU samples"]
    lines.append("CPU µs/event by process: " + ", ".join(
        f"{g} {s / n * 1e6:.1f}" for g, s in sorted(cpu.items(), key=lambda kv: -kv[1])))
    top = sorted(stats.items(), key=lambda kv: -kv[1][1])[:8]
    lines.append("Redis server µs/event by command (commands inside EVALSHA are also "
                 "counted in evalsha): " + ", ".join(
                     f"{c} {u / n:.2f} ({u / max(c_n, 1):.0f} µs/call)" for c, (c_n, u) in top))
    for name, _pid, _ in spies:
        path = out / f"{name}.txt"
        if path.exists():
            lines.append(summarise(path, cpu.get(name, 0.0), n))
        else:
            lines.append(f"{name}: py-spy wrote nothing (see py-spy --help: ptrace rights?)")
    return "\n".join(lines)


# --- 2. stage timings in this process --------------------------------------------------


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The shortest of ``repeat`` timings of ``fn()``, in seconds."""
    return min(timed(fn) for _ in range(repeat))


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def stages(args: argparse.Namespace, workdir: Path) -> str:
    """The worker's path, stage by stage, in this process (its collector tuned as a
    worker's): a part's blob as the bridge packs it, to entries, events, ops, the
    summed batch, and the batch script."""
    servers = Servers.start(workdir / "redis-stages", "shared", args.aof)
    gc_before = gc.get_threshold()
    tune_gc()
    try:
        settings = bench_settings(servers, args.batch_size)
        size = args.batch or settings.batch_size
        products: Products = bench_products()
        client = redis.Redis.from_url(settings.redis_url)
        keys = Keys(settings.key_prefix)
        store, letters = Store(client, keys), DeadLetters(client, keys)
        processor = BatchProcessor(products, store, letters)
        entries: list[Entry] = generate(args.stage_events, seed=3)
        base = int(time.time() * 1000)
        raw = [(f"{base}-{i}", {k.encode(): v.encode() for k, v in e.items()})
               for i, e in enumerate(entries)]
        blobs = [(pid, pack_entries(items[i:i + size]))
                 for pid, items in group_by_product(raw).items()
                 for i in range(0, len(items), size)]
        n = len(raw)
        t: dict[str, float] = defaultdict(float)
        prepared_all = []
        for pid, blob in blobs:  # pure stages: the best of 3, warm as in a worker
            product = products[pid]
            part = unpack_entries(blob)
            t["unpack the part (msgpack, then a dict per entry)"] += best(
                lambda b=blob: unpack_entries(b))  # type: ignore[misc]
            events = [fastpath.parse(entry_id, fields) for entry_id, fields in part]
            t["parse + validate (generated fast path)"] += best(
                lambda p=part: [fastpath.parse(e, f) for e, f in p])  # type: ignore[misc]

            def handle(evs: list[Event] = events, product: Product = product) -> list[Any]:
                prepared = []
                for ev in evs:
                    ops = [op for h in product.handlers for op in h.ops(ev)]
                    if ops:
                        game = (ev.game_id or "") if ev.type == "game_over" else ""
                        prepared.append(PreparedEvent(ev.entry_id, game, ops))
                return prepared

            prepared = handle()
            t["handlers -> ops"] += best(handle)
            t["summing up (sum_batch)"] += best(
                lambda p=prepared: sum_batch(settings.stream_key, p))  # type: ignore[misc]
            prepared_all.append((pid, prepared))
        servers.reset_stats()
        for pid, prepared in prepared_all:
            start = time.perf_counter()
            store.apply(pid, settings.stream_key, prepared)
            t["Store.apply (sum, pack, EVALSHA round trip), first time"] += \
                time.perf_counter() - start
        stats = servers.commandstats()
        lua = stats.get("evalsha", (0, 0.0))[1] / 1e6
        for pid, prepared in prepared_all:
            start = time.perf_counter()
            store.apply(pid, settings.stream_key, prepared)
            t["Store.apply again (all duplicates)"] += time.perf_counter() - start
        whole = 0.0
        for _ in range(2):  # the first round warms up (memory, caches), the second counts
            client.flushall()
            start = time.perf_counter()
            for pid, blob in blobs:
                processor.process(pid, settings.stream_key, unpack_entries(blob))
            whole = time.perf_counter() - start
    finally:
        gc.unfreeze()
        gc.set_threshold(*gc_before)
        servers.stop()
    lines = [f"stages, {n:,} entries in {len(blobs)} parts of <= {size} "
             f"(one product each), µs/event:"]
    for name, secs in t.items():
        lines.append(f"  {secs / n * 1e6:7.2f}  {name}")
    lines.append(f"  {lua / n * 1e6:7.2f}  of which the batch script in Redis (EVALSHA time)")
    lines.append(f"  {whole / n * 1e6:7.2f}  unpack + BatchProcessor.process, whole "
                 f"(= {n / whole:,.0f} events/s on one core)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bridges", type=int, default=1)
    ap.add_argument("--pool", choices=["solo", "prefork", "threads"], default="solo")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--redis", choices=["shared", "split"], default="shared")
    ap.add_argument("--aof", choices=["everysec", "always", "no"], default="everysec")
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    ap.add_argument("--out", type=Path, default=None, help="keep the collapsed stacks here")
    ap.add_argument("--stage-events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=None,
                    help="entries per part for the stages (default: TRACKER_BATCH_SIZE's)")
    ap.add_argument("--skip", default="", help="comma list of: sample, stages")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    out = args.out or workdir / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    try:
        if "stages" not in skip:
            print(stages(args, workdir), flush=True)
        if "sample" not in skip:
            if os.geteuid() != 0:
                print("note: py-spy needs ptrace rights (root, or kernel.yama.ptrace_scope=0)")
            print(sample(args, out, workdir), flush=True)
            print(f"collapsed stacks: {out}")
    finally:
        shutil.rmtree(workdir / "redis", ignore_errors=True)
        shutil.rmtree(workdir / "redis-stages", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
