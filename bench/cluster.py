"""The benchmark's machine room: Redis servers, workers, bridges, and what they cost.

Reuses the test suite's helpers (:mod:`tests.support`): ``RedisServer`` for
private redis-servers on free ports, ``Process``/``settings_env``/``start_bridge``
for child processes. Workers are started here rather than with
``tests.support.processes.start_worker`` because the benchmark runs them at
log level WARNING (INFO logs two lines per task, which would handicap
baseline A) and so detects readiness with a control ping instead of the log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.workload import PRODUCTS_FILE, Expected
from tests.support.processes import BIN, Process, settings_env, start_bridge, wait_until
from tests.support.redis_server import RedisServer
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage.keys import HOUR_MS, Keys

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- /proc: CPU time and memory of a process tree ---------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every live descendant (a prefork worker's children, ...)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(parts[11]) + int(parts[12])) / CLK_TCK  # utime, stime


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in descendants(pid))


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_KB / 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


class CpuMeter:
    """CPU seconds used by named process trees between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.pids: dict[str, list[int]] = {}
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def add(self, group: str, pid: int) -> None:
        self.pids.setdefault(group, []).append(pid)

    def _sample(self) -> dict[str, float]:
        out = {g: sum(tree_cpu(p) for p in pids) for g, pids in self.pids.items()}
        out["bench (this process)"] = sum(os.times()[:2])
        out[MACHINE] = machine_busy()
        return out

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group, plus what other processes of the machine used."""
        end = self._sample()
        used = {g: end[g] - self._start.get(g, 0.0) for g in end}
        machine = used.pop(MACHINE)
        used[OTHERS] = max(0.0, machine - sum(used.values()))
        self.used = used
        return used


MACHINE = "machine"
OTHERS = "other processes (not the benchmark's)"


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used (all cores, since boot)."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    return (sum(v[:8]) - idle) / CLK_TCK


# --- Redis ------------------------------------------------------------------------


@dataclass
class Servers:
    """One redis-server for data, stream and broker (DBs 0, 1, 2), or one each."""

    servers: list[RedisServer]
    data_url: str
    stream_url: str
    broker_url: str

    @classmethod
    def start(cls, workdir: Path, layout: str = "shared", aof: str = "everysec",
              transport: str = "tcp") -> Servers:
        """``transport``: how every process reaches Redis, loopback TCP or a unix socket."""
        names = ["redis"] if layout == "shared" else ["redis-data", "redis-stream", "redis-broker"]
        unix = transport == "unix"
        servers = [RedisServer(workdir / n, appendonly=aof != "no", unix_socket=unix)
                   for n in names]
        for s in servers:
            s.start()
            if aof != "no":  # RedisServer fsyncs always, as in the crash tests
                s.client().config_set("appendfsync", aof)
        data, stream, broker = (servers[0], servers[0], servers[0]) if layout == "shared" \
            else servers
        dbs = (0, 1, 2) if layout == "shared" else (0, 0, 0)
        if unix:  # kombu spells a unix socket redis+socket://, with the DB as virtual_host
            return cls(servers, data.unix_url(dbs[0]), stream.unix_url(dbs[1]),
                       f"redis+socket://{broker.socket_path}?virtual_host={dbs[2]}")
        return cls(servers, data.url(dbs[0]), stream.url(dbs[1]), broker.url(dbs[2]))

    def flush(self) -> None:
        for s in self.servers:
            s.client().flushall()

    def reset_stats(self) -> None:
        for s in self.servers:
            s.client().config_resetstat()

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers if s.proc is not None]

    def commandstats(self) -> dict[str, tuple[int, float]]:
        """Calls and server-side microseconds per command, summed over the servers."""
        out: dict[str, tuple[int, float]] = {}
        for s in self.servers:
            stats: Any = s.client().info("commandstats")
            for name, row in stats.items():
                cmd = name.removeprefix("cmdstat_")
                calls, usec = out.get(cmd, (0, 0.0))
                out[cmd] = (calls + int(row["calls"]), usec + float(row["usec"]))
        return out

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


def bench_settings(servers: Servers, batch_size: int | None = None,
                   linger_ms: int | None = None) -> Settings:
    base = Settings()
    return Settings(
        redis_url=servers.data_url, stream_url=servers.stream_url,
        broker_url=servers.broker_url, products_file=str(PRODUCTS_FILE),
        batch_size=batch_size or base.batch_size,
        linger_ms=base.linger_ms if linger_ms is None else linger_ms,
    )


# --- workers and bridges ---------------------------------------------------------


def wait_ready(broker_url: str, names: Sequence[str], timeout: float = 60) -> None:
    """Wait until every named worker answers a control ping (it consumes its queues)."""
    from celery import Celery

    app = Celery(broker=broker_url)
    app.conf.update(task_serializer="msgpack", accept_content=["msgpack"],
                    result_serializer="msgpack")  # what tasks.celery_app accepts
    missing = set(names)
    deadline = time.monotonic() + timeout
    try:
        while missing:
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers not ready: {sorted(missing)}")
            for reply in app.control.ping(destination=sorted(missing), timeout=0.5) or []:
                missing -= set(reply)
    finally:
        app.close()


def start_workers(settings: Settings, log_dir: Path, count: int, queues: Iterable[str],
                  pool: str = "solo", prefix: str = "w") -> list[Process]:
    """``count`` worker processes: ``count`` solo workers, or one prefork pool of ``count``."""
    host = socket.gethostname()
    env = settings_env(settings)
    plan = [(f"{prefix}{i}", 1) for i in range(count)] if pool == "solo" else [(prefix, count)]
    workers = []
    for name, concurrency in plan:
        args = [str(BIN / "celery"), "-A", "tasks", "worker", "-Q", ",".join(queues),
                "-n", f"{name}@%h", "--pool", pool, "--concurrency", str(concurrency),
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        workers.append(Process(name, args, env, log_dir))
    try:
        wait_ready(settings.broker_url, [f"{name}@{host}" for name, _ in plan])
        if pool == "prefork":  # children fork after the parent is reachable
            wait_until(lambda: len(descendants(workers[0].pid)) > count, 30,
                       what="prefork children")
    except Exception:
        for w in workers:
            w.stop()
        raise
    return workers


def start_bridges(settings: Settings, log_dir: Path, count: int,
                  prefix: str = "b") -> list[Process]:
    bridges = [start_bridge(settings, log_dir, f"{prefix}{i}") for i in range(count)]
    stream = redis.Redis.from_url(settings.stream_url)

    def all_reading() -> bool:
        # Redis 7.0 lists a consumer only once it got entries: look at the logs and the group
        try:
            groups = stream.xinfo_groups(settings.stream_key)
        except redis.ResponseError:
            return False
        return bool(groups) and all(" reading " in b.log() for b in bridges)

    try:
        wait_until(all_reading, 30, what="bridges reading the stream")
    except Exception:
        for b in bridges:
            b.stop()
        raise
    return bridges


def worker_rss(workers: Sequence[Process]) -> dict[str, float]:
    """RSS (MiB) of every worker process (a prefork pool's parent and each child)."""
    out: dict[str, float] = {}
    for w in workers:
        for i, pid in enumerate(descendants(w.pid)):
            out[w.name if i == 0 else f"{w.name}.child{i}"] = rss_mib(pid)
    return out


# --- the producer subprocess ----------------------------------------------------------


class Producer:
    """A :mod:`bench.producer` or :mod:`bench.publish_tasks` child: prepare, go, report."""

    def __init__(self, module: str, args: list[str], env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"{module} did not get ready: {line!r}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self, timeout: float = 600) -> dict[str, Any]:
        import json

        out, _ = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"producer failed with exit code {self.proc.returncode}")
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return report

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait(10)


# --- what Redis holds -------------------------------------------------------------


def seen_keys(keys: Keys, products: Iterable[str], source: str, t0: float,
              t1: float) -> list[str]:
    """The dedupe sets entries written between ``t0`` and ``t1`` (wall clock) land in."""
    hours = range(int(t0 * 1000) // HOUR_MS - 1, int(t1 * 1000) // HOUR_MS + 2)
    return [f"{keys.product(p)}seen:{source}:{h}" for p in products for h in hours]


def applied_count(client: redis.Redis, seen: Sequence[str]) -> int:
    """Entries applied so far: each is marked in its dedupe set by the same Lua call."""
    pipe = client.pipeline(transaction=False)
    for key in seen:
        pipe.scard(key)
    return sum(int(n) for n in pipe.execute())


@dataclass
class Check:
    ok: bool = True
    problems: list[str] = field(default_factory=list)

    def expect(self, what: str, got: object, want: object) -> None:
        if got != want:
            self.ok = False
            self.problems.append(f"{what}: got {got!r}, expected {want!r}")


def verify(client: redis.Redis, keys: Keys, products: Products, exp: Expected,
           seen: Sequence[str] | None) -> Check:
    """Compare boards, stats, dedupe marks and dead letters with the independent count."""
    check = Check()
    if seen is not None:
        check.expect("applied entries (dedupe marks)", applied_count(client, seen),
                     exp.total_applied)
    for (product, board), total in exp.board_sums.items():
        scores: Any = client.zrange(keys.board(product, board), 0, -1, withscores=True)
        check.expect(f"{product} {board} board total", sum(s for _, s in scores), total)
    for (product, board), (players, start) in exp.elo.items():
        ratings: Any = client.zrange(keys.board(product, board), 0, -1, withscores=True)
        check.expect(f"{product} {board} players", len(ratings), players)
        check.expect(f"{product} {board} rating total", sum(s for _, s in ratings),
                     players * start)
    got: dict[tuple[str, str], int] = {}
    for product in products:
        stat_keys = list(client.scan_iter(f"{keys.product(product)}stats:*", count=1000))
        pipe = client.pipeline(transaction=False)
        for key in stat_keys:
            pipe.hgetall(key)
        for row in pipe.execute():
            for stat, value in row.items():
                k = (product, stat.decode())
                got[k] = got.get(k, 0) + int(value)
    check.expect("stat totals", {k: v for k, v in got.items() if v},
                 {k: v for k, v in exp.stat_sums.items() if v})
    check.expect("dead letters", int(client.xlen(keys.deadletter_stream)), 0)
    return check


def group_drained(stream: redis.Redis, settings: Settings) -> bool:
    from tests.support.pipeline import group_drained as drained

    return drained(stream, settings)
