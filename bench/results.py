"""Results of a throughput run: the measured scenarios and the printed report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.cluster import OTHERS


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
    tasks: int = 0  # apply_part tasks the bridges published (their parts)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


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
                 f"(bench/products.toml); {res['cores']} cores; {res['server']} "
                 f"({args.redis}, AOF {args.aof}, over "
                 f"{getattr(args, 'redis_transport', 'tcp')}); batch {res['batch_size']}, "
                 f"linger {res.get('linger_ms', 0)} ms; pool {args.pool}")
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
