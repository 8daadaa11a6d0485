"""``tracker stack``: the plan it runs, its supervision, and the whole stack end to end."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import click
import pytest
import redis

from tasks.stack_plan import Ports, child_env, pick_port, plan
from tasks.supervisor import Child, GaveUp, Supervisor
from tests.support.prometheus import alert_rules, dashboard_queries
from tests.support.redis_server import free_port
from tracker.demo import player_pool

PY = sys.executable


def sleeper(name: str, tmp_path: Path, code: str = "import time; time.sleep(60)",
            phase: int = 2) -> Child:
    return Child(name, [PY, "-c", code], dict(os.environ), tmp_path / f"{name}.log", phase)


def test_plan_launches_the_documented_command_lines(tmp_path: Path) -> None:
    env = child_env({"TRACKER_PRODUCTS_FILE": "/x/products.toml", "PATH": "/bin"}, 6400)
    assert env["TRACKER_REDIS_URL"] == "redis://127.0.0.1:6400/0"
    assert env["TRACKER_STREAM_URL"] == "redis://127.0.0.1:6400/1"
    assert env["TRACKER_BROKER_URL"] == "redis://127.0.0.1:6400/2"
    assert env["TRACKER_PRODUCTS_FILE"] == "/x/products.toml"  # the user's settings are kept
    children = plan(Ports(6400, 5001, 5556), env, ["default", "exrps"], tmp_path, 50.0)
    argv = {c.name: [Path(c.argv[0]).name, *c.argv[1:]] for c in children}
    assert list(argv) == ["redis", "bridge", "worker-default", "worker-exrps", "beat", "api",
                          "flower", "demo"]
    assert argv["beat"] == ["celery", "-A", "tasks", "beat", "--schedule",
                            str(tmp_path / "celerybeat-schedule"), "--loglevel=INFO"]
    assert argv["bridge"] == ["tracker", "bridge"]
    assert argv["worker-exrps"] == ["celery", "-A", "tasks", "worker", "-Q", "exrps",
                                    "-n", "exrps@%h", "--loglevel=INFO"]
    assert argv["api"] == ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind",
                           "127.0.0.1:5001", "api:create_app()"]
    assert argv["flower"] == ["celery", "-A", "tasks", "flower", "--address=127.0.0.1",
                              "--port=5556", "--purge_offline_workers=60"]
    assert argv["demo"] == ["tracker", "demo", "--rate", "50"]
    redis_args = " ".join(argv["redis"])
    assert "--port 6400" in redis_args and "--appendonly yes" in redis_args
    assert f"--dir {(tmp_path / 'redis').resolve()}" in redis_args
    by_name = {c.name: c for c in children}
    assert by_name["flower"].env["FLOWER_UNAUTHENTICATED_API"] == "true"
    assert "FLOWER_UNAUTHENTICATED_API" not in by_name["api"].env
    assert all(c.env["TRACKER_BROKER_URL"] == env["TRACKER_BROKER_URL"] for c in children)
    assert all(c.log_path == tmp_path / "logs" / f"{c.name}.log" for c in children)
    # stop order: demo, bridge, services, redis last
    assert by_name["demo"].phase < by_name["bridge"].phase < by_name["api"].phase \
        < by_name["redis"].phase
    assert "demo" not in {c.name for c in plan(Ports(1, 2, 3), env, ["default"], tmp_path, None)}


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed")
def test_plan_runs_prometheus_on_the_stacks_own_ports(tmp_path: Path) -> None:
    env = child_env({"PATH": os.environ["PATH"]}, 6400)
    children = plan(Ports(6400, 5001, 5556, 9091), env, ["default"], tmp_path, None)
    (prom,) = [c for c in children if c.name == "prometheus"]
    config = tmp_path / "prometheus" / "prometheus.yml"
    assert prom.argv == [shutil.which("prometheus"), f"--config.file={config}",
                         f"--storage.tsdb.path={tmp_path / 'prometheus' / 'data'}",
                         "--web.listen-address=127.0.0.1:9091",
                         "--storage.tsdb.retention.time=2d"]
    assert "127.0.0.1:5001" in config.read_text() and "127.0.0.1:5556" in config.read_text()


def test_ports_fall_back_when_taken_but_not_when_requested() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken_port = busy.getsockname()[1]
        with pytest.raises(click.ClickException, match="in use"):
            pick_port(taken_port, 5000, set(), "API")
        other = pick_port(None, taken_port, {1234}, "API")
        assert other != taken_port and other != 1234
    wanted = free_port()
    assert pick_port(wanted, 5000, set(), "API") == wanted
    assert pick_port(None, wanted, set(), "API") == wanted
    assert pick_port(None, wanted, {wanted}, "API") != wanted


def test_redis_child_persists_with_aof_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    redis_child = plan(Ports(port, 1, 2), child_env(os.environ, port), [], tmp_path, None)[0]
    (tmp_path / "redis").mkdir()
    supervisor = Supervisor([redis_child], echo=lambda _: None)
    redis_child.start()
    try:
        deadline = time.monotonic() + 10
        while not redis_child.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        client = redis.Redis(port=port)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.set("kept", "1")
    finally:
        supervisor.stop_all(timeout=10)
    assert redis_child.proc is not None and redis_child.proc.returncode == 0
    assert any((tmp_path / "redis").rglob("*.aof"))


def test_dead_children_are_reported_restarted_and_given_up_on(tmp_path: Path) -> None:
    said: list[str] = []
    crasher = sleeper("crasher", tmp_path, "print('boom'); raise SystemExit(3)")
    steady = sleeper("steady", tmp_path)
    supervisor = Supervisor([crasher, steady], echo=said.append, max_deaths=3, window=60)
    crasher.start()
    steady.start()
    try:
        assert crasher.proc is not None
        crasher.proc.wait(10)
        supervisor.check(now=100.0)
        assert "[stack] crasher exited with code 3; last lines" in said[0]
        assert "    boom" in said and said[-1] == "[stack] restarting crasher in 1 s"
        first = crasher.proc
        supervisor.check(now=100.5)
        assert crasher.proc is first, "not before its delay"
        supervisor.check(now=101.0)
        assert crasher.proc is not first, "restarted"
        crasher.proc.wait(10)
        supervisor.check(now=102.0)
        assert said[-1] == "[stack] restarting crasher in 2 s"
        supervisor.check(now=104.0)
        crasher.proc.wait(10)
        with pytest.raises(GaveUp, match="crasher died 3 times"):
            supervisor.check(now=105.0)
        assert steady.running and steady.deaths == []
        assert (tmp_path / "crasher.log").read_text().count("=== ") == 3  # one header per run
    finally:
        supervisor.stop_all(timeout=5)
    assert not steady.running


def test_stop_sends_sigterm_then_sigkill_in_phases(tmp_path: Path) -> None:
    stubborn = sleeper("stubborn", tmp_path, "import signal, time\n"
                       "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                       "time.sleep(60)", phase=0)
    polite = sleeper("polite", tmp_path, phase=3)
    said: list[str] = []
    supervisor = Supervisor([polite, stubborn], echo=said.append)
    for child in (stubborn, polite):
        child.start()
    while b"up" not in stubborn.output():
        time.sleep(0.05)
    began = time.monotonic()
    supervisor.stop_all(timeout=1.0)
    assert 1.0 <= time.monotonic() - began < 5
    assert said == ["[stack] stubborn did not stop in time: SIGKILL"]
    assert stubborn.proc is not None and stubborn.proc.returncode == -signal.SIGKILL
    assert polite.proc is not None and polite.proc.returncode == -signal.SIGTERM


# --- the whole stack ----------------------------------------------------------


def pids_with(arg: str) -> list[int]:
    """Processes whose command line contains ``arg`` (Linux /proc)."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if arg.encode() in cmdline.read_bytes().split(b"\0"):
                out.append(int(cmdline.parent.name))
        except OSError:
            continue
    return out


def get_json(url: str, token: str = "", allow_404: bool = False) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if allow_404 and exc.code == 404:
            return None
        raise


TRACKER = Path(sys.executable).with_name("tracker")


def check_prometheus(url: str, banner: list[str]) -> None:
    """The stack's Prometheus scrapes the API and Flower, evaluates every shipped rule,
    and holds the pipeline's series under the job names the rules read."""
    (page,) = [line.split()[1] for line in banner if line.strip().startswith("Alerts ")]
    assert page in (f"{url}/alerts", f"{url}/classic/alerts")
    with urllib.request.urlopen(page, timeout=5) as answer:  # the page printed answers
        assert answer.status == 200 and b"Alerts" in answer.read()
    deadline = time.monotonic() + 60
    while True:
        targets = get_json(f"{url}/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        rules = [r for g in get_json(f"{url}/api/v1/rules")["data"]["groups"]
                 for r in g["rules"]]
        applied = get_json(f"{url}/api/v1/query?query=" + quote(
            'sum(tracker_events_applied_total{job="stats-tracker-api", product="exrps"})'))
        online = get_json(f"{url}/api/v1/query?query=" + quote(
            'sum(flower_worker_online{job="flower"})'))["data"]["result"]
        if (health == {"stats-tracker-api": "up", "flower": "up"} and rules
                and all(r["health"] == "ok" and r["lastEvaluation"] > "2000" for r in rules)
                and applied["data"]["result"] and online):
            break
        assert time.monotonic() < deadline, (health, rules, applied, online)
        time.sleep(1)
    assert len(rules) == len(alert_rules())
    assert float(applied["data"]["result"][0]["value"][1]) > 0
    assert float(online[0]["value"][1]) == 2  # worker-default and worker-exrps
    firing = [r["name"] for r in rules if r["state"] == "firing"]
    assert not firing, f"a healthy stack fires {firing}"

    # every panel of the Grafana dashboard (docker/grafana) runs on it; the pipeline's
    # throughput shows once two scrapes are in
    for query in dashboard_queries():
        answer = get_json(f"{url}/api/v1/query?query=" + quote(query))
        assert answer["status"] == "success", (query, answer)
    rate = quote("sum by (product) (rate(tracker_events_applied_total[1m]))")
    while not [r for r in get_json(f"{url}/api/v1/query?query={rate}")["data"]["result"]
               if r["metric"].get("product") == "exrps" and float(r["value"][1]) > 0]:
        assert time.monotonic() < deadline + 60, "no throughput on the dashboard"
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.skipif(not TRACKER.exists(), reason="the project is not installed (pip install -e .)")
def test_tracker_stack_runs_everything_and_stops_it_all(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(4)]
    # Prometheus where installed (scripts/test installs it), as the stack itself decides
    monitored = shutil.which("prometheus") is not None
    proc = subprocess.Popen(
        [str(TRACKER), "stack", "--redis-port", str(ports[0]), "--api-port", str(ports[1]),
         "--flower-port", str(ports[2]), "--demo-rate", "400", "--status-interval", "1",
         "--var-dir", str(tmp_path / "var"),
         *(["--prometheus-port", str(ports[3])] if monitored else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    def pump() -> None:
        for line in proc.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []

    def wait_for(pattern: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} in output:\n{''.join(seen)}")

    try:
        wait_for(r"stats-tracker is running")
        stats_url = wait_for(r"/stats/exrps/").split()[0]
        api = f"http://127.0.0.1:{ports[1]}"
        assert stats_url.startswith(api)
        assert stats_url.rsplit("/", 1)[1] in {p.id for p in player_pool()}
        course_line = wait_for(r"Course +http://")
        wait_for(rf"Flower +http://127.0.0.1:{ports[2]}/")
        wait_for(r"stream \d+ entries .*exrps wins: \w{8} \d+")  # status line, board filled

        # every address the banner gives answers (the elo history: once the player played)
        printed = {m.group(0) for line in seen
                   for m in re.finditer(rf"{re.escape(api)}/[^\s)]*", line)}
        assert len(printed) >= 12 and f"{api}/products/exrps/boards/wins/archive" in printed
        failed = []
        for url in sorted(printed - {u for u in printed if u.endswith("/history")}):
            try:
                urllib.request.urlopen(url.split("#")[0], timeout=5).close()
            except urllib.error.HTTPError as exc:
                failed.append((url, exc.code, exc.read()[:200]))
        assert not failed

        board = get_json(f"{api}/leaderboards/top_ten/exrps")
        assert isinstance(board, list) and board
        assert {row["user_id"] for row in board} <= {p.id for p in player_pool()}
        assert isinstance(get_json(stats_url), dict)

        # The demo's arcade game submitted scores: its best board fills, and a player's
        # best is at most the sum of their runs.
        snake = f"{api}/products/snake/boards"
        assert f"{snake}/high_score/entries" in printed
        deadline = time.monotonic() + 60
        while True:  # (a run's two entries may be applied in two parts: then ask again)
            best = get_json(f"{snake}/high_score/entries?limit=100")["entries"]
            asked = "&".join(f"user_id={r['user_id']}" for r in best)
            total = {r["user_id"]: r["score"]
                     for r in get_json(f"{snake}/total/players?{asked}")["players"]}
            if best and all(0 < r["score"] <= total.get(r["user_id"], 0) for r in best):
                break
            assert time.monotonic() < deadline, f"snake's boards: {best} {total}"
            time.sleep(1)
        # its fastest board ranks equal bests by the run's milliseconds, the least first
        assert f"{snake}/fastest/entries" in printed
        fastest = get_json(f"{snake}/fastest/entries?limit=100")["entries"]
        assert fastest and all(isinstance(r["subscore"], int) for r in fastest)
        assert all((a["score"], -a["subscore"]) >= (b["score"], -b["subscore"])
                   for a, b in itertools.pairwise(fastest))

        # The demo course's logs went through the bridge; its instructor reads its report.
        fragment = dict(parse_qsl(urlsplit(course_line.split()[1]).fragment))
        course, token = fragment["course"], fragment["token"]
        analytics = f"{api}/courses/{quote(course)}/analytics"
        deadline = time.monotonic() + 60
        while (report := get_json(analytics, token, allow_404=True)) is None:
            assert time.monotonic() < deadline, "no course report"
            time.sleep(1)
        assert report["learners"] > 10 and report["videos"]
        learners = get_json(f"{analytics}/learners", token)["learners"]
        assert "instructor" not in {row["username"] for row in learners}

        if monitored:
            check_prometheus(f"http://127.0.0.1:{ports[3]}", seen)

        # the banner's export line points the operator commands at this stack
        (export,) = [line.split() for line in seen if "export TRACKER_REDIS_URL=" in line]
        status = subprocess.run([str(TRACKER), "status", "--json", "--timeout", "5"],
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ, **dict(a.split("=", 1) for a in export[1:])})
        assert status.returncode == 0, status.stderr
        got = json.loads(status.stdout)
        assert got["products"]["exrps"]["applied"] > 0 and got["dead_letters"] == 0
        assert sorted(w.split("@")[0] for w in got["workers"]) == ["default", "exrps"]

        # A child that dies is reported and restarted.
        (flower,) = pids_with(f"--port={ports[2]}")
        os.kill(flower, signal.SIGKILL)
        wait_for(r"\[stack\] flower exited with code -9", 10)
        wait_for(r"\[stack\] restarting flower in 1 s", 5)
        deadline = time.monotonic() + 10
        while not pids_with(f"--port={ports[2]}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pids_with(f"--port={ports[2]}") not in ([], [flower])

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(r"\[stack\] stopped\.", 5)
    assert not pids_with(str(ports[0])) and not pids_with(f"127.0.0.1:{ports[1]}")
    assert not pids_with(f"--port={ports[2]}") and not pids_with("celerybeat-schedule")
    assert not pids_with(f"--web.listen-address=127.0.0.1:{ports[3]}")
    assert {p.name for p in (tmp_path / "var" / "logs").iterdir()} == {
        "redis.log", "bridge.log", "worker-default.log", "worker-exrps.log", "beat.log",
        "api.log", "flower.log", "demo.log", *(["prometheus.log"] if monitored else [])}
    assert any((tmp_path / "var" / "redis").rglob("*.aof"))
