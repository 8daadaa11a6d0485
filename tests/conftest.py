"""Shared fixtures: a real redis-server per session, flushed per test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis_server import RedisServer
from tracker.products import Products, load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store

TEST_PRODUCTS = Path(__file__).with_name("products.toml")
DATA_DB, STREAM_DB, BROKER_DB = 0, 1, 2


def pytest_report_header() -> str:
    """Which server the tests start: the ``redis-server`` first on PATH (Valkey's in
    CI's Valkey pass)."""
    binary = shutil.which("redis-server")
    if binary is None:
        return "redis-server: not installed"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return f"redis-server: {binary}: {version.strip()}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), unix_socket=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    """Settings pointing at the test server; data and stream DBs start empty."""
    for db in (DATA_DB, STREAM_DB):
        redis_server.client(db).flushdb()
    return Settings(
        redis_url=redis_server.url(DATA_DB),
        stream_url=redis_server.url(STREAM_DB),
        broker_url=redis_server.url(BROKER_DB),
        products_file=str(TEST_PRODUCTS),
        block_ms=200,
        claim_idle_ms=2000,
        max_pending=2000,  # so that nothing waits in the broker as long as claim_idle_ms
    )


@pytest.fixture
def products(settings: Settings) -> Products:
    return load_products(settings.products_path)


@pytest.fixture
def data(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


@pytest.fixture
def stream(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.stream_url)


@pytest.fixture
def store(data: redis.Redis) -> Store:
    return Store(data, Keys("st"))


@pytest.fixture
def dead_letters(data: redis.Redis) -> DeadLetters:
    return DeadLetters(data, Keys("st"))
