"""Redis memory per sorted-set member by member encoding: ``python -m bench.api.member_memory``.

Answers "what would it take to get under 120 bytes per board member?" in one run
on a private ``redis-server``: the same board (same scores) is filled with
Varcade's 36-character UUID strings, with the same UUIDs as 16 raw bytes, and
with 8-digit numbers, and ``INFO memory`` is read before and after each fill.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Callable

import redis

from tests.support.redis_server import private_redis, server_version

ENCODINGS: dict[str, Callable[[uuid.UUID, int], bytes]] = {
    "UUID string (36 bytes, Varcade's ids)": lambda u, _i: str(u).encode(),
    "UUID as 16 raw bytes": lambda u, _i: u.bytes,
    "8-digit number": lambda _u, i: str(10_000_000 + i).encode(),
}


def per_member(client: redis.Redis, players: int, seed: int,
               encode: Callable[[uuid.UUID, int], bytes]) -> float:
    # SYNC: where lazy freeing of FLUSHALL is on (Valkey's default), memory
    # still being freed in the background would count against the next fill
    client.execute_command("FLUSHALL", "SYNC")  # type: ignore[no-untyped-call]
    before = int(client.info("memory")["used_memory"])
    rng = random.Random(seed)
    pipe = client.pipeline(transaction=False)
    chunk: dict[bytes, float] = {}
    for i in range(players):
        member = encode(uuid.UUID(int=rng.getrandbits(128), version=4), i)
        chunk[member] = float(int(rng.expovariate(1 / 40)))
        if len(chunk) == 10_000 or i == players - 1:
            pipe.zadd("{bench}:board", chunk)  # type: ignore[arg-type]
            pipe.execute()
            chunk = {}
    return (int(client.info("memory")["used_memory"]) - before) / players


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    with private_redis() as server:
        client = server.client()
        print(f"{server_version(client)}, {args.players:,} members in one sorted set\n")
        print("| member encoding | bytes per member |\n|---|---|")
        for name, encode in ENCODINGS.items():
            print(f"| {name} | {per_member(client, args.players, args.seed, encode):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
