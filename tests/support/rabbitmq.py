"""A RabbitMQ virtual host of the test's own, on the RabbitMQ at 127.0.0.1:5672 (guest/guest).

``rabbitmqctl`` creates it and deletes it afterwards, with everything in it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

HOST, PORT = "127.0.0.1", 5672


def unavailable() -> str | None:
    """Why RabbitMQ cannot be used here, or None if it can."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        return f"RabbitMQ is not reachable on {HOST}:{PORT} ({exc})"
    return None


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", "--quiet", *args], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


@contextmanager
def vhost() -> Iterator[str]:
    """A new, empty vhost for guest; yields its broker URL."""
    name = f"stats-tracker-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{HOST}:{PORT}/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def queued(url: str) -> dict[str, tuple[int, str]]:
    """Messages (ready + unacknowledged) and type of every queue of the vhost, by name."""
    out = rabbitmqctl("list_queues", "-p", name_of(url), "--no-table-headers", "name",
                      "messages", "type")
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def idle(url: str) -> bool:
    return sum(n for n, _ in queued(url).values()) == 0


def close_connections(url: str) -> None:
    """Drop every client connection to the vhost: what a broker restart looks like to them."""
    rabbitmqctl("close_all_connections", "-p", name_of(url), "chaos test")
