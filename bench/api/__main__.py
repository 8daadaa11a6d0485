"""Read API benchmark: ``python -m bench.api`` (see the README's Read API performance section).

1. Starts a private ``redis-server`` (no persistence) and records ``INFO memory``.
2. Fills one board with ``--players`` members (UUID ids, scores with many ties)
   by pipelined ``ZADD``, then builds its tie structures with the same atomic
   rebuild the API's ``python -m tracker.reindex`` runs (equal to what the batch
   script keeps; tests/tracker/test_ranks.py checks that), and records memory again.
3. Starts the API under gunicorn and runs wrk against a bare endpoint that
   touches no Redis (``/health``), one that makes a single Redis round trip and
   nothing else (``/ready``: a PING), top-10, rank-of-player and around-me, in
   interleaved rounds; reports the median requests/s, p50, p99 and the ratio
   to the bare endpoint.
4. Does step 3 once per ``--redis-transport``: the API reaching Redis over
   loopback TCP, then over a unix socket (a co-located Redis), each against
   its own bare endpoint.

``--tie-break earliest`` fills and reads the board as one that ranks equal scores
by who reached them first (each score stored with a time, ``tracker.tiebreak``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.redis_server import RedisServer, free_port, server_version
from tracker.storage import Keys, Ranks
from tracker.tiebreak import stored

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PRODUCT, BOARD = "bench", "wins"
TRANSPORTS = {"tcp": "loopback TCP", "unix": "a unix socket (co-located Redis)"}
ENDPOINTS = {
    "bare (/health, no Redis)": "/health",
    # The cost of one Redis round trip alone: what every data route pays at least.
    "one round trip (/ready: PING)": "/ready",
    "top-10": f"/products/{PRODUCT}/boards/{BOARD}/entries?limit=10",
    "rank of a player": f"/products/{PRODUCT}/boards/{BOARD}/players/{{user}}",
    "around a player (11 rows)": f"/products/{PRODUCT}/boards/{BOARD}/players/{{user}}/around",
}


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def used_memory(client: redis.Redis) -> int:
    info: Any = client.info("memory")
    return int(info["used_memory"])


def fill(client: redis.Redis, players: int, seed: int, ids_file: Path, sample: int,
         ids: str = "uuid", earliest: bool = False) -> None:
    """``players`` members (UUIDs, or 8-digit numbers); long-tailed wins, so most scores tie.
    ``earliest``: each score stored with a time (seconds over about 8 years)."""
    rng = random.Random(seed)
    key = Keys().board(PRODUCT, BOARD)
    chunk: dict[str, float] = {}
    kept: list[str] = []
    pipe = client.pipeline(transaction=False)
    for i in range(players):
        user = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) if ids == "uuid"
                else f"{10_000_000 + i}")
        score = float(int(rng.expovariate(1 / 40)))
        chunk[user] = stored(score, rng.randrange(2**28)) if earliest else score
        if len(kept) < sample and rng.random() < 2 * sample / players:
            kept.append(user)
        if len(chunk) == 10_000 or i == players - 1:
            pipe.zadd(key, chunk)
            chunk = {}
            if len(pipe) >= 10:
                pipe.execute()
    pipe.execute()
    ids_file.write_text("\n".join(kept) + "\n")


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # CPU of the API workers and Redis per request: robust to other load
    redis_cpu_us: float  # of which Redis


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children (gunicorn's workers)."""
    total = 0.0
    todo = list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            todo += [int(c) for c in
                     Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def wrk(base: str, path: str, ids_file: Path, seconds: int, connections: int,
        measured: list[int]) -> Run:
    env = dict(os.environ, WRK_PATH=path, WRK_IDS=str(ids_file))
    cpu_before, redis_before = cpu_seconds(measured), cpu_seconds(measured[:1])
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s",
         "-s", str(HERE / "report.lua"), base],
        env=env, capture_output=True, text=True, check=True).stdout
    cpu, redis_cpu = cpu_seconds(measured) - cpu_before, cpu_seconds(measured[:1]) - redis_before
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    if data["errors"] or data["non_2xx"]:
        raise RuntimeError(f"wrk saw errors on {path}: {data}")
    return Run(data["requests"] / (data["duration_us"] / 1e6), data["p50_us"] / 1000,
               data["p99_us"] / 1000, 1e6 * cpu / max(1, data["requests"]),
               1e6 * redis_cpu / max(1, data["requests"]))


def measure(args: argparse.Namespace, redis_url: str, ids_file: Path,
            procs: list[subprocess.Popen[bytes]], measured_redis: list[int],
            products_file: Path) -> dict[str, list[Run]]:
    """Every endpoint, in interleaved rounds, of a gunicorn reaching Redis at ``redis_url``."""
    api_port = free_port()
    env = dict(os.environ, TRACKER_REDIS_URL=redis_url,
               TRACKER_PRODUCTS_FILE=str(products_file),
               TRACKER_RATE_LIMIT=args.rate_limit)
    api = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
         "--bind", f"127.0.0.1:{api_port}",
         "--workers", str(args.workers), "--worker-class", args.worker_class,
         "--threads", str(args.threads), "--log-level", "warning", "api:create_app()"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(api)
    base = f"http://127.0.0.1:{api_port}"
    wait_http(f"{base}/health", api)
    results: dict[str, list[Run]] = {name: [] for name in ENDPOINTS}
    measured = [*measured_redis, api.pid]  # redis-server first, gunicorn and its workers
    for path in ENDPOINTS.values():  # warm-up: connections, script cache
        wrk(base, path, ids_file, args.warmup, args.connections, measured)
    for _ in range(args.rounds):
        for name, path in ENDPOINTS.items():
            results[name].append(wrk(base, path, ids_file, args.seconds, args.connections,
                                     measured))
    api.terminate()
    api.wait(10)
    procs.remove(api)
    return results


def summarize(results: dict[str, list[Run]]) -> dict[str, Run]:
    return {name: Run(statistics.median(r.rps for r in runs),
                      statistics.median(r.p50_ms for r in runs),
                      statistics.median(r.p99_ms for r in runs),
                      statistics.median(r.cpu_us for r in runs),
                      statistics.median(r.redis_cpu_us for r in runs))
            for name, runs in results.items()}


def print_table(transport: str, summary: dict[str, Run]) -> None:
    bare_run = summary[next(iter(ENDPOINTS))]
    print(f"\nAPI to Redis over {TRANSPORTS[transport]}:\n")
    print("| endpoint | requests/s | p50 ms | p99 ms | vs bare | CPU µs/request "
          "(of which Redis) | vs bare (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for name, run in summary.items():
        print(f"| {name} | {run.rps:,.0f} | {run.p50_ms:.2f} | {run.p99_ms:.2f} | "
              f"{100 * run.rps / bare_run.rps:.0f} % | {run.cpu_us:.0f} "
              f"({run.redis_cpu_us:.0f}) | {100 * bare_run.cpu_us / run.cpu_us:.0f} % |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per endpoint, not counted")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync",
                        help="gunicorn worker class (sync, as in the README and compose)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--rate-limit", default="off",
                        help="TRACKER_RATE_LIMIT for the API (default off)")
    parser.add_argument("--redis-transport", default="tcp,unix",
                        help="comma list of how the API reaches Redis, each measured in "
                             "turn: tcp (loopback) and unix (a socket, for a co-located Redis)")
    parser.add_argument("--ids", choices=["uuid", "numeric"], default="uuid",
                        help="user ids: Varcade's UUIDs (36 chars) or 8-digit numbers")
    parser.add_argument("--tie-break", choices=["member", "earliest"], default="member",
                        help="the board's tie_break: equal scores by user id, or by who "
                             "reached them first (scores stored with their times)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not set(args.redis_transport.split(",")) <= set(TRANSPORTS):
        parser.error(f"--redis-transport: a comma list of {', '.join(TRANSPORTS)}")
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        print("needs wrk and redis-server (apt-get install -y wrk redis-server)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = RedisServer(work / "redis", appendonly=False, unix_socket=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        assert server.proc is not None
        procs.append(server.proc)
        client = server.client()
        ranks = Ranks(client)
        version = server_version(client)
        ranks.size(PRODUCT, BOARD)  # loads the read script: not counted as board memory
        before = used_memory(client)
        ids_file = work / "ids.txt"
        earliest = args.tie_break == "earliest"
        products_file = HERE / "products.toml"
        if earliest:  # the same product, ranking equal scores by who reached them first
            products_file = work / "products.toml"
            text = (HERE / "products.toml").read_text()
            products_file.write_text(text.replace("bench = { ", 'bench = { tie_break = '
                                                  '"earliest", ', 1))
            assert products_file.read_text() != text, "bench/api/products.toml changed"
        t0 = time.perf_counter()
        fill(client, args.players, args.seed, ids_file, sample=20_000, ids=args.ids,
             earliest=earliest)
        fill_s = time.perf_counter() - t0
        board_only = used_memory(client)
        t0 = time.perf_counter()
        size = ranks.reindex(PRODUCT, BOARD, earliest=earliest)
        reindex_s = time.perf_counter() - t0
        after = used_memory(client)
        assert size.members == args.players, size

        transports = {"tcp": server.url(0), "unix": server.unix_url(0)}
        measured_redis = [server.proc.pid]
        results: dict[str, dict[str, list[Run]]] = {}
        load = os.getloadavg()[0]
        for transport in args.redis_transport.split(","):
            results[transport] = measure(args, transports[transport], ids_file, procs,
                                         measured_redis, products_file)
        load = max(load, os.getloadavg()[0])
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.players:,} players ({args.ids} ids, tie_break {args.tie_break}), "
          f"{size.distinct_scores} distinct scores; filled in {fill_s:.1f} s, tie structures "
          f"built in {reindex_s:.2f} s")
    print(f"gunicorn {args.workers} {args.worker_class} workers x {args.threads} threads, "
          f"wrk 1 thread {args.connections} connections, {args.rounds} rounds x "
          f"{args.seconds} s, rate limit {args.rate_limit}; medians; load average up to "
          f"{load:.1f} on {os.cpu_count()} CPUs")
    summaries = {t: summarize(runs) for t, runs in results.items()}
    for transport, summary in summaries.items():
        print_table(transport, summary)
    per_member = (after - before) / args.players
    print(f"\n{version} used_memory: {before:,} B before, {board_only:,} B with the board, "
          f"{after:,} B with its tie structures")
    print(f"per member: {(board_only - before) / args.players:.1f} B board, "
          f"{per_member:.1f} B with tie structures")
    if args.json:
        args.json.write_text(json.dumps({
            "server": version, "players": args.players, "ids": args.ids,
            "tie_break": args.tie_break,
            "load_average": load,
            "distinct_scores": size.distinct_scores,
            "memory": {"before": before, "board": board_only, "after": after,
                       "per_member": per_member},
            "transports": {t: {n: vars(r) for n, r in summary.items()}
                           for t, summary in summaries.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
