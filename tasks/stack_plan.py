"""What ``tracker stack`` runs: its ports, its children's environment, and the command
line of each child (:func:`plan`), in start order."""

from __future__ import annotations

import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import redis

from tasks import prometheus
from tasks.supervisor import PHASE_BRIDGE, PHASE_DEMO, PHASE_REDIS, Child

HOST = "127.0.0.1"
APT_PROGRAMS = ("redis-server", "prometheus")  # not ours: Debian packages them
FORGET_WORKERS_S = 60  # Flower's --purge_offline_workers


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def pick_port(requested: int | None, preferred: int | None, taken: set[int], what: str) -> int:
    """The requested port (which must be free), else ``preferred`` if free, else any free one."""
    if requested is not None:
        if requested in taken or not port_free(requested):
            raise click.ClickException(f"{what} port {requested} is already in use")
        return requested
    if preferred is not None and preferred not in taken and port_free(preferred):
        return preferred
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


def executable(name: str) -> str:
    """A console script of this environment (next to python), else one on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        hint = (f"install it: sudo apt-get install {name} (scripts/run does it)"
                if name in APT_PROGRAMS else "install the project: pip install -e .")
        raise click.ClickException(f"{name} not found; {hint}")
    return found


def redis_env(redis_port: int) -> dict[str, str]:
    """The settings that point a process at our redis-server: data 0, stream 1, broker 2."""
    url = f"redis://{HOST}:{redis_port}"
    return {"TRACKER_REDIS_URL": f"{url}/0", "TRACKER_STREAM_URL": f"{url}/1",
            "TRACKER_BROKER_URL": f"{url}/2"}


def child_env(base: Mapping[str, str], redis_port: int) -> dict[str, str]:
    """The user's environment, pointed at our redis-server."""
    return {**base, **redis_env(redis_port), "PYTHONUNBUFFERED": "1"}


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if not with 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class Ports:
    redis: int
    api: int
    flower: int
    prometheus: int | None = None  # None: no Prometheus


def plan(ports: Ports, env: Mapping[str, str], queues: Sequence[str], var: Path,
         demo_rate: float | None) -> list[Child]:
    """Every child of the stack, in start order (``demo_rate`` None: no demo)."""
    logs = var / "logs"
    tracker, celery = executable("tracker"), executable("celery")
    redis_client = redis.Redis(host=HOST, port=ports.redis, socket_timeout=1)
    children = [
        Child("redis", [
            executable("redis-server"), "--port", str(ports.redis), "--bind", HOST,
            "--dir", str((var / "redis").resolve()), "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction",
        ], dict(env), logs / "redis.log", PHASE_REDIS, lambda c: bool(redis_client.ping())),
        Child("bridge", [tracker, "bridge"], dict(env), logs / "bridge.log", PHASE_BRIDGE),
    ]
    children += [
        Child(f"worker-{q}", [celery, "-A", "tasks", "worker", "-Q", q, "-n", f"{q}@%h",
                              "--loglevel=INFO"], dict(env), logs / f"worker-{q}.log",
              ready_check=lambda c: b" ready." in c.output())
        for q in queues
    ]
    # Celery beat: closes periods (their results stream) and catches analyses up
    children.append(Child("beat", [celery, "-A", "tasks", "beat", "--schedule",
                                   str(var / "celerybeat-schedule"), "--loglevel=INFO"],
                          dict(env), logs / "beat.log"))
    children += [
        Child("api", [executable("gunicorn"), "-c", "python:api.gunicorn_conf",
                      "--bind", f"{HOST}:{ports.api}", "api:create_app()"],
              dict(env), logs / "api.log",
              ready_check=lambda c: answers_http(f"http://{HOST}:{ports.api}/health")),
        # Flower forgets a worker a minute after its last heartbeat (one SIGKILLed too):
        # then flower_worker_online no longer counts it
        Child("flower", [celery, "-A", "tasks", "flower", f"--address={HOST}",
                         f"--port={ports.flower}", f"--purge_offline_workers={FORGET_WORKERS_S}"],
              {**env, "FLOWER_UNAUTHENTICATED_API": "true"}, logs / "flower.log",
              ready_check=lambda c: answers_http(f"http://{HOST}:{ports.flower}/")),
    ]
    if ports.prometheus is not None:
        children.append(Child(
            "prometheus", prometheus.command(executable("prometheus"), HOST, ports.prometheus,
                                             ports.api, ports.flower, var / "prometheus"),
            dict(env), logs / "prometheus.log",
            ready_check=lambda c: answers_http(f"http://{HOST}:{ports.prometheus}/-/ready")))
    if demo_rate is not None:
        children.append(Child("demo", [tracker, "demo", "--rate", f"{demo_rate:g}"], dict(env),
                              logs / "demo.log", PHASE_DEMO))
    return children
