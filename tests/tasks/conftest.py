"""Fixtures for fault tests: Redis servers of their own, that a test may kill and restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer

ServerFactory = Callable[..., RedisServer]


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a private redis-server (AOF on) by name; all are stopped after the test."""
    servers: list[RedisServer] = []

    def start(name: str, *extra_args: str) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{name}", extra_args=extra_args)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
