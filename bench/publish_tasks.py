"""Baseline A's producer: one Celery task per event, no stream, no bridge.

Each entry is recorded as a one-entry part in flight, exactly as a bridge's
claim records it (fields as bytes, an entry id of the form ``<ms>-<seq>``),
and published as its own ``tasks.apply_part`` task, so the workers run the
same fetch, validation, handlers, Lua script and finish as in our pipeline. Run with the
``TRACKER_*`` environment of the benchmark's Redis. Same protocol as
:mod:`bench.producer` (``ready``, a line on stdin, one JSON line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.workload import load_wire
from tracker.events import product_key
from tracker.storage.inflight import Part


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", type=Path, required=True)
    ap.add_argument("--source", default="game_event_stream")
    args = ap.parse_args(argv)

    from tasks.worker import apply_part, inflight, publish_part  # reads TRACKER_* at import

    rows = load_wire(args.file)
    entries = [dict(zip(row[::2], row[1::2], strict=True)) for row in rows]
    apply_part.app.connection_for_write().ensure_connection(max_retries=3)
    parts = inflight()
    print("ready", flush=True)
    sys.stdin.readline()

    first = time.time()
    base = int(first * 1000)
    for seq, fields in enumerate(entries):
        entry_id = f"{base}-{seq}"
        part = Part(entry_id, 0, product_key(fields.get(b"product_id", b"")))
        parts.put(part, [(entry_id, fields)], idle_ms=3_600_000)
        publish_part(part, args.source)
    done = time.time()
    print(json.dumps({"first": first, "done": done, "sent": len(entries),
                      "first_id": f"{base}-0", "last_id": f"{base}-{len(entries) - 1}"}),
          flush=True)


if __name__ == "__main__":
    main()
