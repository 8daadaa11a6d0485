"""Smoke test: the app as deployed, ``gunicorn "api:create_app()"``, over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.conftest import Feed
from tests.conftest import TEST_PRODUCTS
from tests.support.redis_server import free_port
from tests.support.varcade import game_over
from tracker.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def get(url: str) -> tuple[int, str, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers.get_content_type(), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), json.loads(err.read())


@contextmanager
def serve(settings: Settings, tmp_path: Path, workers: int = 1,
          **env: str) -> Iterator[str]:
    """``gunicorn "api:create_app()"`` on a free port, until the block ends; its base URL."""
    port = free_port()
    env = dict(os.environ, TRACKER_REDIS_URL=settings.redis_url,
               TRACKER_PRODUCTS_FILE=str(TEST_PRODUCTS), **env)
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "api:create_app()"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture
def gunicorn(settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serve(settings, tmp_path) as base:
        yield base


def health_count(base: str) -> float:
    """``/health`` answers counted by the ``/metrics`` this request happens to reach."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    pattern = r'tracker_api_requests_total\{method="GET",route="/health",status="200"\} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_every_worker_in_multiprocess_mode(
        settings: Settings, tmp_path: Path) -> None:
    """As compose runs it: several workers, PROMETHEUS_MULTIPROC_DIR on an empty directory."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    with serve(settings, tmp_path, workers=3, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as base:
        before = health_count(base)
        with ThreadPoolExecutor(8) as pool:  # concurrent: every worker gets some
            list(pool.map(lambda _: urllib.request.urlopen(f"{base}/health", timeout=5).close(),
                          range(200)))
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 2  # several workers counted
        # whichever worker answers /metrics, it reports every worker's count
        assert {health_count(base) - before for _ in range(6)} == {200.0}


def test_gunicorn_serves_the_app(gunicorn: str, feed: Feed) -> None:
    feed("pong", [game_over("pong", "p1", "p2"), game_over("pong", "p1", "p3")])
    assert get(f"{gunicorn}/health") == (200, "application/json", {"status": "ok"})
    assert get(f"{gunicorn}/ready") == (200, "application/json", {"status": "ready"})
    assert get(f"{gunicorn}/leaderboards/top_ten/pong") == (200, "application/json", [
        {"user_id": "p1", "score": 2.0},
        {"user_id": "p3", "score": 0.0},
        {"user_id": "p2", "score": 0.0},
    ])
    assert get(f"{gunicorn}/stats/pong/p1") == (
        200, "application/json", {"games": "2", "wins": "2", "losses": "0"})
    assert get(f"{gunicorn}/products/pong/boards/wins/players/p2?ties=dense") == (
        200, "application/json", {"product_id": "pong", "board": "wins", "ties": "dense",
                                  "size": 3, "user_id": "p2", "score": 0.0, "rank": 2,
                                  "percentile": 0.0})
    status, ctype, spec = get(f"{gunicorn}/openapi.json")
    assert status == 200 and isinstance(spec, dict) and spec["openapi"].startswith("3.")
    with urllib.request.urlopen(f"{gunicorn}/metrics", timeout=5) as resp:
        assert 'route="/products/<product_id>/boards/<board>/players/<user_id>"' in (
            resp.read().decode())
    with urllib.request.urlopen(f"{gunicorn}/docs/", timeout=5) as resp:
        assert resp.status == 200 and b"swagger-ui" in resp.read()
    # a portal polling the top ten: 304 with no body while the board is unchanged
    host, port = gunicorn.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/leaderboards/top_ten/pong")
    first = conn.getresponse()
    etag, _ = first.getheader("ETag"), first.read()
    conn.close()
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/leaderboards/top_ten/pong", headers={"If-None-Match": etag})
    again = conn.getresponse()
    assert (again.status, again.read(), again.getheader("ETag")) == (304, b"", etag)
    assert again.getheader("Content-Type") is None
    conn.close()
    status, ctype, body = get(f"{gunicorn}/leaderboards/top_ten/nope")
    assert (status, ctype) == (404, "application/json")
    assert isinstance(body, dict) and body["error"] == "unknown_product"
    status, ctype, body = get(f"{gunicorn}/leaderboards/top_ten/pong/")
    assert (status, ctype) == (404, "application/json")
