"""Smoke test: the app as deployed, ``gunicorn -c python:api.gunicorn_conf "api:create_app()"``,
over real HTTP."""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import re
import shutil
import socket
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

from tests.api.conftest import AUDIENCE, ISSUER, SECRET, Feed, Token
from tests.conftest import TEST_PRODUCTS
from tests.support.redis_server import free_port
from tests.support.varcade import game_over
from tests.test_compose import healthcheck_argv
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
    """The API under gunicorn on a free port, as deployed, until the block ends; its base URL."""
    port = free_port()
    env = dict(os.environ, TRACKER_REDIS_URL=settings.redis_url,
               TRACKER_PRODUCTS_FILE=str(TEST_PRODUCTS), **env)
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "api:create_app()"],
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
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            assert "tracker_build_info{version=" in resp.read().decode()  # a collector: kept


def test_the_compose_health_check_says_whether_the_api_reaches_redis(
        settings: Settings, tmp_path: Path) -> None:
    down = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    for reaches, redis_settings in ((True, settings), (False, down)):
        with serve(redis_settings, tmp_path) as base:
            check = healthcheck_argv("api", int(base.rsplit(":", 1)[1]))
            done = subprocess.run(check, capture_output=True, text=True, timeout=30)
        assert (done.returncode == 0) is reaches, done.stderr
        if not reaches:
            assert "503" in done.stderr


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_workers_keep_their_heartbeat_file_in_memory(settings: Settings, tmp_path: Path) -> None:
    with serve(settings, tmp_path, workers=2) as base:
        found = subprocess.run(["pgrep", "-f", "--", f"--bind {base.removeprefix('http://')}"],
                               capture_output=True, text=True).stdout.split()
        parent = {pid: Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1]
                  for pid in found}
        workers = [pid for pid in found if parent[pid] in found]  # the master's children
        assert len(workers) == 2, parent
        for pid in workers:
            opened = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
            assert any(name.startswith("/dev/shm/wgunicorn-") for name in opened), opened


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


def raw_answer(base: str, request: bytes) -> tuple[int, str, dict[str, str]]:
    """Status, Content-Type and JSON body of the answer to bytes sent as they are."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # gunicorn closes after its own errors
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return int(status_line.split()[1]), headers["Content-Type"], json.loads(body)


@pytest.mark.parametrize("request_bytes, status, code, says", [
    (b"GET /stats/pong/" + b"p" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     414, "uri_too_long", "Request Line is too large"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
     431, "request_header_fields_too_large", "limit request headers fields size"),
    (b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request", "Invalid HTTP Version"),
    (b"G\x01T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request", "Invalid"),
], ids=["long-path", "large-header", "bad-version", "bad-method"])
def test_requests_gunicorn_refuses_get_the_apis_json_errors(
        gunicorn: str, request_bytes: bytes, status: int, code: str, says: str) -> None:
    """Refused before the app sees them, by gunicorn's own limits: JSON all the same."""
    answer = raw_answer(gunicorn, request_bytes)
    assert answer[:2] == (status, "application/json")
    assert answer[2]["error"] == code and says in answer[2]["message"], answer[2]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed")
def test_prometheus_scrapes_private_metrics_with_its_token(
        settings: Settings, tmp_path: Path, token: Token) -> None:
    """TRACKER_PUBLIC_METRICS=false, and the scrape job of docker/prometheus/prometheus.yml
    with its ``authorization`` lines in: a real Prometheus scrapes with its token file, and
    a job without one is refused."""
    (tmp_path / "api-token").write_text(token(sub="prometheus", scope="metrics:read"))
    with serve(settings, tmp_path, TRACKER_PUBLIC_METRICS="false", TRACKER_JWT_SECRET=SECRET,
               TRACKER_JWT_ISSUER=ISSUER, TRACKER_JWT_AUDIENCE=AUDIENCE) as base:
        target = base.removeprefix("http://")
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [
            {"job_name": "with-token", "static_configs": [{"targets": [target]}],
             "authorization": {"credentials_file": str(tmp_path / "api-token")}},
            {"job_name": "without", "static_configs": [{"targets": [target]}]}]}
        (tmp_path / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        port = free_port()
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _, _, answer = get(f"http://127.0.0.1:{port}/api/v1/targets")
                    assert isinstance(answer, dict)
                    health = {t["labels"]["job"]: (t["health"], t["lastError"])
                              for t in answer["data"]["activeTargets"]}
                except (OSError, ValueError):  # not listening yet, or not ready (plain text)
                    health = {}
                if len(health) == 2 and "unknown" not in {h for h, _ in health.values()}:
                    break
                assert time.monotonic() < deadline, health
                time.sleep(0.5)
        finally:
            prometheus.terminate()
            prometheus.wait(20)
    assert health["with-token"] == ("up", "")
    assert health["without"][0] == "down" and "401" in health["without"][1]
