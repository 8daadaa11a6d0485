"""The benchmark's quick mode runs end to end and accounts for every event.

Timing is never asserted: this machine's speed is not a test result. What is
asserted is that the harness works: every scenario drained, the boards,
stats and dedupe marks equal the independent count, and the numbers are sane.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import kombu
import pytest
import redis

from bench import throughput
from bench.cluster import Servers


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


@pytest.mark.slow
def test_benchmark_over_unix_sockets(capsys: pytest.CaptureFixture[str]) -> None:
    """Every process (the producer's raw socket, workers, bridge, kombu, B) reaches Redis
    over its unix socket; the work dir is short, as a socket path must be."""
    work = Path(tempfile.mkdtemp(prefix="b-"))
    try:
        out = work / "bench.json"
        code = throughput.main(["--quick", "--events", "3000", "--skip", "a,latency",
                                "--redis-transport", "unix", "--json", str(out),
                                "--workdir", str(work / "w")])
        runs = json.loads(out.read_text())["runs"]
        assert set(runs) == {"ours", "baseline_b"}
        assert all(run["ok"] for run in runs.values()), runs
        assert code == 0
        assert "over unix" in capsys.readouterr().out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_servers_over_unix_sockets_hand_out_socket_urls() -> None:
    work = Path(tempfile.mkdtemp(prefix="b-"))
    servers = Servers.start(work, "shared", "no", transport="unix")
    try:
        assert servers.data_url.startswith("unix://") and servers.data_url.endswith("?db=0")
        assert servers.stream_url.endswith("?db=1")
        assert servers.broker_url.startswith("redis+socket://")
        redis.Redis.from_url(servers.stream_url).set("probe", "1")
        assert redis.Redis.from_url(servers.stream_url).get("probe") == b"1"
        assert servers.servers[0].client(1).get("probe") == b"1"  # the same DB over TCP
        with kombu.Connection(servers.broker_url) as conn:
            conn.SimpleQueue("probe").put({"x": 1})
        assert servers.servers[0].client(2).llen("probe") == 1  # kombu's DB 2, as over TCP
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
