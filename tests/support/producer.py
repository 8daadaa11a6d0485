"""A test producer that survives Redis restarts without writing an entry twice.

The Varcade server writes ``XADD … *`` and only logs a failure. A test that
restarts the stream's Redis needs to know exactly what is in the stream, so
this producer gives every entry an explicit, increasing ID: after an error it
writes the same chunk again, and entries that did get in are refused by Redis
("ID … equal or smaller"), so each entry is in the stream once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

import redis


def entry_ids(count: int, start_ms: int | None = None) -> list[str]:
    """``count`` increasing stream IDs, 16 per millisecond, starting now."""
    base = int(time.time() * 1000) if start_ms is None else start_ms
    return [f"{base + i // 16}-{i % 16}" for i in range(count)]


class Producer(threading.Thread):
    def __init__(self, url: str, key: str, rows: Sequence[Mapping[str, str | bytes]],
                 rate: float, chunk: int = 500) -> None:
        super().__init__(name="producer", daemon=True)
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.key = key
        self.rows = rows
        self.ids = entry_ids(len(rows))
        self.rate = rate
        self.chunk = chunk
        self.written = 0
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        for start in range(0, len(self.rows), self.chunk):
            if self.stop.is_set():
                return
            self._write(start, min(len(self.rows), start + self.chunk))
            self.written = min(len(self.rows), start + self.chunk)
            ahead = began + self.written / self.rate - time.monotonic()
            if ahead > 0:
                self.stop.wait(ahead)

    def _write(self, start: int, end: int) -> None:
        while not self.stop.is_set():
            try:
                pipe = self.client.pipeline(transaction=False)
                for i in range(start, end):
                    pipe.xadd(self.key, dict(self.rows[i]), id=self.ids[i])  # type: ignore[arg-type]
                for reply in pipe.execute(raise_on_error=False):
                    # any error but "already there" fails the chunk; LOADING (a Redis
                    # reloading its AOF after a restart) comes back as a reply, too
                    if isinstance(reply, Exception) and "equal or smaller" not in str(reply):
                        raise reply
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                self.errors += 1
                self.stop.wait(0.2)
