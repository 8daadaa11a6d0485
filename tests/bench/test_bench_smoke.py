"""The benchmark's quick mode runs end to end and accounts for every event.

Timing is never asserted: this machine's speed is not a test result. What is
asserted is that the harness works: every scenario drained, the boards,
stats and dedupe marks equal the independent count, and the numbers are sane.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import throughput


@pytest.mark.slow
def test_quick_benchmark_accounts_for_every_event(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = throughput.main(["--quick", "--events", "6000", "--a-events", "200",
                            "--latency-seconds", "2", "--json", str(out),
                            "--workdir", str(tmp_path / "work")])
    res = json.loads(out.read_text())
    runs = res["runs"]
    assert set(runs) == {"ours", "baseline_a", "baseline_b"}
    for name, run in runs.items():
        assert run["ok"], (name, run["problems"])
        assert run["seconds"] > 0, name
    assert runs["ours"]["events"] == runs["baseline_b"]["events"] == 6000
    assert runs["baseline_a"]["events"] == 200
    assert runs["ours"]["forwarded"] >= 6000  # the bridge handed every entry on
    assert all(v > 0 for v in runs["ours"]["rss_end_mib"].values())
    assert runs["ours"]["cpu_seconds"]["workers"] > 0

    lat = res["latency"]
    assert lat["ok"], lat["problems"]
    assert lat["measured"] > 0
    assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert code == 0
    report = capsys.readouterr().out
    assert "ours/A = " in report and "ours/B = " in report
    assert "latency XADD -> visible" in report and "RSS MiB" in report
