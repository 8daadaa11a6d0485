"""The game servers: ``XADD game_event_stream * ...`` of a prepared workload, in a subprocess.

Commands are encoded (RESP) before the clock starts, then written in
pipelined chunks over a plain socket and their replies parsed with hiredis,
so the producer costs the machine little more than Redis's own XADD work:
on a real deployment the game servers run elsewhere.

Protocol with the parent: prints ``ready`` once prepared, waits for a line
on stdin, then sends (as fast as possible, or paced at ``--rate``) and prints
one JSON line: ``{"first": t, "done": t, "sent": n, "first_id": ..., "last_id": ...}``
(wall-clock seconds).

    python -m bench.producer --url redis://127.0.0.1:6379/1 --file events.msgpack
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import hiredis

from bench.workload import load_wire


def resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def connect(url: str) -> socket.socket:
    """``redis://host:port/db`` or ``unix:///path/to/redis.sock?db=N``."""
    u = urlparse(url)
    if u.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(u.path)
        db = parse_qs(u.query).get("db", ["0"])[0]
    else:
        sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        db = (u.path or "/0").lstrip("/") or "0"
    sock.sendall(resp(b"SELECT", db.encode()))
    reader = hiredis.Reader()
    read_replies(sock, reader, 1)
    return sock


def read_replies(sock: socket.socket, reader: hiredis.Reader, n: int) -> list[object]:
    replies: list[object] = []
    while len(replies) < n:
        reply = reader.gets()
        if reply is False:
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError("Redis closed the connection")
            reader.feed(data)
            continue
        if isinstance(reply, hiredis.ReplyError):
            raise RuntimeError(f"XADD failed: {reply}")
        replies.append(reply)
    return replies


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", default="game_event_stream")
    ap.add_argument("--file", type=Path, required=True)
    ap.add_argument("--rate", type=float, default=0.0, help="entries/s (0: as fast as possible)")
    ap.add_argument("--chunk", type=int, default=1000, help="entries per pipelined write")
    args = ap.parse_args(argv)

    rows = load_wire(args.file)
    key = args.key.encode()
    chunks: list[tuple[bytes, int]] = []
    for start in range(0, len(rows), args.chunk):
        part = rows[start:start + args.chunk]
        chunks.append((b"".join(resp(b"XADD", key, b"*", *row) for row in part), len(part)))
    sock = connect(args.url)
    reader = hiredis.Reader()
    print("ready", flush=True)
    sys.stdin.readline()

    first = time.time()
    begin = time.monotonic()
    sent = 0
    first_id = last_id = b""
    for data, n in chunks:
        if args.rate:
            due = begin + sent / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sock.sendall(data)
        ids = read_replies(sock, reader, n)
        if not first_id:
            first_id = ids[0]  # type: ignore[assignment]
        last_id = ids[-1]  # type: ignore[assignment]
        sent += n
    done = time.time()
    sock.close()
    print(json.dumps({"first": first, "done": done, "sent": sent,
                      "first_id": first_id.decode(), "last_id": last_id.decode()}), flush=True)


if __name__ == "__main__":
    main()
