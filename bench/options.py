"""Command-line options of ``python -m bench.throughput``."""

from __future__ import annotations

import argparse
from pathlib import Path


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
    ap.add_argument("--workers", type=int, default=3,
                    help="worker processes of 'ours' (3 keeps 2 cores busiest: a worker "
                         "waits on Redis and the broker between its parts)")
    ap.add_argument("--bridges", type=int, default=1, help="bridges of 'ours'")
    ap.add_argument("--scaling", default="1x1,2x1,3x1,4x1,1x2,2x2,3x2,4x2",
                    help="WORKERSxBRIDGES cells to measure ('' for none)")
    ap.add_argument("--latency-rate", type=float, default=10_000.0)
    ap.add_argument("--latency-seconds", type=float, default=15.0)
    ap.add_argument("--pool", choices=["solo", "prefork", "threads"], default="solo",
                    help="solo: N worker processes; prefork: one pool of N processes")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="TRACKER_BATCH_SIZE for the bridges (default: the project's)")
    ap.add_argument("--linger-ms", type=int, default=None,
                    help="TRACKER_LINGER_MS for the bridges (default: the project's)")
    ap.add_argument("--redis", choices=["shared", "split"], default="shared",
                    help="one redis-server for data, stream and broker, or one each")
    ap.add_argument("--aof", choices=["everysec", "always", "no"], default="everysec")
    ap.add_argument("--redis-transport", choices=["tcp", "unix"], default="tcp",
                    help="how every process (B's too) reaches Redis: loopback TCP, or a "
                         "unix socket as on a single host")
    ap.add_argument("--skip", default="", help="comma list of: a, b, latency, scaling")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 20,000 events, A on 500, no scaling matrix, 3 s latency")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--json-only", action="store_true", help="print nothing but errors")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep Redis data and logs here (default: a temporary directory)")
    return ap
