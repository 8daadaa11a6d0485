"""The read API benchmark runs end to end on a small board (not timed: figures are not checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_api_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.api", "--players", "3000", "--seconds", "1",
         "--rounds", "1", "--warmup", "1", "--workers", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| rank of a player |" in proc.stdout and "over a unix socket" in proc.stdout
    assert "| one round trip (/ready: PING) |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["players"] == 3000 and result["memory"]["per_member"] > 0
    assert set(result["transports"]) == {"tcp", "unix"}
    for endpoints in result["transports"].values():
        assert all(run["rps"] > 0 for run in endpoints.values())


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_api_benchmark_of_a_board_that_breaks_ties_by_time(tmp_path: Path) -> None:
    """wrk counts every non-2xx answer as a failure, so every route answered the board."""
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.api", "--players", "3000", "--seconds", "1",
         "--rounds", "1", "--warmup", "1", "--workers", "1", "--redis-transport", "tcp",
         "--tie-break", "earliest", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "tie_break earliest" in proc.stdout
    result = json.loads(out.read_text())
    assert result["tie_break"] == "earliest" and result["distinct_scores"] > 10
    assert all(run["rps"] > 0 for run in result["transports"]["tcp"].values())
